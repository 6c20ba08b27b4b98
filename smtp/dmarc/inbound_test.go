package dmarc_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"net"
	"net/netip"
	"net/textproto"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/limit"
	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/authres"
	"github.com/posthorn/posthorn/smtp/dkim"
	"github.com/posthorn/posthorn/smtp/dmarc"
	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/posthorn/posthorn/smtp/smtpserver"
	"github.com/posthorn/posthorn/smtp/spf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checks is what an MX shares between sessions: one DNS client (and its
// cache) under SPF, DKIM and DMARC.
type checks struct {
	off      bool // a baseline server that checks nothing
	noDKIM   bool // SPF and DMARC only
	hostname string
	dns      *dns.Client
	spf      *spf.Checker
	dmarc    *dmarc.Evaluator
	mu       sync.Mutex
	stored   []string
}

func (c *checks) NewSession(ctx context.Context, info *smtpserver.ConnInfo) (smtpserver.Session, error) {
	return &checkSession{c: c, info: info}, nil
}

// checkSession evaluates SPF at MAIL FROM, verifies DKIM while DATA
// streams into the store, then evaluates DMARC and prepends
// Authentication-Results and Received-SPF.
type checkSession struct {
	c    *checks
	info *smtpserver.ConnInfo
	spf  *spf.Outcome
	buf  [8192]byte // copy buffer, the same with and without checks
}

func (s *checkSession) Mail(ctx context.Context, from smtp.Mailbox, opts *smtp.MailOptions) error {
	if s.c.off {
		return nil
	}
	ip := limit.AddrOf(s.info.RemoteAddr)
	s.spf = s.c.spf.CheckMailFrom(ctx, ip, s.info.Hostname, from.String())
	switch s.spf.Result {
	case spf.Fail:
		// RFC 7372 §3.2: X.7.23 SPF validation failed.
		return smtp.NewError(550, smtp.EnhancedCode{5, 7, 23}, "SPF check failed")
	case spf.TempError:
		// RFC 7372 §3.2: X.7.24 SPF validation error; RFC 7208 §8.6.
		return smtp.NewError(451, smtp.EnhancedCode{4, 7, 24}, "SPF temporary error")
	}
	return nil
}

func (s *checkSession) Rcpt(ctx context.Context, to smtp.Mailbox, opts *smtp.RcptOptions) error {
	return nil
}

func (s *checkSession) Data(ctx context.Context, r io.Reader) error {
	var store bytes.Buffer // the spool file in a real server
	if s.c.off {
		if _, err := io.CopyBuffer(struct{ io.Writer }{&store}, r, s.buf[:]); err != nil {
			return err
		}
		s.c.deliver(store.String())
		return nil
	}
	var results []dkim.Result
	if s.c.noDKIM {
		if _, err := io.CopyBuffer(struct{ io.Writer }{&store}, r, s.buf[:]); err != nil {
			return err
		}
	} else {
		v := dkim.NewVerifier(ctx, &dkim.VerifyOptions{Resolver: s.c.dns})
		if _, err := io.CopyBuffer(io.MultiWriter(&store, v), r, s.buf[:]); err != nil {
			return err
		}
		if err := v.Close(); err != nil {
			return err
		}
		results = v.Results()
	}
	hdr, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(store.Bytes()))).ReadMIMEHeader()
	if err != nil {
		return smtp.NewError(550, smtp.EnhancedCode{5, 6, 0}, "Malformed header")
	}
	author, err := dmarc.AuthorDomain(hdr.Get("From"))
	if err != nil {
		return smtp.NewError(550, smtp.EnhancedCode{5, 7, 1}, "No usable From address")
	}
	m := &dmarc.Message{From: author, SPF: dmarc.SPFResult{Domain: s.spf.Domain, Result: string(s.spf.Result)}}
	ar := authres.Header{AuthServID: s.c.hostname, Results: []authres.Result{s.spf.AuthResult()}}
	for _, res := range results {
		ar.Results = append(ar.Results, res.AuthResult())
		if res.Signature != nil {
			m.DKIM = append(m.DKIM, dmarc.DKIMResult{Domain: res.Signature.Domain, Selector: res.Signature.Selector, Result: string(res.Status)})
		}
	}
	ev := s.c.dmarc.Evaluate(ctx, m)
	ar.Results = append(ar.Results, ev.AuthResult())
	switch {
	case ev.Disposition == dmarc.DispositionReject:
		return smtp.NewError(550, smtp.EnhancedCode{5, 7, 1}, "Rejected by the DMARC policy of "+ev.PolicyDomain)
	case ev.Result == dmarc.TempError:
		return smtp.NewError(451, smtp.EnhancedCode{4, 7, 1}, "DMARC temporary error")
	}
	field, err := ar.Field()
	if err != nil {
		return err
	}
	// The new fields go on top (RFC 8601 §5, RFC 7208 §9.1), in one copy
	// of the message, as the baseline makes one.
	rs := s.spf.ReceivedSPF()
	var out strings.Builder
	out.Grow(len(field) + len(rs) + store.Len())
	out.WriteString(field)
	out.WriteString(rs)
	out.Write(store.Bytes())
	s.c.deliver(out.String())
	return nil
}

