package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/posthorn/posthorn/sasl"
)

// Service is one port to probe.
type Service struct {
	Name     string `json:"name"`  // smtp, submissions, submission, imap, imaps, pop3, pop3s
	Proto    string `json:"proto"` // smtp, imap, pop3
	Port     int    `json:"port"`
	Implicit bool   `json:"implicit_tls"`
}

// DefaultServices are the standard ports (RFC 5321, RFC 8314, RFC 6409,
// RFC 9051, RFC 1939).
func DefaultServices() []Service {
	return []Service{
		{"smtp", "smtp", 25, false},
		{"submissions", "smtp", 465, true},
		{"submission", "smtp", 587, false},
		{"imap", "imap", 143, false},
		{"imaps", "imap", 993, true},
		{"pop3", "pop3", 110, false},
		{"pop3s", "pop3", 995, true},
	}
}

// PortResult is what one port answered.
type PortResult struct {
	Service     Service  `json:"service"`
	Open        bool     `json:"open"`
	Failure     string   `json:"failure,omitempty"`
	Error       string   `json:"error,omitempty"`
	Banner      string   `json:"banner,omitempty"`
	CapsBefore  []string `json:"caps_before_tls,omitempty"`
	AuthBefore  []string `json:"auth_before_tls,omitempty"`
	StartTLS    bool     `json:"starttls"`
	TLS         *TLSInfo `json:"tls,omitempty"`
	CapsAfter   []string `json:"caps_after_tls,omitempty"`
	AuthAfter   []string `json:"auth_after_tls,omitempty"`
	TLSVersions []string `json:"tls_versions,omitempty"`
	RelayReply  string   `json:"relay_reply,omitempty"`
	OpenRelay   bool     `json:"open_relay,omitempty"`

	plainLoginBefore bool // IMAP LOGIN or POP3 USER usable before TLS
	capsRead         bool // the capabilities before TLS were read
}

// ServerOptions select what "server" does.
type ServerOptions struct {
	Services  []Service
	RelayTest bool // try relaying on the "smtp" service (port 25)
	Versions  bool // probe TLS 1.0–1.3 one by one
}

// CheckServer probes host on each service and reports.
func CheckServer(ctx context.Context, env *Env, host string, opts ServerOptions) *Report {
	r := &Report{Command: "server", Target: host}
	// The ports are probed at the same time, so filtered ones cost one
	// timeout in all rather than one each.
	results := make([]*PortResult, len(opts.Services))
	var wg sync.WaitGroup
	for i, svc := range opts.Services {
		wg.Go(func() { results[i] = probeService(ctx, env, host, svc, opts) })
	}
	wg.Wait()
	open := 0
	for _, pr := range results {
		if pr.Open {
			open++
		}
		serviceFindings(r, env, host, pr)
	}
	if open == 0 {
		r.problem(Error, "no-ports", host, "Check the host name (it should be your provider's mail server) and whether your network blocks outgoing mail ports.",
			"no mail port answered")
	}
	r.Details = results
	return r
}

func subject(svc Service) string { return fmt.Sprintf("%s/%d", svc.Name, svc.Port) }

