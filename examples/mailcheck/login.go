package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/posthorn/posthorn/imap/imapclient"
	"github.com/posthorn/posthorn/pop3/pop3client"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp/smtpclient"
)

// LoginTarget is what "login" connects to, from a URL such as
// imaps://bob@mail.example.org or smtp://bob@mail.example.org:2525.
type LoginTarget struct {
	Service  Service
	Host     string
	User     string
	Password string
}

// ParseLoginURL reads a login URL. The scheme picks protocol and default
// port: smtp and submission (587, STARTTLS), submissions and smtps (465),
// imap (143), imaps (993), pop3 (110), pop3s (995).
func ParseLoginURL(s string) (*LoginTarget, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	name := map[string]string{"smtp": "submission", "submission": "submission", "submissions": "submissions", "smtps": "submissions",
		"imap": "imap", "imaps": "imaps", "pop3": "pop3", "pop": "pop3", "pop3s": "pop3s", "pops": "pop3s"}[strings.ToLower(u.Scheme)]
	if name == "" {
		return nil, fmt.Errorf("%s: scheme must be smtp, submissions, imap, imaps, pop3 or pop3s", s)
	}
	if u.User == nil || u.User.Username() == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%s: want SCHEME://USER@HOST[:PORT]", s)
	}
	svcs, _ := parsePorts([]string{name})
	t := &LoginTarget{Service: svcs[0], Host: u.Hostname(), User: u.User.Username()}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return nil, fmt.Errorf("%s: bad port", s)
		}
		t.Service.Port = n
	}
	if pw, ok := u.User.Password(); ok {
		t.Password = pw
	}
	return t, nil
}

