package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"
)

// prober speaks just enough SMTP, IMAP or POP3 to read the greeting and the
// capabilities, upgrade with STARTTLS and, for SMTP, try a relay. It is
// written against the wire rather than the library clients because it must
// see everything a server offers, including what a careful client would
// refuse to use.
type prober struct {
	*lineConn
	proto      string
	banner     string
	caps, auth []string
	plainLogin bool
	starttls   bool
	tlsState   *tls.ConnectionState
	capsTLS    []string
	authTLS    []string
	tag        int
	connected  bool
	capsDone   bool // the capabilities before TLS were read
}

var errNoStartTLS = errors.New("STARTTLS not offered")

// handshakeError is a failed TLS handshake (the certificate is not checked
// by the probe, so this is the server's TLS set-up or a version mismatch).
type handshakeError struct{ err error }

func (e *handshakeError) Error() string { return "TLS handshake: " + e.err.Error() }
func (e *handshakeError) Unwrap() error { return e.err }

// session runs one connection: greeting, capabilities, STARTTLS when offered
// (or the implicit TLS handshake), then fn, then a polite goodbye. tlsCfg
// nil means probeTLSConfig; fn nil means a TLS version probe, which fails
// without STARTTLS.
func session(ctx context.Context, env *Env, host, addr string, svc Service, tlsCfg *tls.Config, fn func(*prober) error) (p *prober, err error) {
	ctx, cancel := context.WithTimeout(ctx, env.timeout())
	defer cancel()
	conn, err := env.dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if tlsCfg == nil {
		tlsCfg = probeTLSConfig(host)
	}
	p = &prober{proto: svc.Proto, connected: true}
	if svc.Implicit {
		tc := tls.Client(conn, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return p, &handshakeError{err}
		}
		st := tc.ConnectionState()
		p.tlsState = &st
		conn = tc
	}
	p.lineConn = newLineConn(conn)
	if err := p.greeting(); err != nil {
		return p, ctxErr(ctx, err)
	}
	caps, err := p.capabilities(env)
	if err != nil {
		return p, ctxErr(ctx, err)
	}
	if svc.Implicit {
		p.capsTLS = caps
		p.authTLS = authMechs(p.proto, caps)
	} else {
		p.caps, p.capsDone = caps, true
		p.auth = authMechs(p.proto, caps)
		p.plainLogin = plainLoginOffered(p.proto, caps)
		p.starttls = hasStartTLS(p.proto, caps)
		if p.starttls {
			if err := p.startTLS(ctx, tlsCfg); err != nil {
				return p, ctxErr(ctx, err)
			}
			if p.capsTLS, err = p.capabilities(env); err != nil {
				return p, ctxErr(ctx, err)
			}
			p.authTLS = authMechs(p.proto, p.capsTLS)
		} else if fn == nil {
			return p, errNoStartTLS
		}
	}
	if fn != nil {
		if err := fn(p); err != nil {
			return p, ctxErr(ctx, err)
		}
	}
	p.quit()
	return p, nil
}

// ctxErr prefers the context's error when the connection was closed because
// the step ran out of time.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
	}
	return err
}

func (p *prober) greeting() error {
	switch p.proto {
	case "smtp":
		code, lines, err := p.smtpReply()
		if err != nil {
			return err
		}
		p.banner = fmt.Sprintf("%d %s", code, strings.Join(lines, " / "))
		if code != 220 {
			return &errProto{p.banner}
		}
	case "imap":
		l, err := p.readLine()
		if err != nil {
			return err
		}
		p.banner = l
		if !strings.HasPrefix(strings.ToUpper(l), "* OK") && !strings.HasPrefix(strings.ToUpper(l), "* PREAUTH") {
			return &errProto{l}
		}
	case "pop3":
		l, err := p.readLine()
		if err != nil {
			return err
		}
		p.banner = l
		if !strings.HasPrefix(l, "+OK") {
			return &errProto{l}
		}
	}
	return nil
}

