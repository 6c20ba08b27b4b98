package main

// Operations: structured logs of connections, logins, messages and queue
// events through the servers' Hooks; Prometheus metrics and a small
// admin API (list and lift authentication blocks) on a loopback HTTP
// port; the abuse limits of abuse.go.
//
//	GET  /metrics             the text exposition format, no auth
//	GET  /admin/blocks        the blocks in force (JSON)
//	POST /admin/unblock?what= lift a block (an address, a CIDR or a user)
//
// /admin needs "Authorization: Bearer TOKEN", the token the server writes
// to admin-token in the data directory (0600) at each start, so that only
// who can read the data directory (the "mailserver unblock" subcommand,
// run by the same user) can act.

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/internal/limit"
	"github.com/posthorn/posthorn/pop3/pop3server"
	"github.com/posthorn/posthorn/smtp/smtpqueue"
	"github.com/posthorn/posthorn/smtp/smtpserver"
)

// opsConfig is what the operations flags set.
type opsConfig struct {
	// Metrics is the metrics and admin HTTP address ("" turns it off);
	// loopback only unless MetricsPublic.
	Metrics       string
	MetricsPublic bool
	// ShutdownTimeout bounds the graceful shutdown (shutdown.go).
	ShutdownTimeout time.Duration
	// Abuse is the authentication throttle and the submission limits.
	Abuse abuseConfig
}

func defaultOpsConfig() opsConfig {
	return opsConfig{Metrics: "127.0.0.1:9125", ShutdownTimeout: 30 * time.Second, Abuse: defaultAbuseConfig()}
}

// opsFlags registers the flags of o on fs.
func opsFlags(fs *flag.FlagSet, o *opsConfig) {
	fs.StringVar(&o.Metrics, "metrics", o.Metrics, `Prometheus metrics (/metrics) and admin API (/admin) listen address ("" turns it off; loopback only without -metrics-public)`)
	fs.BoolVar(&o.MetricsPublic, "metrics-public", o.MetricsPublic, "allow the metrics address to be other than loopback")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", o.ShutdownTimeout, "on SIGTERM or SIGINT, how long transactions in flight (SMTP DATA, IMAP APPEND) may take to finish before their connections are cut")
	abuseFlags(fs, &o.Abuse)
}

// ops is the operations side of a running server.
type ops struct {
	log     *slog.Logger
	m       *metrics
	abuse   *abuse
	token   string // the admin API's bearer token
	httpSrv *http.Server
	queue   *smtpqueue.Queue // for the queue's admin routes (queueadmin.go); nil without one
}

