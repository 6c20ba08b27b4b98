package smtpserver

import (
	"bufio"
	"context"
	"fmt"
	"github.com/posthorn/posthorn/sasl"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/proxyproto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// infoBackend records the ConnInfo of every session.
type infoBackend struct {
	testBackend
	imu   sync.Mutex
	infos []ConnInfo
}

func (b *infoBackend) NewSession(ctx context.Context, c *ConnInfo) (Session, error) {
	b.imu.Lock()
	b.infos = append(b.infos, *c)
	b.imu.Unlock()
	return b.testBackend.NewSession(ctx, c)
}

func (b *infoBackend) remotes() []string {
	b.imu.Lock()
	defer b.imu.Unlock()
	var out []string
	for _, i := range b.infos {
		out = append(out, i.RemoteAddr.String())
	}
	return out
}

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
func proxyHeader(t testing.TB, v int, client string) []byte {
	t.Helper()
	src, err := net.ResolveTCPAddr("tcp", client)
	require.NoError(t, err)
	dst, err := net.ResolveTCPAddr("tcp", "198.51.100.1:25")
	require.NoError(t, err)
	b, err := (&proxyproto.Header{Version: v, Command: proxyproto.Proxy, Source: src, Destination: dst}).Marshal()
	require.NoError(t, err)
	return b
}

// dialProxied connects, sends hdr as a load balancer would, and expects
// the greeting.
func dialProxied(t testing.TB, addr string, hdr []byte) *wire {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	_, err = c.Write(hdr)
	require.NoError(t, err)
	w := &wire{t: t, c: c, br: bufio.NewReader(c)}
	w.expect(220)
	return w
}

// The client address a trusted proxy announces is the one the backend,
// the Received: field and the limits see.
func TestProxyProtocol(t *testing.T) {
	for _, v := range []int{1, 2} {
		b := &infoBackend{}
		logs := &logBuf{}
		logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		addr := startServer(t, &Server{Backend: b, ProxyTrusted: loopback, Limits: Limits{MaxConnectionsPerIP: 1}, Logger: logger})
		w := dialProxied(t, addr, proxyHeader(t, v, "203.0.113.7:40000"))
		// C: EHLO client.test ... S: 250 OK (after the PROXY header)
		w.cmd("EHLO client.test", 250)
		w.cmd("MAIL FROM:<a@example.org>", 250)
		w.cmd("RCPT TO:<b@example.org>", 250)
		w.cmd("DATA", 354)
		w.send("x\r\n.\r\n")
		w.expect(250)
		msgs := b.messages()
		require.Len(t, msgs, 1)
		assert.Contains(t, msgs[0].Data, "([203.0.113.7])", "v%d", v)
		assert.Equal(t, []string{"203.0.113.7:40000"}, b.remotes(), "v%d", v)

		// The per-IP limit counts the carried address: a second
		// connection for 203.0.113.7 is over it, one for .8 is not.
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		_, err = c.Write(proxyHeader(t, v, "203.0.113.7:40001"))
		require.NoError(t, err)
		w2 := &wire{t: t, c: c, br: bufio.NewReader(c)}
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		w2.expect(421)
		w3 := dialProxied(t, addr, proxyHeader(t, v, "203.0.113.8:40002"))
		w3.cmd("NOOP", 250)
		assert.Contains(t, logs.String(), "remote=203.0.113.7:40001", "v%d: refusal logged with the client address", v)
		assert.NotContains(t, logs.String(), "remote=127.0.0.1", "v%d", v)
	}
}

// A trusted peer that sends no valid header is closed without a greeting.
func TestProxyProtocolBadHeader(t *testing.T) {
	b := &infoBackend{}
	addr := startServer(t, &Server{Backend: b, ProxyTrusted: loopback})
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("EHLO client.test\r\n"))
	require.NoError(t, err)
	w := &wire{t: t, c: c, br: bufio.NewReader(c)}
	w.expectClosed()
	assert.Empty(t, b.remotes())
}

// Without ProxyTrusted, or from an untrusted peer, a PROXY line is just an
// unknown command and the peer's own address is used.
func TestProxyProtocolUntrusted(t *testing.T) {
	for _, trusted := range [][]netip.Prefix{nil, {netip.MustParsePrefix("192.0.2.0/24")}} {
		b := &infoBackend{}
		addr := startServer(t, &Server{Backend: b, ProxyTrusted: trusted})
		w := dialWire(t, addr)
		// C: PROXY TCP4 203.0.113.7 198.51.100.1 40000 25
		// S: 500 ...
		w.cmd("PROXY TCP4 203.0.113.7 198.51.100.1 40000 25", 500)
		w.cmd("EHLO client.test", 250)
		require.Len(t, b.remotes(), 1)
		assert.Contains(t, b.remotes()[0], "127.0.0.1:")
	}
}

// With ServeTLS the PROXY header precedes the TLS handshake.
func TestProxyProtocolImplicitTLS(t *testing.T) {
	srvTLS, cliTLS := testTLS(t)
	b := &infoBackend{}
	s := &Server{Backend: b, TLSConfig: srvTLS, Hostname: "mx.test", ProxyTrusted: loopback}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = s.ServeTLS(ln) }()
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	_, err = c.Write(proxyHeader(t, 2, "[2001:db8::7]:40000"))
	require.NoError(t, err)
	w := newTLSWire(t, c, cliTLS)
	w.cmd("EHLO client.test", 250)
	assert.Equal(t, []string{"[2001:db8::7]:40000"}, b.remotes())
	b.imu.Lock()
	assert.NotNil(t, b.infos[0].TLS)
	b.imu.Unlock()
}

// The auth-failure limiter shared by all connections counts the carried
// client address: failures from 203.0.113.7 slow it down, not another
// client of the same proxy.
func TestProxyProtocolAuthLimiter(t *testing.T) {
	reg := &sasl.Registry{Credentials: testCreds{"alice": "secret"}, AllowPlaintext: true}
	addr := startServer(t, &Server{Backend: &testBackend{}, Auth: reg, ProxyTrusted: loopback, Limits: Limits{AuthFailureDelay: 300 * time.Millisecond}})
	// More failures than the limiter lets go free.
	for i := 0; i < 4; i++ {
		w := dialProxied(t, addr, proxyHeader(t, 2, fmt.Sprintf("203.0.113.7:%d", 40000+i)))
		w.cmd("EHLO client.test", 250)
		w.cmd("AUTH PLAIN AGFsaWNlAHdyb25n", 535)
		w.cmd("QUIT", 221)
	}
	timeAuth := func(client string) time.Duration {
		w := dialProxied(t, addr, proxyHeader(t, 2, client))
		w.cmd("EHLO client.test", 250)
		start := time.Now()
		w.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==", 235)
		return time.Since(start)
	}
	assert.GreaterOrEqual(t, timeAuth("203.0.113.7:40011"), 200*time.Millisecond, "the failing client is slowed")
	assert.Less(t, timeAuth("203.0.113.8:40010"), 200*time.Millisecond, "another client is not")
}