func serviceFindings(r *Report, env *Env, host string, pr *PortResult) {
	subj := subject(pr.Service)
	if !pr.Open {
		switch pr.Failure {
		case "timeout":
			r.info("port-timeout", subj, "no answer (timeout): filtered by a firewall, or blocked by your network (port 25 often is)")
		case "refused":
			r.info("port-closed", subj, "connection refused: nothing listens here")
		default:
			r.info("port-failed", subj, "%s failure: %s", pr.Failure, pr.Error)
		}
		return
	}
	if pr.Error != "" {
		if pr.Failure == "tls" {
			r.problem(Error, "tls-handshake-failed", subj, "Look at the server's TLS settings and log: it needs a certificate and key it can read, and TLS 1.2 or 1.3 enabled.",
				"%s", pr.Error)
		} else {
			_, fix := failureKind(errString(pr.Error))
			if pr.Failure == "timeout" {
				fix = "The server accepts connections but does not answer in time: look at its log and load (or a firewall that inspects the protocol)."
			}
			if fix == "" {
				fix = "Look at the server's log for this connection."
			}
			r.problem(Error, "probe-failed", subj, fix, "%s: %s", pr.Failure, pr.Error)
		}
	}
	if pr.Banner != "" {
		r.ok("port-open", subj, "answers: %s", clip(pr.Banner, 100))
	}
	if !pr.Service.Implicit && !pr.StartTLS && pr.capsRead {
		r.problem(Error, "no-starttls", subj, "Configure a certificate and enable STARTTLS (RFC 3207, RFC 9051 §6.2.1, RFC 2595) on this port.",
			"STARTTLS is not offered: passwords and mail cross the network in the clear")
	}
	var weak []string
	for _, m := range pr.AuthBefore {
		if sasl.SendsSecret(m) {
			weak = append(weak, m)
		}
	}
	if pr.plainLoginBefore {
		weak = append(weak, map[string]string{"imap": "LOGIN command", "pop3": "USER/PASS"}[pr.Service.Proto])
	}
	if len(weak) > 0 && !pr.Service.Implicit {
		r.problem(Error, "plaintext-auth-before-tls", subj, "Offer password mechanisms only after STARTTLS (Postfix: smtpd_tls_auth_only = yes; Dovecot: disable_plaintext_auth = yes / auth_allow_cleartext = no).",
			"password authentication offered before TLS: %s", strings.Join(weak, ", "))
	}
	if pr.TLS != nil {
		tlsFindings(r, subj, host, pr.TLS, env.now())
	}
	if len(pr.AuthAfter) > 0 {
		r.info("auth-mechs", subj, "AUTH after TLS: %s", strings.Join(pr.AuthAfter, " "))
	} else if pr.Service.Name == "submission" || pr.Service.Name == "submissions" {
		if pr.TLS != nil {
			r.problem(Warn, "no-auth", subj, "Enable SMTP authentication on the submission ports, so mail programs can log in to send.",
				"no AUTH mechanisms offered after TLS")
		}
	}
	for _, v := range pr.TLSVersions {
		if v == "TLS 1.0" || v == "TLS 1.1" {
			r.problem(Warn, "old-tls", subj, "Disable TLS 1.0 and 1.1 (RFC 8996); allow TLS 1.2 and 1.3 only.", "%s accepted", v)
		}
	}
	if len(pr.TLSVersions) > 0 {
		r.info("tls-versions", subj, "TLS versions accepted: %s", strings.Join(pr.TLSVersions, ", "))
	}
	if pr.RelayReply != "" {
		if pr.OpenRelay {
			r.problem(Error, "open-relay", subj, "Accept mail only for your own domains, and relay for others only after authentication (Postfix: smtpd_relay_restrictions).",
				"OPEN RELAY: accepted a recipient at a foreign domain without authentication (%s)", pr.RelayReply)
		} else {
			r.ok("not-open-relay", subj, "refuses to relay: %s", pr.RelayReply)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func probeService(ctx context.Context, env *Env, host string, svc Service, opts ServerOptions) *PortResult {
	pr := &PortResult{Service: svc}
	addr := net.JoinHostPort(host, strconv.Itoa(svc.Port))
	p, err := session(ctx, env, host, addr, svc, nil, func(p *prober) error {
		if opts.RelayTest && svc.Name == "smtp" {
			reply, accepted, err := p.relayTest(env)
			if err != nil {
				return err
			}
			pr.RelayReply, pr.OpenRelay = reply, accepted
		}
		return nil
	})
	if p != nil { // what the connection showed before any failure
		pr.Open = p.connected
		pr.Banner = p.banner
		pr.CapsBefore, pr.AuthBefore = p.caps, p.auth
		pr.plainLoginBefore = p.plainLogin
		pr.StartTLS, pr.capsRead = p.starttls, p.capsDone
		if p.tlsState != nil {
			pr.TLS = inspectTLS(env, *p.tlsState, host)
			pr.CapsAfter, pr.AuthAfter = p.capsTLS, p.authTLS
		}
	}
	if err != nil {
		pr.Failure, _ = failureKind(err)
		var he *handshakeError
		if errors.As(err, &he) {
			pr.Failure = "tls"
		}
		pr.Error = err.Error()
		return pr
	}
	if opts.Versions && (svc.Implicit || pr.StartTLS) {
		for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13} {
			cfg := probeTLSConfig(host)
			cfg.MinVersion, cfg.MaxVersion = v, v
			if _, err := session(ctx, env, host, addr, svc, cfg, nil); err == nil {
				pr.TLSVersions = append(pr.TLSVersions, tls.VersionName(v))
			}
		}
	}
	return pr
}

// probeTLSConfig accepts any certificate (it is verified separately, so
// every problem is reported rather than the first) and offers every cipher
// suite crypto/tls has, so old servers are seen as they are.
func probeTLSConfig(host string) *tls.Config {
	var ids []uint16
	for _, cs := range tls.CipherSuites() {
		ids = append(ids, cs.ID)
	}
	for _, cs := range tls.InsecureCipherSuites() {
		ids = append(ids, cs.ID)
	}
	return &tls.Config{ServerName: host, InsecureSkipVerify: true, CipherSuites: ids, MinVersion: tls.VersionTLS10} //nolint:gosec // verified by inspectTLS
}

// clip shortens s for the report and drops control characters a server
// might send.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