func (c *checks) deliver(msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stored = append(c.stored, msg)
	if len(c.stored) > 100 {
		c.stored = c.stored[1:]
	}
}

func (s *checkSession) Reset(ctx context.Context)       { s.spf = nil }
func (s *checkSession) Close(ctx context.Context) error { return nil }

// inbound starts a DNS server with example.com's SPF, DKIM and DMARC
// records and an MX whose sessions check them, and returns the MX's
// address, the backend and the DKIM key.
func inbound(t testing.TB, mode string) (string, *checks, ed25519.PrivateKey) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	rec, err := dkim.KeyRecordFor(key.Public())
	require.NoError(t, err)
	z := dnstest.NewServer(t)
	z.TXT("example.com", "v=spf1 ip4:127.0.0.1 -all")
	z.TXT("s1._domainkey.example.com", splitTXT(rec)...)
	z.TXT("_dmarc.example.com", "v=DMARC1; p=reject; rua=mailto:dmarc@example.com")
	z.TXT("forwarder.example", "v=spf1 +all")
	z.TXT("elsewhere.example", "v=spf1 ip4:192.0.2.0/24 -all")
	client := &dns.Client{Servers: []netip.AddrPort{z.Addr}, Timeout: time.Second, Attempts: 1}
	c := &checks{off: mode == "nochecks", noDKIM: mode == "spf+dmarc", hostname: "mx.example.org", dns: client,
		spf: &spf.Checker{Resolver: client, Receiver: "mx.example.org"}, dmarc: &dmarc.Evaluator{Resolver: client}}
	srv := &smtpserver.Server{Hostname: "mx.example.org", Backend: c, Limits: smtpserver.Limits{MaxMessages: -1}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return ln.Addr().String(), c, key
}

// splitTXT cuts a record into the 255-octet strings a TXT record holds.
func splitTXT(s string) []string {
	var out []string
	for len(s) > 255 {
		out = append(out, s[:255])
		s = s[255:]
	}
	return append(out, s)
}

func signedMessage(t testing.TB, key ed25519.PrivateKey, from string) []byte {
	msg := "From: Alerts <" + from + ">\r\nTo: user@example.org\r\nSubject: Your report\r\n" +
		"Date: Mon, 07 Dec 2026 20:00:00 +0000\r\nMessage-ID: <r1@example.com>\r\n\r\n" +
		strings.Repeat("The report is ready.\r\n", 100)
	var out bytes.Buffer
	require.NoError(t, dkim.Sign(&out, strings.NewReader(msg), &dkim.SignOptions{Domain: "example.com", Selector: "s1", Key: key}))
	return out.Bytes()
}