// smtpReply reads a reply, at most 100 lines (RFC 5321 §4.2.1).
func (p *prober) smtpReply() (int, []string, error) {
	var lines []string
	for range 100 {
		l, err := p.readLine()
		if err != nil {
			return 0, nil, err
		}
		if len(l) < 3 {
			return 0, nil, &errProto{l}
		}
		var code int
		if _, err := fmt.Sscanf(l[:3], "%d", &code); err != nil {
			return 0, nil, &errProto{l}
		}
		text := ""
		if len(l) > 4 {
			text = l[4:]
		}
		lines = append(lines, text)
		if len(l) == 3 || l[3] == ' ' {
			return code, lines, nil
		}
	}
	return 0, nil, &errProto{"reply too long"}
}

func (p *prober) smtpCmd(cmd string) (int, []string, error) {
	if err := p.writeLine(cmd); err != nil {
		return 0, nil, err
	}
	return p.smtpReply()
}

// imapCmd sends a tagged command and returns the untagged lines and the
// tagged status line.
func (p *prober) imapCmd(cmd string) ([]string, string, error) {
	p.tag++
	tag := fmt.Sprintf("m%d", p.tag)
	if err := p.writeLine(tag + " " + cmd); err != nil {
		return nil, "", err
	}
	var untagged []string
	for range 1000 {
		l, err := p.readLine()
		if err != nil {
			return nil, "", err
		}
		if strings.HasPrefix(l, tag+" ") {
			return untagged, l[len(tag)+1:], nil
		}
		untagged = append(untagged, l)
	}
	return nil, "", &errProto{"too many lines"}
}

func (p *prober) pop3Cmd(cmd string, multi bool) (string, []string, error) {
	if err := p.writeLine(cmd); err != nil {
		return "", nil, err
	}
	status, err := p.readLine()
	if err != nil {
		return "", nil, err
	}
	if !strings.HasPrefix(status, "+OK") || !multi {
		return status, nil, nil
	}
	var lines []string
	for range 1000 {
		l, err := p.readLine()
		if err != nil {
			return "", nil, err
		}
		if l == "." {
			return status, lines, nil
		}
		lines = append(lines, strings.TrimPrefix(l, "."))
	}
	return "", nil, &errProto{"too many lines"}
}

func (p *prober) capabilities(env *Env) ([]string, error) {
	switch p.proto {
	case "smtp":
		name := env.HelloName
		if name == "" {
			name = "localhost"
		}
		code, lines, err := p.smtpCmd("EHLO " + name)
		if err != nil {
			return nil, err
		}
		if code != 250 {
			return nil, &errProto{fmt.Sprintf("EHLO: %d %s", code, strings.Join(lines, " "))}
		}
		return lines[1:], nil
	case "imap":
		untagged, status, err := p.imapCmd("CAPABILITY")
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(strings.ToUpper(status), "OK") {
			return nil, &errProto{"CAPABILITY: " + status}
		}
		for _, l := range untagged {
			if f := strings.Fields(l); len(f) > 1 && strings.EqualFold(f[1], "CAPABILITY") {
				return f[2:], nil
			}
		}
		return nil, nil
	case "pop3":
		status, lines, err := p.pop3Cmd("CAPA", true)
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(status, "+OK") {
			return nil, nil // RFC 1939 servers without CAPA
		}
		return lines, nil
	}
	return nil, nil
}