// newOps makes the metrics, the throttle and the limits; dir is the data
// directory (admin-token goes there).
func newOps(cfg opsConfig, dir string, logger *slog.Logger) (*ops, error) {
	o := &ops{log: logger, m: newMetrics()}
	o.defineMetrics()
	o.abuse = newAbuse(cfg.Abuse, o)
	var b [16]byte
	rand.Read(b[:]) //nolint:errcheck // crypto/rand.Read never fails (Go 1.24+)
	o.token = hex.EncodeToString(b[:])
	if err := os.WriteFile(filepath.Join(dir, "admin-token"), []byte(o.token+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("admin token: %w", err)
	}
	return o, nil
}

func (o *ops) defineMetrics() {
	m := o.m
	m.define("posthorn_connections_total", counter, "Connections taken from the listeners, by protocol and whether they were served or refused (limits, shutdown).", "protocol", "result")
	m.define("posthorn_connections_open", gauge, "Connections being served, by protocol.", "protocol")
	m.define("posthorn_logins_total", counter, "Authentication attempts, by protocol, mechanism and result (success, failure, refused: blocked without a credential check).", "protocol", "mechanism", "result")
	m.define("posthorn_auth_failures_total", counter, "Failed authentication attempts (wrong credentials or blocked), by protocol.", "protocol")
	m.define("posthorn_auth_blocks", gauge, "Authentication blocks in force, by scope (network, user).", "scope")
	m.define("posthorn_auth_blocks_started_total", counter, "Authentication blocks started, by scope (network, user).", "scope")
	m.define("posthorn_messages_in_total", counter, "Messages received, by service (smtp: the MX, submission) and result (accepted, rejected).", "service", "result")
	m.define("posthorn_bytes_in_total", counter, "Message octets received, by service.", "service")
	m.define("posthorn_recipients_in_total", counter, "Recipients of accepted messages, by service.", "service")
	m.define("posthorn_submission_limited_total", counter, "Submitted mail refused by the per-account limits, by limit (recipients_per_hour, messages_per_day).", "limit")
	m.define("posthorn_messages_out_total", counter, "Recipients the outbound queue delivered (the next hop accepted them).")
	m.define("posthorn_deliveries_total", counter, "Outbound delivery attempts per recipient, by outcome (delivered, deferred, failed, expired) and SMTP reply code (0: no reply).", "outcome", "code")
	m.define("posthorn_queue_messages", gauge, "Messages in the outbound queue.")
	m.define("posthorn_queue_oldest_seconds", gauge, "Age of the oldest message in the outbound queue, in seconds.")
	m.define("posthorn_up", gauge, "1 while the server runs.")
	m.set("posthorn_up", 1)
	m.collect = append(m.collect, func(m *metrics) {
		var nets, users float64
		for _, b := range o.abuse.lim.Blocks() {
			if b.User != "" {
				users++
			} else {
				nets++
			}
		}
		m.set("posthorn_auth_blocks", nets, "network")
		m.set("posthorn_auth_blocks", users, "user")
	})
}

// watchQueue makes the queue's length and oldest age gauges read stats
// at each scrape; call it once the queue is open. Its events go to
// queueEvent (smtpqueue.Options.OnEvent).
func (o *ops) watchQueue(stats func() smtpqueue.Stats) {
	o.m.collect = append(o.m.collect, func(m *metrics) {
		s := stats()
		m.set("posthorn_queue_messages", float64(s.Queued))
		m.set("posthorn_queue_oldest_seconds", s.Oldest.Seconds())
	})
}

// queueEvent logs and counts a queue event; it is the queue's
// Options.OnEvent.
func (o *ops) queueEvent(ev smtpqueue.Event) {
	lvl := slog.LevelInfo
	if ev.Type == smtpqueue.EventFailed || ev.Type == smtpqueue.EventExpired {
		lvl = slog.LevelWarn
	}
	o.log.Log(context.Background(), lvl, "queue "+string(ev.Type), "event", "queue", "id", ev.ID, "rcpt", ev.Recipient,
		"destination", ev.Destination, "attempts", ev.Attempts, "code", ev.Code, "reply", ev.Reply)
	switch ev.Type {
	case smtpqueue.EventDelivered, smtpqueue.EventDeferred, smtpqueue.EventFailed, smtpqueue.EventExpired:
		o.m.add("posthorn_deliveries_total", 1, string(ev.Type), fmt.Sprint(ev.Code))
	}
	if ev.Type == smtpqueue.EventDelivered {
		o.m.add("posthorn_messages_out_total", 1)
	}
}

// connHooks returns the Connect and Disconnect hooks of protocol.
func (o *ops) connHooks(protocol string) (connect, disconnect func(smtpserver.ConnEvent)) {
	connect = func(ev smtpserver.ConnEvent) {
		if ev.Refused != "" {
			o.m.add("posthorn_connections_total", 1, protocol, "refused")
			o.log.Info("connection refused", "event", "connect", "protocol", protocol, "remote", ev.Remote, "why", ev.Refused)
			return
		}
		o.m.add("posthorn_connections_total", 1, protocol, "served")
		o.m.add("posthorn_connections_open", 1, protocol)
		o.log.Debug("connection", "event", "connect", "protocol", protocol, "remote", ev.Remote)
	}
	disconnect = func(ev smtpserver.ConnEvent) {
		o.m.add("posthorn_connections_open", -1, protocol)
		o.log.Debug("disconnection", "event", "disconnect", "protocol", protocol, "remote", ev.Remote, "duration", ev.Duration)
	}
	return connect, disconnect
}

// authHook logs and counts a login attempt of protocol. The event carries
// no secret: the address, the mechanism, the user name and the outcome.
func (o *ops) authHook(protocol string) func(smtpserver.AuthEvent) {
	return func(ev smtpserver.AuthEvent) {
		mech := ev.Mechanism
		if mech == "" {
			mech = "unknown"
		}
		var be *limit.BlockedError
		switch {
		case ev.Err == nil:
			o.m.add("posthorn_logins_total", 1, protocol, mech, "success")
			o.log.Info("login", "event", "login", "protocol", protocol, "remote", ev.Remote, "mechanism", mech, "user", ev.Username, "result", "success")
		case errors.As(ev.Err, &be):
			o.m.add("posthorn_logins_total", 1, protocol, mech, "refused")
			o.m.add("posthorn_auth_failures_total", 1, protocol)
			o.log.Warn("login refused: blocked", "event", "login", "protocol", protocol, "remote", ev.Remote, "mechanism", mech, "user", ev.Username, "result", "refused", "until", be.Until)
		default:
			o.m.add("posthorn_logins_total", 1, protocol, mech, "failure")
			o.m.add("posthorn_auth_failures_total", 1, protocol)
			o.log.Warn("login failed", "event", "login", "protocol", protocol, "remote", ev.Remote, "mechanism", mech, "user", ev.Username, "result", "failure", "err", ev.Err)
		}
	}
}

// messageHook logs and counts the end of a mail transaction of service.
func (o *ops) messageHook(service string) func(smtpserver.MessageEvent) {
	return func(ev smtpserver.MessageEvent) {
		o.m.add("posthorn_bytes_in_total", float64(ev.Size), service)
		if ev.Accepted > 0 {
			o.m.add("posthorn_messages_in_total", 1, service, "accepted")
			o.m.add("posthorn_recipients_in_total", float64(ev.Accepted), service)
			o.log.Info("message accepted", "event", "message", "service", service, "remote", ev.Remote, "from", ev.From.String(), "rcpts", ev.Accepted, "size", ev.Size)
			return
		}
		o.m.add("posthorn_messages_in_total", 1, service, "rejected")
		o.log.Info("message rejected", "event", "message", "service", service, "remote", ev.Remote, "from", ev.From.String(), "rcpts", ev.Recipients, "size", ev.Size)
	}
}

// instrument sets the hooks and the shared authentication throttle on
// the servers.
func (o *ops) instrument(mx, submission *smtpserver.Server, imapSrv *imapserver.Server, pop3Srv *pop3server.Server) {
	for _, s := range []struct {
		srv  *smtpserver.Server
		name string
	}{{mx, "smtp"}, {submission, "submission"}} {
		s.srv.Hooks.Connect, s.srv.Hooks.Disconnect = o.connHooks(s.name)
		s.srv.Hooks.Auth = o.authHook(s.name)
		s.srv.Hooks.Message = o.messageHook(s.name)
		s.srv.AuthThrottle = o.abuse.lim
	}
	imapSrv.Hooks.Connect, imapSrv.Hooks.Disconnect = o.connHooks("imap")
	imapSrv.Hooks.Auth = o.authHook("imap")
	imapSrv.AuthThrottle = o.abuse.lim
	pop3Srv.Hooks.Connect, pop3Srv.Hooks.Disconnect = o.connHooks("pop3")
	pop3Srv.Hooks.Auth = o.authHook("pop3")
	pop3Srv.AuthThrottle = o.abuse.lim
}

// listen binds the metrics address (checked to be loopback unless
// public); nil, nil when it is off.
func (o *ops) listen(cfg opsConfig) (net.Listener, error) {
	if cfg.Metrics == "" {
		return nil, nil
	}
	if !cfg.MetricsPublic {
		host, _, err := net.SplitHostPort(cfg.Metrics)
		if err != nil {
			return nil, fmt.Errorf("-metrics: %w", err)
		}
		if ip, err := netip.ParseAddr(host); (err != nil && host != "localhost") || (err == nil && !ip.IsLoopback()) {
			return nil, fmt.Errorf("-metrics %s is not a loopback address (use -metrics-public to allow it)", cfg.Metrics)
		}
	}
	l, err := net.Listen("tcp", cfg.Metrics)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return l, nil
}

// serve serves the metrics and the admin API on l until shutdown.
func (o *ops) serve(l net.Listener) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		o.m.write(w) //nolint:errcheck // the scraper went away
	})
	mux.HandleFunc("GET /admin/blocks", o.admin(func(w http.ResponseWriter, r *http.Request) {
		type block struct {
			Network  string    `json:"network,omitempty"`
			User     string    `json:"user,omitempty"`
			Failures int       `json:"failures"`
			Until    time.Time `json:"until"`
		}
		out := []block{}
		for _, b := range o.abuse.lim.Blocks() {
			nb := block{User: b.User, Failures: b.Failures, Until: b.Until}
			if b.Network.IsValid() {
				nb.Network = b.Network.String()
			}
			out = append(out, nb)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out) //nolint:errcheck
	}))
	mux.HandleFunc("POST /admin/unblock", o.admin(func(w http.ResponseWriter, r *http.Request) {
		what := strings.TrimSpace(r.FormValue("what"))
		if what == "" {
			http.Error(w, "what= is required: an address, a network (CIDR) or a user name", http.StatusBadRequest)
			return
		}
		n := o.abuse.lim.Unblock(what)
		o.log.Warn("unblocked", "event", "unblock", "what", what, "counters", n)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"what": what, "cleared": n}) //nolint:errcheck
	}))
	o.queueRoutes(mux)
	o.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(o.log.Handler(), slog.LevelWarn)}
	go o.httpSrv.Serve(l) //nolint:errcheck // ends at Shutdown
}

