package smtpserver_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/dkim"
	"github.com/posthorn/posthorn/smtp/dmarc"
	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/posthorn/posthorn/smtp/smtpserver"
	"github.com/posthorn/posthorn/smtp/spf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// authStore keeps each delivered message, header first, and whether the
// verdict asked for quarantine.
type authStore struct {
	mu   sync.Mutex
	msgs []string
	junk []bool
}

func (s *authStore) CheckQuota(ctx context.Context, user string, size int64) error { return nil }

func (s *authStore) DeliverMessage(ctx context.Context, users []string, body io.Reader, header func() []byte) ([]error, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	h := string(header())
	v := smtpserver.InboundVerdict(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, h+string(b))
	s.junk = append(s.junk, v != nil && v.Quarantine)
	return make([]error, len(users)), nil
}

func (s *authStore) last() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.msgs) == 0 {
		return "", false
	}
	return s.msgs[len(s.msgs)-1], s.junk[len(s.junk)-1]
}

func splitTXT(s string) []string {
	var out []string
	for len(s) > 255 {
		out = append(out, s[:255])
		s = s[255:]
	}
	return append(out, s)
}

// authMX starts a DNS server with the test zones and an MX delivering
// into a store through NewStoreBackend with Authenticate set.
func authMX(t *testing.T) (addr string, st *authStore, key ed25519.PrivateKey, z *dnstest.Server) {
	key = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	rec, err := dkim.KeyRecordFor(key.Public())
	require.NoError(t, err)
	z = dnstest.NewServer(t)
	z.TXT("example.com", "v=spf1 ip4:127.0.0.1 -all")
	z.TXT("s1._domainkey.example.com", splitTXT(rec)...)
	z.TXT("_dmarc.example.com", "v=DMARC1; p=reject")
	z.TXT("quarantined.example", "v=spf1 -all")
	z.TXT("_dmarc.quarantined.example", "v=DMARC1; p=quarantine")
	z.TXT("forwarder.example", "v=spf1 +all")
	z.TXT("elsewhere.example", "v=spf1 ip4:192.0.2.0/24 -all")
	client := &dns.Client{Servers: []netip.AddrPort{z.Addr}, Timeout: 300 * time.Millisecond, Attempts: 1}
	st = &authStore{}
	b := smtpserver.NewStoreBackend(st, smtpserver.StoreOptions{
		Domains: []string{"example.org"},
		Authenticate: &smtpserver.InboundAuth{
			AuthServID:    "mx.example.org",
			SPF:           &spf.Checker{Resolver: client, Receiver: "mx.example.org"},
			DKIM:          &dkim.VerifyOptions{Resolver: client},
			DMARC:         &dmarc.Evaluator{Resolver: client},
			RejectSPFFail: true,
			ApplyDMARC:    true,
		},
	})
	srv := &smtpserver.Server{Hostname: "mx.example.org", Backend: b}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return ln.Addr().String(), st, key, z
}

func authSend(t *testing.T, addr, from string, msg []byte) error {
	ctx := context.Background()
	cl, err := smtpclient.Dial(ctx, addr, &smtpclient.Options{LocalName: "mail.example.com"})
	require.NoError(t, err)
	defer cl.Quit(ctx)
	_, err = cl.Send(ctx, &smtpclient.Envelope{From: from, To: []string{"user@example.org"}}, bytes.NewReader(msg), int64(len(msg)))
	return err
}

func authSigned(t *testing.T, key ed25519.PrivateKey, head string) []byte {
	msg := head + "From: Alerts <alerts@example.com>\r\nTo: user@example.org\r\nSubject: Your report\r\n" +
		"Message-ID: <r1@example.com>\r\n\r\n" + strings.Repeat("The report is ready.\r\n", 50)
	var out bytes.Buffer
	require.NoError(t, dkim.Sign(&out, strings.NewReader(msg), &dkim.SignOptions{Domain: "example.com", Selector: "s1", Key: key}))
	return out.Bytes()
}