// An MX checking SPF at MAIL FROM and DKIM and DMARC while DATA streams,
// over real sockets: our client, our server, our DNS client against a DNS
// server on 127.0.0.1.
func TestInboundChecks(t *testing.T) {
	addr, c, key := inbound(t, "all")
	ctx := context.Background()
	send := func(from string, msg []byte) error {
		cl, err := smtpclient.Dial(ctx, addr, &smtpclient.Options{LocalName: "mail.example.com"})
		require.NoError(t, err)
		defer cl.Quit(ctx)
		_, err = cl.Send(ctx, &smtpclient.Envelope{From: from, To: []string{"user@example.org"}}, bytes.NewReader(msg), int64(len(msg)))
		return err
	}

	// Signed by example.com, sent from an address its SPF allows: both
	// align, DMARC passes.
	require.NoError(t, send("bounces@example.com", signedMessage(t, key, "alerts@example.com")))
	stored := c.stored[len(c.stored)-1]
	assert.True(t, strings.HasPrefix(stored, "Authentication-Results: mx.example.org;\r\n\tspf=pass smtp.mailfrom=bounces@example.com;\r\n\tdkim=pass header.d=example.com"), stored)
	assert.Contains(t, stored, "\tdmarc=pass header.from=example.com policy.dmarc=reject\r\nReceived-SPF: pass ")

	// Forwarded: SPF passes for the forwarder, not aligned; the DKIM
	// signature survives and aligns.
	require.NoError(t, send("fwd@forwarder.example", signedMessage(t, key, "alerts@example.com")))
	assert.Contains(t, c.stored[len(c.stored)-1], "dmarc=pass")

	// A forged From: example.com, unsigned, via a domain whose SPF
	// passes: DMARC fails and p=reject refuses it at DATA.
	forged := []byte("From: ceo@example.com\r\nTo: user@example.org\r\nSubject: wire money\r\n\r\nnow\r\n")
	err := send("x@forwarder.example", forged)
	var se *smtp.Error
	require.True(t, errors.As(err, &se), "%v", err)
	assert.Equal(t, 550, se.Code)
	assert.Contains(t, se.Message, "DMARC")

	// SPF fail at MAIL FROM: 550 5.7.23 before any data.
	err = send("x@elsewhere.example", forged)
	require.True(t, errors.As(err, &se), "%v", err)
	assert.Equal(t, 550, se.Code)
	assert.Equal(t, smtp.EnhancedCode{5, 7, 23}, se.Enhanced)
}

// BenchmarkInbound is one SMTP transaction (MAIL, RCPT, DATA of a 2.6 KB
// ed25519-signed message) over one connection: without checks, with SPF
// and DMARC (and the Authentication-Results and Received-SPF fields), and
// with SPF, DKIM and DMARC, all with a warm DNS cache. Client and server
// run in this process, so ns/op is both sides' CPU; the differences are
// the checks.
func BenchmarkInbound(b *testing.B) {
	for _, mode := range []string{"nochecks", "spf+dmarc", "spf+dkim+dmarc"} {
		b.Run(mode, func(b *testing.B) {
			addr, _, key := inbound(b, mode)
			msg := signedMessage(b, key, "alerts@example.com")
			ctx := context.Background()
			cl, err := smtpclient.Dial(ctx, addr, &smtpclient.Options{LocalName: "mail.example.com"})
			require.NoError(b, err)
			defer cl.Quit(ctx)
			env := &smtpclient.Envelope{From: "bounces@example.com", To: []string{"user@example.org"}}
			if _, err := cl.Send(ctx, env, bytes.NewReader(msg), int64(len(msg))); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			cpu0 := cpuTime()
			n := 0
			for b.Loop() {
				if _, err := cl.Send(ctx, env, bytes.NewReader(msg), int64(len(msg))); err != nil {
					b.Fatal(err)
				}
				n++
			}
			// CPU time, unlike ns/op, does not grow with the time spent
			// waiting for a core on a busy machine.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(n), "cpu-ns/op")
		})
	}
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEd25519Verify is the signature check inside the DKIM row of
// BenchmarkInbound, quoted apart as the issue asks for the RSA verify.
func BenchmarkEd25519Verify(b *testing.B) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	msg := bytes.Repeat([]byte("x"), 600) // a canonical header block's size
	sig := ed25519.Sign(key, msg)
	pub := key.Public().(ed25519.PublicKey)
	b.ReportAllocs()
	cpu0, n := cpuTime(), 0
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("verify")
		}
		n++
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(n), "cpu-ns/op")
}