// LoginOptions select what "login" does.
type LoginOptions struct {
	// AllMechs tries every offered mechanism, each on its own connection.
	AllMechs bool
	// Lookup resolves the host name; nil means net.DefaultResolver.
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

// LoginResult is the -json detail of a login.
type LoginResult struct {
	Address    string            `json:"address,omitempty"`
	Mechanisms []string          `json:"mechanisms,omitempty"`
	Tried      map[string]string `json:"tried,omitempty"` // mechanism → "ok" or the error
	Mailboxes  []string          `json:"mailboxes,omitempty"`
	Messages   int               `json:"messages,omitempty"`
}

// CheckLogin logs in and reports the first step that fails: DNS, connecting,
// TLS, authentication.
func CheckLogin(ctx context.Context, env *Env, t *LoginTarget, opts LoginOptions) *Report {
	r := &Report{Command: "login", Target: fmt.Sprintf("%s://%s@%s:%d", t.Service.Name, t.User, t.Host, t.Service.Port)}
	res := &LoginResult{}
	r.Details = res
	subj := subject(t.Service)

	// Step 1: DNS.
	addr, err := netip.ParseAddr(t.Host)
	if err != nil {
		lctx, cancel := context.WithTimeout(ctx, env.timeout())
		lookup := opts.Lookup
		if lookup == nil {
			lookup = func(ctx context.Context, h string) ([]netip.Addr, error) {
				return net.DefaultResolver.LookupNetIP(ctx, "ip", h)
			}
		}
		addrs, err := lookup(lctx, t.Host)
		cancel()
		if err != nil || len(addrs) == 0 {
			_, fix := failureKind(err)
			if err == nil {
				err = errors.New("no addresses")
			}
			r.problem(Error, "login-dns", subj, fix, "DNS: cannot find %s: %v", t.Host, err)
			return r
		}
		addr = addrs[0]
		r.ok("login-dns", subj, "%s is %s", t.Host, addr)
	}
	res.Address = net.JoinHostPort(addr.String(), strconv.Itoa(t.Service.Port))

	// Steps 2–4 on one connection; with -all-mechs once per mechanism.
	mechs, err := loginOnce(ctx, env, t, r, res, "")
	if err != nil || !opts.AllMechs {
		return r
	}
	res.Tried = map[string]string{}
	for _, m := range mechs {
		sub := &Report{}
		if _, err := loginOnce(ctx, env, t, sub, res, m); err != nil {
			res.Tried[m] = err.Error()
			r.problem(Warn, "login-mech-failed", subj, "If this mechanism should work, check how the server stores the password (SCRAM needs its own stored keys).",
				"%s failed: %v", m, err)
		} else {
			res.Tried[m] = "ok"
			r.ok("login-mech-ok", subj, "%s works", m)
		}
	}
	return r
}

// loginConn is what the three clients have in common here.
type loginConn interface {
	Login(ctx context.Context, user, pass string) error
	Auth(ctx context.Context, sc sasl.Client) error
	TLSConnectionState() (tls.ConnectionState, bool)
	Close() error
}

type pop3Conn struct{ *pop3client.Client }

func (p pop3Conn) Auth(ctx context.Context, sc sasl.Client) error { return p.Client.Auth(ctx, sc) }

// loginOnce connects, sets up TLS and authenticates, with mech or (when
// empty) the strongest mechanism offered. It adds findings for each step
// and returns the mechanisms the server offers after TLS.
func loginOnce(ctx context.Context, env *Env, t *LoginTarget, r *Report, res *LoginResult, mech string) ([]string, error) {
	subj := subject(t.Service)
	ctx, cancel := context.WithTimeout(ctx, env.timeout())
	defer cancel()
	conn, err := env.dial(ctx, res.Address)
	if err != nil {
		kind, fix := failureKind(err)
		switch kind {
		case "refused":
			r.problem(Error, "login-refused", subj, fix, "connection refused by %s", res.Address)
		case "timeout":
			r.problem(Error, "login-timeout", subj, fix, "no answer from %s (timeout)", res.Address)
		default:
			r.problem(Error, "login-connect", subj, fix, "cannot connect to %s: %v", res.Address, err)
		}
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	defer conn.Close()
	tlsCfg := &tls.Config{ServerName: t.Host, RootCAs: env.RootCAs, MinVersion: tls.VersionTLS12}
	tlsFail := func(err error) error {
		_, fix := failureKind(err)
		if fix == "" {
			fix = "Check that this port speaks TLS the way the URL's scheme says (imaps/submissions/pop3s: TLS from the start; imap/smtp/pop3: STARTTLS)."
		}
		r.problem(Error, "login-tls", subj, fix, "TLS failed: %v", err)
		return err
	}
	if t.Service.Implicit {
		tc := tls.Client(conn, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, tlsFail(err)
		}
		conn = tc
	}
	var (
		c       loginConn
		offered []string
		after   func() error
	)
	protoFail := func(step string, err error) error {
		kind, fix := failureKind(err)
		if fix == "" {
			fix = "Check that the port belongs to this protocol and look at the server's log."
		}
		r.problem(Error, "login-"+step, subj, fix, "%s failed (%s): %v", step, kind, err)
		return err
	}
	switch t.Service.Proto {
	case "smtp":
		sc, err := smtpclient.NewClient(ctx, conn, &smtpclient.Options{TLSConfig: tlsCfg, LocalName: env.HelloName})
		if err != nil {
			return nil, protoFail("greeting", err)
		}
		if !t.Service.Implicit {
			if err := sc.StartTLS(ctx, tlsCfg); err != nil {
				return nil, tlsFail(err)
			}
		}
		if err := sc.Hello(ctx); err != nil {
			return nil, protoFail("EHLO", err)
		}
		if p, ok := sc.Extension("AUTH"); ok {
			offered = strings.Fields(strings.ToUpper(p))
		}
		c = sc
		after = func() error { return sc.Quit(ctx) }
	case "imap":
		ic, err := imapclient.NewClient(ctx, conn, &imapclient.Options{TLSConfig: tlsCfg})
		if err != nil {
			return nil, protoFail("greeting", err)
		}
		if !t.Service.Implicit {
			if err := ic.StartTLS(ctx, tlsCfg); err != nil {
				return nil, tlsFail(err)
			}
		}
		caps, err := ic.Capability(ctx)
		if err != nil {
			return nil, protoFail("CAPABILITY", err)
		}
		offered = authMechs("imap", caps)
		c = ic
		after = func() error {
			list, err := ic.List(ctx, "", "*", nil)
			if err != nil {
				return err
			}
			res.Mailboxes = res.Mailboxes[:0]
			for _, l := range list {
				res.Mailboxes = append(res.Mailboxes, l.Mailbox)
			}
			r.ok("imap-mailboxes", subj, "%d mailboxes: %s", len(list), strings.Join(res.Mailboxes, ", "))
			var limits []string
			for _, cp := range ic.Caps() {
				if strings.Contains(strings.ToUpper(cp), "LIMIT") {
					limits = append(limits, cp)
				}
			}
			if len(limits) > 0 {
				r.info("imap-limits", subj, "server limits: %s", strings.Join(limits, " "))
			}
			return ic.Logout(ctx)
		}
	case "pop3":
		pc, err := pop3client.NewClient(ctx, conn, &pop3client.Options{TLSConfig: tlsCfg})
		if err != nil {
			return nil, protoFail("greeting", err)
		}
		if !t.Service.Implicit {
			if err := pc.StartTLS(ctx, tlsCfg); err != nil {
				return nil, tlsFail(err)
			}
		}
		capa, err := pc.Capa(ctx)
		if err == nil {
			offered = capa.SASL()
			if capa.Has("USER") {
				offered = append(offered, "USER")
			}
		}
		c = pop3Conn{pc}
		after = func() error {
			n, _, err := pc.Stat(ctx)
			if err != nil {
				return err
			}
			res.Messages = n
			r.ok("pop3-stat", subj, "%d messages in the maildrop", n)
			return pc.Quit(ctx)
		}
	}
	defer c.Close()
	if cs, ok := c.TLSConnectionState(); ok {
		r.ok("login-tls", subj, "%s with a valid certificate for %s", tls.VersionName(cs.Version), t.Host)
	}
	res.Mechanisms = offered
	if mech == "" {
		err = c.Login(ctx, t.User, t.Password)
		mech = chosen(offered, c)
	} else if pc, ok := c.(pop3Conn); ok && mech == "USER" {
		err = pc.User(ctx, t.User, t.Password) // POP3 USER/PASS (RFC 1939 §7)
	} else {
		var sc sasl.Client
		cs, _ := c.TLSConnectionState()
		sc, err = sasl.Choose([]string{mech}, sasl.ClientOptions{Username: t.User, Password: t.Password, TLS: true,
			ChannelBinding: sasl.ChannelBindingFromTLS(&cs), Mechanisms: []string{mech}})
		if err == nil {
			err = c.Auth(ctx, sc)
		}
	}
	if err != nil {
		switch {
		case errors.Is(err, sasl.ErrAuthFailed):
			r.problem(Error, "login-auth", subj, "Check the user name (often the full address) and the password; some providers need an app password or IMAP/SMTP access enabled in their settings.",
				"authentication failed (%s): %v", mech, err)
		case errors.Is(err, sasl.ErrUnsupportedMechanism):
			r.problem(Error, "login-no-mech", subj, "Enable a password mechanism (PLAIN or SCRAM-SHA-256) on the server.",
				"no usable mechanism among %s", strings.Join(offered, " "))
		default:
			_, fix := failureKind(err)
			if fix == "" {
				fix = "Read the server's reply above; the server's log says more."
			}
			r.problem(Error, "login-auth-error", subj, fix, "login did not complete (%s): %v", mech, err)
		}
		return offered, err
	}
	r.ok("login-auth", subj, "logged in as %s with %s", t.User, mech)
	if err := after(); err != nil {
		r.problem(Warn, "login-after", subj, "Look at the server's log for this session.", "after login: %v", err)
	}
	return offered, nil
}

// chosen names the mechanism Login picks (for the report).
func chosen(offered []string, c loginConn) string {
	cs, ok := c.TLSConnectionState()
	opts := sasl.ClientOptions{Username: "u", Password: "p", TLS: ok}
	if ok {
		opts.ChannelBinding = sasl.ChannelBindingFromTLS(&cs)
	}
	if m, err := sasl.Choose(offered, opts); err == nil {
		if name, _, err := m.Start(); err == nil {
			return name
		}
	}
	if len(offered) == 0 || (len(offered) == 1 && offered[0] == "USER") {
		return "LOGIN/USER command"
	}
	return "?"
}

// readPassword takes the password from a file, the MAILCHECK_PASSWORD
// variable, or stdin: from a terminal with echo turned off by stty(1) (the
// tool uses only the standard library), from a pipe as the first line.
func readPassword(file string, stdin io.Reader, stderr io.Writer) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if pw, ok := os.LookupEnv("MAILCHECK_PASSWORD"); ok {
		return pw, nil
	}
	if f, ok := stdin.(*os.File); ok {
		restore, err := echoOff(f)
		if err != nil {
			return "", err
		}
		if restore != nil {
			fmt.Fprint(stderr, "Password: ")
			defer func() {
				restore()
				fmt.Fprintln(stderr)
			}()
		}
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("no password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// echoOff turns off the echo of the terminal f with stty(1) and returns the
// function that turns it on again; nil without error when f is not a
// terminal (a pipe, /dev/null).
func echoOff(f *os.File) (restore func(), err error) {
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil, nil
	}
	off := exec.Command("stty", "-echo")
	off.Stdin = f
	err = off.Run()
	if errors.Is(err, exec.ErrNotFound) {
		return nil, errors.New("stty(1) is missing, so echo cannot be turned off: use -password-file or MAILCHECK_PASSWORD")
	}
	if err != nil {
		return nil, nil // a character device that is not a terminal
	}
	return func() {
		on := exec.Command("stty", "echo")
		on.Stdin = f
		_ = on.Run()
	}, nil
}

func runLogin(ctx context.Context, fs *flag.FlagSet, c *common, args []string, stdin io.Reader, stderr io.Writer) (*Report, error) {
	allMechs := fs.Bool("all-mechs", false, "try every offered mechanism, each on a new connection (several failures may trip the server's limits)")
	pwFile := fs.String("password-file", "", "read the password from this file (else MAILCHECK_PASSWORD, else the terminal without echo, else stdin)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() != 1 {
		return nil, errors.New("usage: mailcheck login [flags] imap://user@host")
	}
	t, err := ParseLoginURL(fs.Arg(0))
	if err != nil {
		return nil, err
	}
	env, err := c.env()
	if err != nil {
		return nil, err
	}
	if t.Password == "" {
		if t.Password, err = readPassword(*pwFile, stdin, stderr); err != nil {
			return nil, err
		}
	}
	opts := LoginOptions{AllMechs: *allMechs}
	if c.resolver != "" {
		cl, err := newDNSClient(c)
		if err != nil {
			return nil, err
		}
		opts.Lookup = func(ctx context.Context, h string) ([]netip.Addr, error) { return cl.LookupNetIP(ctx, "ip", h) }
	}
	return CheckLogin(ctx, env, t, opts), nil
}
