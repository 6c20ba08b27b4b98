// Command mailserver is a complete mail server on one store: SMTP (an MX
// listener and submission with STARTTLS and implicit TLS), IMAP and POP3,
// all on 127.0.0.1, with no configuration needed.
//
//	go run ./examples/mailserver
//
// Everything it keeps lives in the data directory, ./maildata unless
// -data (data.go): the mail in a Maildir++ store, a self-signed
// certificate for localhost and 127.0.0.1 made at the first start, the
// demo account's random password and the DKIM key. A restart finds the
// account, its mail with the same UIDs, and the certificate as they
// were; -store memory keeps the mail in memory instead and writes
// nothing there. At start it prints the account, the certificate path
// and every listener. Mail sent to the MX port for an account of the
// local domain lands in that account's INBOX, where IMAP and POP3 see
// it; a message deleted over POP3 is gone from IMAP too, because the
// three servers share one store, as Dovecot serves IMAP and POP3 from
// one maildir.
// The wiring is the library's: the store is the IMAP Backend itself, and
// smtpserver.NewStoreBackend and pop3server.NewStoreBackend put SMTP
// delivery and POP3 over it.
//
// The program has no outbound queue: submission accepts only recipients of
// the local domain and answers others 550 5.7.1 (relaying is not
// available), so it can never be an open relay. The MX listener likewise
// accepts only local recipients.
//
// Flags change the addresses, the domain and the demo account; -h lists
// them.
//
// For a real domain, -config FILE reads a configuration file (config.go
// documents every key and its default; mailserver.example.json is a
// complete example): domains, aliases, catch-all and plus-addressing, the
// standard ports, a certificate reloaded on SIGHUP, accounts with
// SCRAM-hashed secrets (accounts.go), quotas, limits, log format. The
// MX then accepts only addresses an account or alias takes, and
// submission queues mail for other domains (relay.go). Subcommands manage
// it (subcommands.go):
//
//	mailserver useradd|userdel|passwd -config FILE NAME
//	mailserver queue -config FILE list|hold|release|delete|retry [ID]
//	mailserver check-config -config FILE
//	mailserver dns-records -config FILE
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/pop3/pop3server"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp/smtpserver"
)

// config is what the flags set.
type config struct {
	Hostname string
	Domain   string
	User     string
	Password string

	// Store is "maildir" (under Data, kept across restarts) or
	// "memory" (lost at exit); data.go.
	Store string
	Data  string

	SMTP, Submission, SubmissionTLS string
	IMAP, IMAPTLS                   string
	POP3, POP3TLS                   string

	// Web is the web inbox's address ("" turns it off); WebPublic allows
	// an address other than loopback.
	Web       string
	WebPublic bool

	// Trace, when not nil, receives a protocol trace of every session
	// (-trace: standard error), with passwords and AUTH exchanges
	// redacted and message bodies elided.
	Trace io.Writer

	// Auth is message authentication: inbound checks, DKIM signing
	// (auth.go).
	Auth authConfig

	// Site is the production configuration (-config, config.go); nil
	// for the zero-configuration demo.
	Site *siteConfig
	// ScramPlus offers the SCRAM -PLUS mechanisms (config.go says why
	// not by default).
	ScramPlus bool
	// LogFormat is "text" or "json"; LogLevel a slog level name.
	LogFormat, LogLevel string
	// Ops is metrics, the admin API and the abuse limits (ops.go,
	// abuse.go).
	Ops opsConfig
}

