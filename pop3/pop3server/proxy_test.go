package pop3server_test

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/proxyproto"
	"github.com/posthorn/posthorn/pop3/internal/pop3fake"
	"github.com/posthorn/posthorn/pop3/pop3server"
)

// logBuf collects log output from several goroutines.
type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// proxyHeader returns a PROXY header of version v announcing client.
func proxyHeader(t *testing.T, v int, client string) string {
	t.Helper()
	src, err := net.ResolveTCPAddr("tcp", client)
	if err != nil {
		t.Fatal(err)
	}
	dst := &net.TCPAddr{IP: net.ParseIP("198.51.100.1"), Port: 110}
	b, err := (&proxyproto.Header{Version: v, Command: proxyproto.Proxy, Source: src, Destination: dst}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// dialProxied connects to addr and sends hdr first, as a load balancer
// does.
func dialProxied(t *testing.T, addr, hdr string) *pop3fake.Conn {
	t.Helper()
	c := pop3fake.Dial(t, addr)
	c.Send(hdr)
	return c
}

// The client address a trusted proxy announces is the one ConnInfo and
// the per-IP limit see.
func TestProxyProtocol(t *testing.T) {
	for _, v := range []int{1, 2} {
		logs := &logBuf{}
		logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		env := start(t, &pop3server.Server{AllowInsecureAuth: true, ProxyTrusted: loopback, Limits: pop3server.Limits{MaxConnectionsPerIP: 1}, Logger: logger})
		c := dialProxied(t, env.Addr, proxyHeader(t, v, "203.0.113.7:40000"))
		c.Script(`
			S: +OK POP3 server ready
			C: USER alice
			S: +OK send PASS
			C: PASS secret
			S: +OK alice has 2 messages (144 octets)
		`)
		if got := env.Backend.LastRemote(); got != "203.0.113.7:40000" {
			t.Fatalf("v%d: ConnInfo.RemoteAddr = %q, want 203.0.113.7:40000", v, got)
		}
		// RFC 2449 §8.1.2: a second connection for 203.0.113.7 is over
		// the per-IP limit; one for 203.0.113.8 is not.
		c2 := dialProxied(t, env.Addr, proxyHeader(t, v, "203.0.113.7:40001"))
		c2.Script(`S: -ERR [SYS/TEMP] too many connections`)
		c2.ExpectClosed()
		c3 := dialProxied(t, env.Addr, proxyHeader(t, v, "203.0.113.8:40002"))
		c3.Script(`
			S: +OK POP3 server ready
			C: QUIT
			S: +OK bye
		`)
		// Logs name the client, never the proxy.
		if l := logs.String(); !strings.Contains(l, "remote=203.0.113.7:40001") || strings.Contains(l, "remote=127.0.0.1") {
			t.Fatalf("v%d: logs do not use the carried address:\n%s", v, l)
		}
	}
}

// A trusted peer that sends no valid header is closed without a greeting.
func TestProxyProtocolBadHeader(t *testing.T) {
	env := start(t, &pop3server.Server{AllowInsecureAuth: true, ProxyTrusted: loopback, ProxyHeaderTimeout: time.Second})
	c := dialProxied(t, env.Addr, "CAPA\r\n")
	c.ExpectClosed()
	// A silent one is closed after ProxyHeaderTimeout.
	c = pop3fake.Dial(t, env.Addr)
	c.ExpectClosed()
}

// Without ProxyTrusted, or from an untrusted peer, a PROXY line is just an
// unknown command and the peer's own address is used.
func TestProxyProtocolUntrusted(t *testing.T) {
	for _, trusted := range [][]netip.Prefix{nil, {netip.MustParsePrefix("192.0.2.0/24")}} {
		env := start(t, &pop3server.Server{AllowInsecureAuth: true, ProxyTrusted: trusted})
		c := pop3fake.Dial(t, env.Addr)
		c.Script(`
			S: +OK POP3 server ready
			C: PROXY TCP4 203.0.113.7 198.51.100.1 40000 110
			S: -ERR pop3: malformed command: keyword must be 3 or 4 characters
			C: USER alice
			S: +OK send PASS
			C: PASS secret
			S: +OK*
		`)
		if got := env.Backend.LastRemote(); !strings.HasPrefix(got, "127.0.0.1:") {
			t.Fatalf("ConnInfo.RemoteAddr = %q, want the peer's own address", got)
		}
	}
}

// With ServeTLS the PROXY header precedes the TLS handshake (RFC 8314
// implicit TLS behind a TCP load balancer).
func TestProxyProtocolImplicitTLS(t *testing.T) {
	env := start(t, &pop3server.Server{ProxyTrusted: loopback})
	nc, err := net.Dial("tcp", env.TLSAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if _, err := nc.Write([]byte(proxyHeader(t, 2, "[2001:db8::7]:40000"))); err != nil {
		t.Fatal(err)
	}
	c := pop3fake.Wrap(t, tls.Client(nc, env.Cert.ClientConfig()))
	c.Script(`
		S: +OK POP3 server ready
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: +OK*
	`)
	if got := env.Backend.LastRemote(); got != "[2001:db8::7]:40000" {
		t.Fatalf("ConnInfo.RemoteAddr = %q, want [2001:db8::7]:40000", got)
	}
}

// The auth-failure limiter counts the carried client address: failures
// from 203.0.113.7 slow it down, not another client of the same proxy.
func TestProxyProtocolAuthLimiter(t *testing.T) {
	env := start(t, &pop3server.Server{AllowInsecureAuth: true, ProxyTrusted: loopback, Limits: pop3server.Limits{AuthFailureDelay: 300 * time.Millisecond}})
	// More failures than the limiter lets go free.
	for i := range 4 {
		c := dialProxied(t, env.Addr, proxyHeader(t, 2, fmt.Sprintf("203.0.113.7:%d", 40000+i)))
		c.Script(`
			S: +OK*
			C: USER alice
			S: +OK send PASS
			C: PASS wrong
			S: -ERR [AUTH] authentication failed
			C: QUIT
			S: +OK bye
		`)
	}
	timeLogin := func(client string) time.Duration {
		c := dialProxied(t, env.Addr, proxyHeader(t, 2, client))
		c.Script(`
			S: +OK*
			C: USER alice
			S: +OK send PASS`)
		start := time.Now()
		c.Script(`
			C: PASS secret
			S: +OK*
			C: QUIT
			S: +OK bye`)
		return time.Since(start)
	}
	if d := timeLogin("203.0.113.7:40011"); d < 200*time.Millisecond {
		t.Fatalf("the failing client logged in after %v, want a delay", d)
	}
	if d := timeLogin("203.0.113.8:40012"); d >= 200*time.Millisecond {
		t.Fatalf("another client of the proxy waited %v", d)
	}
}
