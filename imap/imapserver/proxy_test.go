package imapserver_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/internal/proxyproto"
	"github.com/posthorn/posthorn/internal/testpeer"
	"github.com/posthorn/posthorn/internal/tlsutil"
)

// syncBuf collects log output from several goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var loopbackNet = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// proxyHeader returns a PROXY header of version v announcing client.
func proxyHeader(t *testing.T, v int, client string) string {
	t.Helper()
	src, err := net.ResolveTCPAddr("tcp", client)
	if err != nil {
		t.Fatal(err)
	}
	dst := &net.TCPAddr{IP: net.ParseIP("198.51.100.1"), Port: 143}
	b, err := (&proxyproto.Header{Version: v, Command: proxyproto.Proxy, Source: src, Destination: dst}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// dialProxied connects to the server and sends hdr first, as a load
// balancer does; the greeting is left for the caller to read.
func (ts *testServer) dialProxied(hdr string) *testConn {
	ts.t.Helper()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(func() { c.Close() })
	if _, err := c.Write([]byte(hdr)); err != nil {
		ts.t.Fatal(err)
	}
	return &testConn{t: ts.t, conn: c, br: bufio.NewReader(c)}
}

// The client address a trusted proxy announces is the one the per-IP
// connection limit and the logs see.
func TestProxyProtocol(t *testing.T) {
	for _, v := range []int{1, 2} {
		logs := &syncBuf{}
		ts := newTestServer(t, func(s *imapserver.Server) {
			s.ProxyTrusted = loopbackNet
			s.Limits.MaxConnectionsPerIP = 1
			s.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		})
		c := ts.dialProxied(proxyHeader(t, v, "203.0.113.7:40000"))
		c.run(`
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2...
C: a1 LOGIN alice secret
S: a1 OK [CAPABILITY...`)
		// RFC 9051 §7.1.5: a second connection for 203.0.113.7 is over
		// the per-IP limit; one for 203.0.113.8 is not, though both come
		// from the same proxy.
		c2 := ts.dialProxied(proxyHeader(t, v, "203.0.113.7:40001"))
		c2.run(`S: * BYE [UNAVAILABLE] Too many connections`)
		c2.expectClosed()
		c3 := ts.dialProxied(proxyHeader(t, v, "203.0.113.8:40002"))
		c3.run(`
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2...
C: a1 LOGOUT
S: * BYE Logging out
S: a1 OK LOGOUT completed`)
		c.run(`
C: a2 LOGOUT
S: * BYE Logging out
S: a2 OK LOGOUT completed`)
		// Logs name the client, never the proxy.
		if l := logs.String(); !strings.Contains(l, "remote=203.0.113.7:40001") || strings.Contains(l, "remote=127.0.0.1") {
			t.Fatalf("v%d: logs do not use the carried address:\n%s", v, l)
		}
	}
}

// A trusted peer that sends no valid header is closed without a greeting,
// and a silent one after ProxyHeaderTimeout; neither holds up others.
func TestProxyProtocolBadHeader(t *testing.T) {
	ts := newTestServer(t, func(s *imapserver.Server) {
		s.ProxyTrusted = loopbackNet
		s.ProxyHeaderTimeout = 2 * time.Second
	})
	silent := ts.dialProxied("")
	start := time.Now()
	ts.dialProxied("a1 CAPABILITY\r\n").expectClosed()
	ts.dialProxied(proxyHeader(t, 1, "203.0.113.9:40000")).run(`S: * OK [CAPABILITY IMAP4rev1...`)
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("a silent proxy held up other connections for %v", d)
	}
	silent.expectClosed()
}

// Without ProxyTrusted, or from an untrusted peer, a PROXY line is not
// IMAP: the first command of a session, it gets BYE and a close, and
// the peer's own address is logged.
func TestProxyProtocolUntrusted(t *testing.T) {
	for _, trusted := range [][]netip.Prefix{nil, {netip.MustParsePrefix("192.0.2.0/24")}} {
		logs := &syncBuf{}
		ts := newTestServer(t, func(s *imapserver.Server) {
			s.ProxyTrusted = trusted
			s.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		})
		c := ts.dialProxied(proxyHeader(t, 1, "203.0.113.7:40000"))
		c.run(`
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2...
S: * BYE Not an IMAP command`)
		c.expectClosed()
		if l := logs.String(); strings.Contains(l, "203.0.113.7") || !strings.Contains(l, "remote=127.0.0.1") {
			t.Fatalf("logs use the address of an untrusted header:\n%s", l)
		}
	}
}

// With ServeTLS the PROXY header precedes the TLS handshake (RFC 8314
// implicit TLS behind a TCP load balancer).
func TestProxyProtocolImplicitTLS(t *testing.T) {
	cert, err := tlsutil.NewTestCert()
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t)
	logs := &syncBuf{}
	srv := &imapserver.Server{
		Backend:      ts.store,
		TLSConfig:    cert.ServerConfig(),
		ProxyTrusted: loopbackNet,
		Logger:       slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(ln)
	defer srv.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Write([]byte(proxyHeader(t, 2, "[2001:db8::7]:40000"))); err != nil {
		t.Fatal(err)
	}
	conn := tls.Client(nc, cert.ClientConfig())
	c := &testConn{t: t, conn: conn, br: bufio.NewReader(conn)}
	c.run(`
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2...
C: a1 LOGIN alice secret
S: a1 OK [CAPABILITY...
C: a2 LOGOUT
S: * BYE Logging out
S: a2 OK LOGOUT completed`)
	c.expectClosed()
	if l := logs.String(); !strings.Contains(l, "remote=[2001:db8::7]:40000") {
		t.Fatalf("logs lack the carried address:\n%s", l)
	}
}

// The auth-failure limiter counts the carried client address: failures
// from 203.0.113.7 slow it down, not another client of the same proxy.
func TestProxyProtocolAuthLimiter(t *testing.T) {
	ts := newTestServer(t, func(s *imapserver.Server) { s.ProxyTrusted = loopbackNet })
	// One failure more than the limiter lets go free (three per network).
	for i := range 4 {
		c := ts.dialProxied(proxyHeader(t, 2, fmt.Sprintf("203.0.113.7:%d", 40000+i)))
		c.run(fmt.Sprintf(`
S: * OK...
C: a1 LOGIN nobody%d wrong
S: a1 NO [AUTHENTICATIONFAILED] Authentication failed
C: a2 LOGOUT
S: * BYE Logging out
S: a2 OK LOGOUT completed`, i))
	}
	timeLogin := func(client string) time.Duration {
		c := ts.dialProxied(proxyHeader(t, 2, client))
		c.run(`S: * OK...`)
		start := time.Now()
		c.run(`
C: a1 LOGIN alice secret
S: a1 OK [CAPABILITY...`)
		return time.Since(start)
	}
	if d := timeLogin("203.0.113.7:40011"); d < 500*time.Millisecond {
		t.Fatalf("the failing client logged in after %v, want a delay", d)
	}
	if d := timeLogin("203.0.113.8:40012"); d >= 500*time.Millisecond {
		t.Fatalf("another client of the proxy waited %v", d)
	}
}

// curl's --haproxy-protocol sends a version 1 header before IMAP.
func TestProxyProtocolCurl(t *testing.T) {
	testpeer.Need(t, "curl", "curl")
	ts := newTestServer(t, func(s *imapserver.Server) {
		s.ProxyTrusted = loopbackNet
		s.ProxyHeaderTimeout = time.Second
	})
	ts.deliver(msg1)
	out, err := testpeer.Run(t, "curl", "-sS", "--max-time", "20", "--haproxy-protocol", fmt.Sprintf("imap://%s/INBOX;UID=1", ts.addr), "--user", "alice:secret")
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if string(out) != msg1 {
		t.Errorf("curl fetched %q", out)
	}
	// Without the header a trusted peer is refused.
	if out, err := testpeer.Run(t, "curl", "-sS", "--max-time", "20", fmt.Sprintf("imap://%s/INBOX;UID=1", ts.addr), "--user", "alice:secret"); err == nil {
		t.Errorf("curl without a PROXY header fetched %q", out)
	}
}