func defaultConfig() config {
	return config{
		Hostname:      "localhost",
		Domain:        "localhost",
		User:          "demo",
		Store:         storeMaildir,
		Data:          "maildata",
		SMTP:          "127.0.0.1:2525",
		Submission:    "127.0.0.1:2587",
		SubmissionTLS: "127.0.0.1:2465",
		IMAP:          "127.0.0.1:1143",
		IMAPTLS:       "127.0.0.1:1993",
		POP3:          "127.0.0.1:1110",
		POP3TLS:       "127.0.0.1:1995",
		Web:           "127.0.0.1:8025",
		Auth:          defaultAuthConfig(),
		Ops:           defaultOpsConfig(),
	}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "dns-records" && configPath(os.Args[2:]) != "" {
		os.Exit(dnsRecordsConfigured(os.Args[2:], os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == "dns-records" {
		os.Exit(dnsRecordsMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == "unblock" {
		os.Exit(unblockMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 {
		if code, ok := subcommand(os.Args[1], os.Args[2:], os.Stdin, os.Stdout, os.Stderr); ok {
			os.Exit(code)
		}
	}
	cfg := defaultConfig()
	configFile := configPath(os.Args[1:])
	if configFile != "" {
		if err := loadConfigFile(configFile, &cfg); err != nil {
			fmt.Fprintln(os.Stderr, "mailserver:", err)
			os.Exit(2)
		}
	}
	flag.StringVar(&configFile, "config", configFile, "configuration file (JSON; see config.go): a real domain instead of the demo")
	flag.BoolVar(&cfg.ScramPlus, "scram-plus", cfg.ScramPlus, "offer SCRAM-SHA-256-PLUS and SCRAM-SHA-1-PLUS (NeoMutt with libgsasl then fails to log in)")
	flag.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, `log format: "text" or "json"`)
	flag.StringVar(&cfg.Hostname, "hostname", cfg.Hostname, "server name in greetings and Received: fields")
	flag.StringVar(&cfg.Domain, "domain", cfg.Domain, "the local mail domain: mail to USER@DOMAIN is delivered")
	flag.StringVar(&cfg.User, "user", cfg.User, "demo account name")
	flag.StringVar(&cfg.Password, "password", "", "demo account password (default: random, made once and kept in the data directory, printed at start)")
	flag.StringVar(&cfg.Store, "store", cfg.Store, `mail store: "maildir" (under -data, kept across restarts) or "memory" (lost at exit)`)
	flag.StringVar(&cfg.Data, "data", cfg.Data, "data directory: mail, certificate, demo account, DKIM key")
	flag.StringVar(&cfg.SMTP, "smtp", cfg.SMTP, "SMTP (MX) listen address, STARTTLS offered")
	flag.StringVar(&cfg.Submission, "submission", cfg.Submission, "submission listen address (STARTTLS, AUTH required)")
	flag.StringVar(&cfg.SubmissionTLS, "submissions", cfg.SubmissionTLS, "submission listen address with implicit TLS")
	flag.StringVar(&cfg.IMAP, "imap", cfg.IMAP, "IMAP listen address (STARTTLS)")
	flag.StringVar(&cfg.IMAPTLS, "imaps", cfg.IMAPTLS, "IMAP listen address with implicit TLS")
	flag.StringVar(&cfg.POP3, "pop3", cfg.POP3, "POP3 listen address (STLS)")
	flag.StringVar(&cfg.POP3TLS, "pop3s", cfg.POP3TLS, "POP3 listen address with implicit TLS")
	flag.StringVar(&cfg.Web, "web", cfg.Web, `web inbox listen address ("" turns it off; loopback only without -web-public)`)
	flag.BoolVar(&cfg.WebPublic, "web-public", cfg.WebPublic, "allow the web inbox on an address other than loopback (it shows every account's mail)")
	trace := flag.Bool("trace", false, "write a protocol trace of every session to standard error (passwords and AUTH exchanges redacted, bodies elided)")
	authFlags(flag.CommandLine, &cfg.Auth)
	opsFlags(flag.CommandLine, &cfg.Ops)
	flag.Parse()
	if *trace {
		cfg.Trace = os.Stderr
	}
	if cfg.Site != nil && cfg.Domain != cfg.Site.domains[0] {
		fmt.Fprintln(os.Stderr, `mailserver: -domain does not go with -config: set "domains" in the file`)
		os.Exit(2)
	}

	if _, err := parseLevel(cfg.LogLevel); err != nil || (cfg.LogFormat != "" && cfg.LogFormat != "text" && cfg.LogFormat != "json") {
		fmt.Fprintln(os.Stderr, "mailserver: -log-format: want text or json")
		os.Exit(2)
	}
	logger := newLogger(os.Stderr, cfg.LogFormat, cfg.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, logger, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "mailserver:", err)
		os.Exit(1)
	}
}

// listeners are the bound sockets, by name; tests read the addresses.
type listeners map[string]net.Listener

// run starts every server and blocks until ctx is done, then shuts them
// down gracefully. ready, when not nil, is called with the listeners once
// all are bound.
func run(ctx context.Context, cfg config, logger *slog.Logger, out io.Writer, ready func(listeners, mailStore)) error {
	data, err := openData(cfg, logger)
	if err != nil {
		return err
	}
	defer func() {
		if err := data.close(); err != nil {
			logger.Warn("closing the store", "err", err)
		}
	}()
	cfg.Password = data.password
	store, certFile, tlsConfig := data.store, data.certFile, data.tlsConfig
	mauth, err := setupAuth(cfg, data.dir, logger)
	if err != nil {
		return err
	}

	// One SASL registry per protocol would work as well; the store
	// implements every credential interface sasl knows of that it can
	// serve (password, SCRAM keys derived at AddUser).
	op, err := newOps(cfg.Ops, data.dir, logger)
	if err != nil {
		return err
	}
	// SCRAM -PLUS only when asked for (config.go).
	auth := &sasl.Registry{Credentials: store, Hostname: cfg.Hostname, Mechanisms: mechanisms(cfg.ScramPlus)}

	mxBackend := smtpserver.NewStoreBackend(withJunkFiling(store), smtpserver.StoreOptions{
		Domains: []string{cfg.Domain}, Postmaster: cfg.User, Logger: logger,
		Authenticate: mauth.inbound,
	})
	subBackend := smtpserver.NewStoreBackend(store, smtpserver.StoreOptions{
		Domains: []string{cfg.Domain}, Postmaster: cfg.User, Logger: logger,
		RequireOwnSender: true, // RFC 6409 §6.1
		Inspect:          mauth.sign,
	})
	var imapBack imapserver.Backend = store
	pop3Back := pop3server.NewStoreBackend(store)
	users := func() []string { return []string{cfg.User} }
	var limits smtpserver.Limits
	var siteDir *directory
	if cfg.Site != nil {
		// A configured server: accounts, aliases, relay (site.go).
		cfg.Site.queueEvent = op.queueEvent
		st, err := startSite(ctx, cfg, data, mauth, logger)
		if err != nil {
			return err
		}
		if st.queue != nil {
			op.watchQueue(st.queue.Stats)
			op.queue = st.queue
		}
		defer st.stop()
		auth.Credentials = st.dir
		mxBackend, subBackend = st.mxBackend(), &submissionBackend{st}
		siteDir = st.dir
		pop3Back = pop3Backend{pop3Back, st.dir}
		users = st.dir.names
		limits = cfg.Site.smtpLimits()
	}
	// The account's delay and block before SASL checks credentials
	// (abuse.go).
	auth.Credentials = guardCredentials(auth.Credentials, op.abuse.lim)
	if siteDir != nil {
		// A login as NAME@DOMAIN counts against the account NAME, in any
		// case (site.go); IMAP LOGIN takes the same way.
		auth.Credentials = loginNames{auth.Credentials, siteDir}
		imapBack = imapBackend{store, siteDir, auth.Credentials.(sasl.PasswordVerifier)}
	}
	// Per-account limits on submitted mail (abuse.go).
	subBackend = limitedBackend{subBackend, op.abuse}

	mx := &smtpserver.Server{
		Hostname:  cfg.Hostname,
		TLSConfig: tlsConfig,
		Backend:   mxBackend,
		Mode:      smtpserver.ModeMX,
		Limits:    limits,
		Logger:    logger.With("server", "smtp"),
		Trace:     cfg.Trace,
	}
	// Submission offers AUTH only after TLS, SCRAM included: it takes no
	// mail without TLS anyway (RFC 8314 §3.3), and SCRAM in clear would
	// still send the user name unencrypted.
	subAuth := &sasl.Registry{Credentials: auth.Credentials, Hostname: auth.Hostname, Mechanisms: auth.Mechanisms, RequireTLS: true}
	submission := &smtpserver.Server{
		Hostname:  cfg.Hostname,
		TLSConfig: tlsConfig,
		Backend:   subBackend,
		Auth:      subAuth,
		Mode:      smtpserver.ModeSubmission,
		Limits:    limits,
		Logger:    logger.With("server", "submission"),
		Trace:     cfg.Trace,
	}
	imapSrv := &imapserver.Server{
		Hostname:  cfg.Hostname,
		TLSConfig: tlsConfig,
		Backend:   imapBack,
		Auth:      auth,
		Logger:    logger.With("server", "imap"),
		Trace:     cfg.Trace,
	}
	pop3Srv := &pop3server.Server{
		Hostname:  cfg.Hostname,
		TLSConfig: tlsConfig,
		Backend:   pop3Back,
		Auth:      auth,
		Logger:    logger.With("server", "pop3"),
		Trace:     cfg.Trace,
	}
	if cfg.Site != nil {
		cfg.Site.readLimits(imapSrv, pop3Srv) // "limits" (site.go)
	}

	op.instrument(mx, submission, imapSrv, pop3Srv)

	type service struct {
		name  string
		addr  string
		serve func(net.Listener) error
		what  string
	}
	services := []service{
		{"smtp", cfg.SMTP, mx.Serve, "SMTP (MX, STARTTLS)"},
		{"submission", cfg.Submission, submission.Serve, "submission (STARTTLS, AUTH required)"},
		{"submissions", cfg.SubmissionTLS, submission.ServeTLS, "submission (implicit TLS, AUTH required)"},
		{"imap", cfg.IMAP, imapSrv.Serve, "IMAP (STARTTLS)"},
		{"imaps", cfg.IMAPTLS, imapSrv.ServeTLS, "IMAP (implicit TLS)"},
		{"pop3", cfg.POP3, pop3Srv.Serve, "POP3 (STLS)"},
		{"pop3s", cfg.POP3TLS, pop3Srv.ServeTLS, "POP3 (implicit TLS)"},
	}
	ls := listeners{}
	closeAll := func() {
		for _, l := range ls {
			l.Close()
		}
	}
	services = slices.DeleteFunc(services, func(s service) bool { return s.addr == "" }) // turned off
	for _, s := range services {
		l, err := net.Listen("tcp", s.addr)
		if err != nil {
			closeAll()
			return fmt.Errorf("%s: %w", s.name, err)
		}
		ls[s.name] = l
	}

	web, err := startWeb(cfg, store, users, logger, ls)
	if err != nil {
		closeAll()
		return err
	}
	if ml, err := op.listen(cfg.Ops); err != nil {
		closeAll()
		return err
	} else if ml != nil {
		ls["metrics"] = ml
		op.serve(ml)
	}

	if data.persistent {
		fmt.Fprintf(out, "posthorn mailserver for @%s (data in %s: mail, account and certificate survive restarts)\n", cfg.Domain, data.dir)
	} else {
		fmt.Fprintf(out, "posthorn mailserver for @%s (in-memory store: mail is lost at exit)\n", cfg.Domain)
	}
	if cfg.Site == nil {
		// The login name is the account name, not the address: say both,
		// so nobody tries to log in as the address.
		fmt.Fprintf(out, "  account   login %s  password %s  (address %s@%s)\n", cfg.User, cfg.Password, cfg.User, cfg.Domain)
		fmt.Fprintf(out, "  cert      %s (self-signed; trust it in your client)\n", certFile)
	} else {
		siteBanner(out, cfg, data, certFile)
	}
	for _, s := range services {
		fmt.Fprintf(out, "  %-11s %-22s %s\n", s.name, ls[s.name].Addr(), s.what)
	}
	if web != nil {
		fmt.Fprintf(out, "  %-11s http://%-15s web inbox (live), JSON API under /api/v1\n", "web", ls["web"].Addr())
	}
	if ml := ls["metrics"]; ml != nil {
		fmt.Fprintf(out, "  %-11s http://%s/metrics (Prometheus); blocks: mailserver unblock -list\n", "metrics", ml.Addr())
	}
	mauth.banner(out, cfg)
	if cfg.Site == nil {
		printTry(out, cfg, ls, certFile)
	}

	errc := make(chan error, len(services))
	for _, s := range services {
		go func() {
			if err := s.serve(ls[s.name]); err != nil && !isClosed(err) {
				errc <- fmt.Errorf("%s: %w", s.name, err)
				return
			}
			errc <- nil
		}()
	}
	if ready != nil {
		ready(ls, store)
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), cfg.Ops.ShutdownTimeout)
	defer cancel()
	web.shutdown(shutCtx)
	defer op.shutdown(shutCtx)
	shutdownAll(shutCtx, logger, map[string]func(context.Context) error{
		"smtp": mx.Shutdown, "submission": submission.Shutdown, "imap": imapSrv.Shutdown, "pop3": pop3Srv.Shutdown,
	})
	return runErr
}

// isClosed reports whether err is one of the servers' "closed" errors.
func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) ||
		errors.Is(err, smtpserver.ErrServerClosed) ||
		errors.Is(err, imapserver.ErrServerClosed) ||
		errors.Is(err, pop3server.ErrServerClosed)
}

func randomPassword() string {
	var b [12]byte
	rand.Read(b[:]) //nolint:errcheck // crypto/rand.Read never fails (Go 1.24+)
	return strings.TrimRight(base64.RawURLEncoding.EncodeToString(b[:]), "=")
}
