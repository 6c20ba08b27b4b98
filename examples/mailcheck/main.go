// Command mailcheck runs the mail troubleshooting checklist and says, in
// plain words, what is wrong and how to fix it.
//
//	mailcheck server [-relay] [-port NAME=PORT]... HOST
//	mailcheck login [-all-mechs] [-password-file F] imap://user@host
//	mailcheck domain [-selector S]... [-ip ADDR]... example.org
//	mailcheck roundtrip [-from A] [-to A] [-wait D] smtp://user@host imap://user@host
//
// Common flags: -json (a report for scripts), -timeout (each network step),
// -resolver ADDR (DNS server), -ca FILE (extra trusted roots, PEM).
//
// The exit code is 0 when nothing is wrong, 1 when a problem was found and 2
// for a usage error.
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `usage:
  mailcheck server [flags] HOST      ports, TLS, certificates, AUTH, relaying
  mailcheck login [flags] URL        log in: imap://user@host, smtp://, pop3:// (imaps, submissions, pop3s)
  mailcheck domain [flags] DOMAIN    MX, SPF, DMARC, DKIM, MTA-STS, TLS-RPT, DANE, blocklists
  mailcheck roundtrip [flags] SMTP-URL IMAP-URL   send a test message, read it back, show delay and Authentication-Results
Run "mailcheck COMMAND -h" for the flags of a command.
`

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// common are the flags every command has.
type common struct {
	json     bool
	timeout  time.Duration
	resolver string
	caFile   string
	helo     string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.BoolVar(&c.json, "json", false, "write the report as JSON")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "time limit of each network step")
	fs.StringVar(&c.resolver, "resolver", "", "DNS server to ask (host:port or IP); default from /etc/resolv.conf")
	fs.StringVar(&c.caFile, "ca", "", "PEM file of additional trusted root certificates")
	fs.StringVar(&c.helo, "helo", "", "name to send with EHLO (default: this host's name)")
}

func (c *common) env() (*Env, error) {
	env := &Env{Timeout: c.timeout, HelloName: c.helo}
	if env.HelloName == "" {
		env.HelloName, _ = os.Hostname()
	}
	if c.resolver != "" {
		// Host names are resolved through -resolver for every connection.
		cl, err := newDNSClient(c)
		if err != nil {
			return nil, err
		}
		env.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if _, err := netip.ParseAddr(host); err != nil {
				ips, err := cl.LookupNetIP(ctx, "ip", host)
				if err != nil {
					return nil, err
				}
				if len(ips) == 0 {
					return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
				}
				addr = net.JoinHostPort(ips[0].String(), port)
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}
	}
	if c.caFile != "" {
		pem, err := os.ReadFile(c.caFile)
		if err != nil {
			return nil, err
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificates", c.caFile)
		}
		env.RootCAs = pool
	}
	return env, nil
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var (
		rep *Report
		c   common
		err error
	)
	fs := flag.NewFlagSet("mailcheck "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.register(fs)
	switch args[0] {
	case "server":
		var ports listFlag
		relay := fs.Bool("relay", false, "test whether port 25 relays for anyone (RCPT to a reserved domain, QUIT before DATA; nothing is sent)")
		noVersions := fs.Bool("no-versions", false, "skip probing TLS 1.0–1.3 one by one")
		fs.Var(&ports, "port", "check only these services, NAME=PORT (smtp, submissions, submission, imap, imaps, pop3, pop3s); repeatable")
		if err := fs.Parse(args[1:]); errors.Is(err, flag.ErrHelp) {
			return 0
		} else if err != nil || fs.NArg() != 1 {
			fmt.Fprint(stderr, "usage: mailcheck server [flags] HOST\n")
			return 2
		}
		svcs, perr := parsePorts(ports)
		if perr != nil {
			fmt.Fprintln(stderr, perr)
			return 2
		}
		env, eerr := c.env()
		if eerr != nil {
			fmt.Fprintln(stderr, eerr)
			return 2
		}
		rep = CheckServer(ctx, env, fs.Arg(0), ServerOptions{Services: svcs, RelayTest: *relay, Versions: !*noVersions})
	case "login":
		rep, err = runLogin(ctx, fs, &c, args[1:], stdin, stderr)
	case "domain":
		rep, err = runDomain(ctx, fs, &c, args[1:])
	case "roundtrip":
		rep, err = runRoundtrip(ctx, fs, &c, args[1:], stdin, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprint(stderr, usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if c.json {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if len(rep.Problems()) > 0 {
		return 1
	}
	return 0
}

// parsePorts turns -port NAME=PORT flags into services; none means all the
// standard ones.
func parsePorts(ports []string) ([]Service, error) {
	if len(ports) == 0 {
		return DefaultServices(), nil
	}
	var out []Service
	for _, p := range ports {
		name, num, ok := strings.Cut(p, "=")
		var svc *Service
		for _, s := range DefaultServices() {
			if s.Name == name {
				svc = &s
			}
		}
		if svc == nil {
			return nil, fmt.Errorf("-port %s: unknown service %q", p, name)
		}
		if ok {
			n, err := strconv.Atoi(num)
			if err != nil || n <= 0 || n > 65535 {
				return nil, fmt.Errorf("-port %s: bad port", p)
			}
			svc.Port = n
		}
		out = append(out, *svc)
	}
	return out, nil
}