// admin checks the bearer token before h.
func (o *ops) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(o.token)) != 1 {
			http.Error(w, "admin token required (admin-token in the data directory)", http.StatusUnauthorized)
			return
		}
		h(w, r)
	}
}

func (o *ops) shutdown(ctx context.Context) {
	if o.httpSrv != nil {
		o.httpSrv.Shutdown(ctx) //nolint:errcheck
	}
}

// unblockMain is the "unblock" subcommand: it asks the running server to
// lift the authentication blocks of each argument (an IP address, a
// network in CIDR notation, or an account name), or with -list prints
// the blocks in force.
func unblockMain(args []string, out, errOut io.Writer) int {
	fs := flag.NewFlagSet("mailserver unblock", flag.ContinueOnError)
	fs.SetOutput(errOut)
	data := fs.String("data", defaultConfig().Data, "the running server's data directory (its admin-token is read)")
	addr := fs.String("metrics", defaultOpsConfig().Metrics, "the running server's -metrics address")
	list := fs.Bool("list", false, "list the blocks in force instead")
	fs.Usage = func() {
		fmt.Fprintln(errOut, "usage: mailserver unblock [-data DIR] [-metrics ADDR] (-list | ADDRESS|CIDR|USER...)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if !*list && fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	tok, err := os.ReadFile(filepath.Join(*data, "admin-token"))
	if err != nil {
		fmt.Fprintln(errOut, "mailserver unblock:", err, "(is the server running on this data directory?)")
		return 1
	}
	do := func(method, path string) ([]byte, error) {
		req, err := http.NewRequest(method, "http://"+*addr+path, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
		}
		return b, err
	}
	if *list {
		b, err := do("GET", "/admin/blocks")
		if err != nil {
			fmt.Fprintln(errOut, "mailserver unblock:", err)
			return 1
		}
		out.Write(b) //nolint:errcheck
		return 0
	}
	for _, what := range fs.Args() {
		b, err := do("POST", "/admin/unblock?what="+url.QueryEscape(what))
		if err != nil {
			fmt.Fprintln(errOut, "mailserver unblock:", err)
			return 1
		}
		out.Write(b) //nolint:errcheck
	}
	return 0
}