func requireCode(t *testing.T, err error, code int, enh smtp.EnhancedCode) *smtp.Error {
	t.Helper()
	var se *smtp.Error
	require.True(t, errors.As(err, &se), "%v", err)
	assert.Equal(t, code, se.Code, se.Message)
	assert.Equal(t, enh, se.Enhanced, se.Message)
	return se
}

func TestInboundAuth(t *testing.T) {
	addr, st, key, _ := authMX(t)

	t.Run("pass", func(t *testing.T) {
		// A forged field for our authserv-id, above the signature: it
		// is removed; another host's field stays.
		forged := "Authentication-Results: mx.example.org; dkim=pass header.d=bank.example\r\n" +
			"Authentication-Results: other.example; spf=pass smtp.mailfrom=x@bank.example\r\n"
		require.NoError(t, authSend(t, addr, "bounces@example.com", append([]byte(forged), authSigned(t, key, "")...)))
		msg, junk := st.last()
		assert.False(t, junk)
		assert.True(t, strings.HasPrefix(msg, "Authentication-Results: mx.example.org;\r\n\tspf=pass smtp.mailfrom=bounces@example.com;\r\n\tdkim=pass header.d=example.com"), msg)
		assert.Contains(t, msg, "\tdmarc=pass header.from=example.com policy.dmarc=reject\r\nReceived-SPF: pass ")
		assert.NotContains(t, msg, "bank.example;") // the forged one
		assert.NotContains(t, msg, "mx.example.org; dkim=pass header.d=bank.example")
		assert.Contains(t, msg, "Authentication-Results: other.example; spf=pass")
		assert.Equal(t, 1, strings.Count(msg, "Authentication-Results: mx.example.org"))
		// The Received: field comes below our fields.
		assert.Less(t, strings.Index(msg, "Received-SPF:"), strings.Index(msg, "Received: from"))
	})

	t.Run("forwarded", func(t *testing.T) {
		// SPF passes for a domain that does not align; DKIM aligns.
		require.NoError(t, authSend(t, addr, "fwd@forwarder.example", authSigned(t, key, "")))
		msg, _ := st.last()
		assert.Contains(t, msg, "dmarc=pass header.from=example.com")
	})

	t.Run("spf fail at MAIL", func(t *testing.T) {
		n := len(st.msgs)
		err := authSend(t, addr, "x@elsewhere.example", []byte("From: x@elsewhere.example\r\n\r\nhi\r\n"))
		requireCode(t, err, 550, smtp.EnhancedCode{5, 7, 23})
		assert.Len(t, st.msgs, n)
	})

	t.Run("dmarc reject", func(t *testing.T) {
		n := len(st.msgs)
		forged := []byte("From: ceo@example.com\r\nTo: user@example.org\r\nSubject: wire money\r\n\r\nnow\r\n")
		err := authSend(t, addr, "x@forwarder.example", forged)
		se := requireCode(t, err, 550, smtp.EnhancedCode{5, 7, 1})
		assert.Contains(t, se.Message, "DMARC")
		assert.Len(t, st.msgs, n)
	})

	t.Run("two From fields", func(t *testing.T) {
		// The signed From: example.com and a second one the reader may
		// be shown instead.
		msg := append([]byte("From: ceo@bank.example\r\n"), authSigned(t, key, "")...)
		err := authSend(t, addr, "bounces@example.com", msg)
		requireCode(t, err, 550, smtp.EnhancedCode{5, 7, 1})
	})

	t.Run("dmarc quarantine", func(t *testing.T) {
		msg := []byte("From: news@quarantined.example\r\nTo: user@example.org\r\n\r\nhi\r\n")
		require.NoError(t, authSend(t, addr, "x@forwarder.example", msg))
		got, junk := st.last()
		assert.True(t, junk)
		assert.Contains(t, got, "dmarc=fail header.from=quarantined.example policy.dmarc=quarantine")
	})

	t.Run("null sender", func(t *testing.T) {
		// SPF checks postmaster@ the HELO name, mail.example.com: none.
		require.NoError(t, authSend(t, addr, "", authSigned(t, key, "")))
		msg, _ := st.last()
		assert.Contains(t, msg, "spf=none smtp.mailfrom=postmaster@mail.example.com")
		assert.Contains(t, msg, "dmarc=pass")
	})
}