func authMechs(proto string, caps []string) []string {
	var mechs []string
	for _, c := range caps {
		f := strings.Fields(c)
		switch {
		case proto == "smtp" && len(f) > 0 && (strings.EqualFold(f[0], "AUTH") || strings.HasPrefix(strings.ToUpper(f[0]), "AUTH=")):
			if strings.HasPrefix(strings.ToUpper(f[0]), "AUTH=") {
				f = append([]string{"AUTH", f[0][5:]}, f[1:]...)
			}
			for _, m := range f[1:] {
				mechs = appendUniq(mechs, strings.ToUpper(m))
			}
		case proto == "imap" && len(c) > 5 && strings.EqualFold(c[:5], "AUTH="):
			mechs = appendUniq(mechs, strings.ToUpper(c[5:]))
		case proto == "pop3" && len(f) > 0 && strings.EqualFold(f[0], "SASL"):
			for _, m := range f[1:] {
				mechs = appendUniq(mechs, strings.ToUpper(m))
			}
		}
	}
	return mechs
}

func appendUniq(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

func hasCap(caps []string, name string) bool {
	for _, c := range caps {
		if f := strings.Fields(c); len(f) > 0 && strings.EqualFold(f[0], name) {
			return true
		}
	}
	return false
}

func hasStartTLS(proto string, caps []string) bool {
	switch proto {
	case "smtp", "imap":
		return hasCap(caps, "STARTTLS")
	case "pop3":
		return hasCap(caps, "STLS")
	}
	return false
}

// plainLoginOffered reports the protocol's own cleartext login: IMAP LOGIN
// without LOGINDISABLED (RFC 9051 §6.2.3), POP3 USER (RFC 2449 §6.1).
func plainLoginOffered(proto string, caps []string) bool {
	switch proto {
	case "imap":
		return len(caps) > 0 && !hasCap(caps, "LOGINDISABLED")
	case "pop3":
		return hasCap(caps, "USER")
	}
	return false
}

func (p *prober) startTLS(ctx context.Context, cfg *tls.Config) error {
	switch p.proto {
	case "smtp":
		code, lines, err := p.smtpCmd("STARTTLS")
		if err != nil {
			return err
		}
		if code != 220 {
			return &errProto{fmt.Sprintf("STARTTLS: %d %s", code, strings.Join(lines, " "))}
		}
	case "imap":
		_, status, err := p.imapCmd("STARTTLS")
		if err != nil {
			return err
		}
		if !strings.HasPrefix(strings.ToUpper(status), "OK") {
			return &errProto{"STARTTLS: " + status}
		}
	case "pop3":
		status, _, err := p.pop3Cmd("STLS", false)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(status, "+OK") {
			return &errProto{"STLS: " + status}
		}
	}
	// Whatever was buffered before the handshake is dropped with the
	// old reader (RFC 3207 §4.2: discard knowledge from before TLS).
	tc := tls.Client(p.conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return &handshakeError{err}
	}
	st := tc.ConnectionState()
	p.tlsState = &st
	p.lineConn = newLineConn(tc)
	return nil
}

// relayTest asks the server to take mail from one reserved domain to another
// (RFC 2606 example.com, RFC 6761 .invalid), without authentication, and
// stops before DATA: nothing is ever sent. A 2xx reply to RCPT means the
// server would relay for anyone.
func (p *prober) relayTest(env *Env) (reply string, accepted bool, err error) {
	code, lines, err := p.smtpCmd("MAIL FROM:<mailcheck-relay-test@example.com>")
	if err != nil {
		return "", false, err
	}
	if code/100 != 2 {
		return fmt.Sprintf("MAIL refused: %d %s", code, strings.Join(lines, " ")), false, nil
	}
	code, lines, err = p.smtpCmd("RCPT TO:<mailcheck-relay-test@relay-test.example.invalid>")
	if err != nil {
		return "", false, err
	}
	reply = fmt.Sprintf("%d %s", code, strings.Join(lines, " "))
	_, _, _ = p.smtpCmd("RSET")
	return reply, code/100 == 2, nil
}

func (p *prober) quit() {
	switch p.proto {
	case "smtp":
		_, _, _ = p.smtpCmd("QUIT")
	case "imap":
		_, _, _ = p.imapCmd("LOGOUT")
	case "pop3":
		_, _, _ = p.pop3Cmd("QUIT", false)
	}
}