// A DNS server that does not answer: SPF is a temperror at MAIL FROM,
// answered 451 4.7.24, never a pass or a fail.
func TestInboundAuthTempError(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer pc.Close()
	client := &dns.Client{Servers: []netip.AddrPort{netip.MustParseAddrPort(pc.LocalAddr().String())}, Timeout: 200 * time.Millisecond, Attempts: 1}
	st := &authStore{}
	b := smtpserver.NewStoreBackend(st, smtpserver.StoreOptions{Authenticate: &smtpserver.InboundAuth{
		AuthServID: "mx.example.org",
		SPF:        &spf.Checker{Resolver: client},
		DKIM:       &dkim.VerifyOptions{Resolver: client},
		DMARC:      &dmarc.Evaluator{Resolver: client},
		ApplyDMARC: true,
	}})
	srv := &smtpserver.Server{Hostname: "mx.example.org", Backend: b}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	err = authSend(t, ln.Addr().String(), "x@example.com", []byte("From: x@example.com\r\n\r\nhi\r\n"))
	requireCode(t, err, 451, smtp.EnhancedCode{4, 7, 24})
	assert.Empty(t, st.msgs)
}

// A client in Trusted is not checked: its SPF-failing sender passes, and
// no Authentication-Results field is added or removed.
func TestInboundAuthTrusted(t *testing.T) {
	z := dnstest.NewServer(t)
	z.TXT("elsewhere.example", "v=spf1 ip4:192.0.2.0/24 -all")
	client := &dns.Client{Servers: []netip.AddrPort{z.Addr}, Timeout: 300 * time.Millisecond, Attempts: 1}
	st := &authStore{}
	b := smtpserver.NewStoreBackend(st, smtpserver.StoreOptions{Authenticate: &smtpserver.InboundAuth{
		AuthServID:    "mx.example.org",
		SPF:           &spf.Checker{Resolver: client},
		RejectSPFFail: true,
		Trusted:       []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	}})
	srv := &smtpserver.Server{Hostname: "mx.example.org", Backend: b}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	in := "Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=x@elsewhere.example\r\nFrom: x@elsewhere.example\r\n\r\nhi\r\n"
	require.NoError(t, authSend(t, ln.Addr().String(), "x@elsewhere.example", []byte(in)))
	msg, _ := st.last()
	assert.True(t, strings.HasPrefix(msg, "Received: "), msg)
	assert.True(t, strings.HasSuffix(msg, in), msg)
	assert.Zero(t, z.Queries("elsewhere.example"))
}

// nullStore takes every message and keeps none.
type nullStore struct{}

func (nullStore) CheckQuota(ctx context.Context, user string, size int64) error { return nil }

func (nullStore) DeliverMessage(ctx context.Context, users []string, body io.Reader, header func() []byte) ([]error, error) {
	var buf [8192]byte
	if _, err := io.CopyBuffer(io.Discard, body, buf[:]); err != nil {
		return nil, err
	}
	header()
	return make([]error, len(users)), nil
}

// BenchmarkInboundAuth is one SMTP transaction (MAIL, RCPT, DATA of a
// 2.6 KB ed25519-signed message) over one connection into
// NewStoreBackend: without checks, with StoreOptions.Authenticate doing
// SPF and DMARC, and doing SPF, DKIM and DMARC, all with a warm DNS
// cache. Client and server run in this process, so cpu-ns/op is both
// sides' CPU time; the differences are the checks (the DKIM row includes
// one ed25519 verify, quoted apart by BenchmarkEd25519Verify in
// smtp/dmarc).
func BenchmarkInboundAuth(b *testing.B) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	rec, _ := dkim.KeyRecordFor(key.Public())
	z := dnstest.NewServer(b)
	z.TXT("example.com", "v=spf1 ip4:127.0.0.1 -all")
	z.TXT("s1._domainkey.example.com", rec)
	z.TXT("_dmarc.example.com", "v=DMARC1; p=reject; rua=mailto:dmarc@example.com")
	client := &dns.Client{Servers: []netip.AddrPort{z.Addr}, Timeout: time.Second}
	body := "From: Alerts <alerts@example.com>\r\nTo: user@example.org\r\nSubject: Your report\r\n" +
		"Date: Mon, 07 Dec 2026 20:00:00 +0000\r\nMessage-ID: <r1@example.com>\r\n\r\n" +
		strings.Repeat("The report is ready.\r\n", 100)
	var signed bytes.Buffer
	if err := dkim.Sign(&signed, strings.NewReader(body), &dkim.SignOptions{Domain: "example.com", Selector: "s1", Key: key}); err != nil {
		b.Fatal(err)
	}
	msg := signed.Bytes()
	for _, mode := range []string{"nochecks", "spf+dmarc", "spf+dkim+dmarc"} {
		b.Run(mode, func(b *testing.B) {
			opts := smtpserver.StoreOptions{}
			if mode != "nochecks" {
				opts.Authenticate = &smtpserver.InboundAuth{AuthServID: "mx.example.org",
					SPF:   &spf.Checker{Resolver: client, Receiver: "mx.example.org"},
					DMARC: &dmarc.Evaluator{Resolver: client}, ApplyDMARC: true}
				if mode == "spf+dkim+dmarc" {
					opts.Authenticate.DKIM = &dkim.VerifyOptions{Resolver: client}
				}
			}
			srv := &smtpserver.Server{Hostname: "mx.example.org", Backend: smtpserver.NewStoreBackend(nullStore{}, opts),
				Limits: smtpserver.Limits{MaxMessages: -1}}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			go srv.Serve(ln)
			defer srv.Shutdown(context.Background())
			ctx := context.Background()
			cl, err := smtpclient.Dial(ctx, ln.Addr().String(), &smtpclient.Options{LocalName: "mail.example.com"})
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Quit(ctx)
			env := &smtpclient.Envelope{From: "bounces@example.com", To: []string{"user@example.org"}}
			r := bytes.NewReader(msg)
			if _, err := cl.Send(ctx, env, r, r.Size()); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			cpu0, n := cpuTime(), 0
			for b.Loop() {
				r.Reset(msg)
				if _, err := cl.Send(ctx, env, r, r.Size()); err != nil {
					b.Fatal(err)
				}
				n++
			}
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

// The DMARC record cannot be fetched (the DNS server does not answer for
// it): after DATA the message is answered 451 4.7.1, neither accepted as
// a pass nor refused as a fail, and nothing is stored.
func TestInboundAuthDMARCTempError(t *testing.T) {
	z := dnstest.NewServer(t)
	z.TXT("example.com", "v=spf1 ip4:127.0.0.1 -all")
	z.Silent("_dmarc.example.com")
	client := &dns.Client{Servers: []netip.AddrPort{z.Addr}, Timeout: 200 * time.Millisecond, Attempts: 1}
	st := &authStore{}
	b := smtpserver.NewStoreBackend(st, smtpserver.StoreOptions{Authenticate: &smtpserver.InboundAuth{
		AuthServID: "mx.example.org",
		SPF:        &spf.Checker{Resolver: client},
		DMARC:      &dmarc.Evaluator{Resolver: client},
		ApplyDMARC: true,
	}})
	srv := &smtpserver.Server{Hostname: "mx.example.org", Backend: b}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	err = authSend(t, ln.Addr().String(), "x@example.com", []byte("From: x@example.com\r\n\r\nhi\r\n"))
	requireCode(t, err, 451, smtp.EnhancedCode{4, 7, 1})
	assert.Empty(t, st.msgs)
}
