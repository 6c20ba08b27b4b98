package smtpserver

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"github.com/posthorn/posthorn/internal/testpeer"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp"
	"github.com/stretchr/testify/require"
)

// testMsg is one message as the backend received it.
type testMsg struct {
	From     smtp.Mailbox
	Opts     smtp.MailOptions
	To       []smtp.Mailbox
	RcptOpts []smtp.RcptOptions
	Data     string
	Identity string
}

// testBackend records what sessions do.
type testBackend struct {
	mu        sync.Mutex
	msgs      []testMsg
	mailCalls int
	dataErr   error            // returned by Data when set
	rcptErr   map[string]error // by recipient address
	lmtpErrs  map[string]error // LMTP per-recipient results
	panicIn   string           // "mail", "data"
	closed    int
}

func (b *testBackend) NewSession(ctx context.Context, c *ConnInfo) (Session, error) {
	return &testSession{b: b, info: c}, nil
}

func (b *testBackend) messages() []testMsg {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]testMsg(nil), b.msgs...)
}

func (b *testBackend) mails() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mailCalls
}

type testSession struct {
	b    *testBackend
	info *ConnInfo
	cur  testMsg
}

func (s *testSession) Mail(ctx context.Context, from smtp.Mailbox, opts *smtp.MailOptions) error {
	s.b.mu.Lock()
	s.b.mailCalls++
	p := s.b.panicIn
	s.b.mu.Unlock()
	if p == "mail" {
		panic("test panic in Mail")
	}
	s.cur = testMsg{From: from, Opts: *opts}
	if s.info.Identity != nil {
		s.cur.Identity = s.info.Identity.Username
	}
	return nil
}

func (s *testSession) Rcpt(ctx context.Context, to smtp.Mailbox, opts *smtp.RcptOptions) error {
	s.b.mu.Lock()
	err := s.b.rcptErr[to.String()]
	s.b.mu.Unlock()
	if err != nil {
		return err
	}
	s.cur.To = append(s.cur.To, to)
	s.cur.RcptOpts = append(s.cur.RcptOpts, *opts)
	return nil
}

func (s *testSession) Data(ctx context.Context, r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if s.b.panicIn == "data" {
		panic("test panic in Data")
	}
	if s.b.dataErr != nil {
		return s.b.dataErr
	}
	s.cur.Data = string(data)
	s.b.msgs = append(s.b.msgs, s.cur)
	return nil
}

func (s *testSession) LMTPData(ctx context.Context, r io.Reader) []error {
	if err := s.Data(ctx, r); err != nil {
		return []error{err}
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	out := make([]error, len(s.cur.To))
	for i, to := range s.cur.To {
		out[i] = s.b.lmtpErrs[to.String()]
	}
	return out
}

func (s *testSession) Reset(ctx context.Context) { s.cur = testMsg{} }

func (s *testSession) Close(ctx context.Context) error {
	s.b.mu.Lock()
	s.b.closed++
	s.b.mu.Unlock()
	return nil
}

// testCreds verifies passwords for the sasl registry.
type testCreds map[string]string

func (c testCreds) VerifyPassword(ctx context.Context, user, pass string) error {
	if p, ok := c[user]; ok && p == pass {
		return nil
	}
	return sasl.ErrAuthFailed
}

func (c testCreds) LookupSecret(ctx context.Context, user string) (string, error) {
	if p, ok := c[user]; ok {
		return p, nil
	}
	return "", sasl.ErrUnknownUser
}

// testTLS returns a server and a client config for a self-signed
// certificate valid for 127.0.0.1 and localhost.
func testTLS(t testing.TB) (*tls.Config, *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	srv := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}
	cli := &tls.Config{RootCAs: pool, ServerName: "localhost"}
	return srv, cli
}

// startServer serves s on 127.0.0.1 port 0 and shuts it down at the end.
func startServer(t testing.TB, s *Server) string {
	t.Helper()
	if s.Hostname == "" {
		s.Hostname = "mx.test"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return ln.Addr().String()
}

// wire is a raw client that writes lines and checks replies, so tests
// read like the exchange on the wire.
type wire struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dialWire(t testing.TB, addr string) *wire {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	w := &wire{t: t, c: c, br: bufio.NewReader(c)}
	w.expect(220)
	return w
}

// send writes raw bytes (several commands may be pipelined in one).
func (w *wire) send(s string) {
	w.t.Helper()
	_, err := io.WriteString(w.c, s)
	require.NoError(w.t, err)
}

// expect reads one reply and checks its code.
func (w *wire) expect(code int) *smtp.Reply {
	w.t.Helper()
	r, err := smtp.ReadReply(w.br, smtp.ReplyLimits{})
	require.NoError(w.t, err, "waiting for %d", code)
	require.Equal(w.t, code, r.Code, "reply %d %q", r.Code, r.Lines)
	return r
}

// cmd sends one command line and expects code.
func (w *wire) cmd(line string, code int) *smtp.Reply {
	w.t.Helper()
	w.send(line + "\r\n")
	return w.expect(code)
}

// expectClosed checks that the server closed the connection.
func (w *wire) expectClosed() {
	w.t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := w.br.ReadByte()
	require.Error(w.t, err)
	var ne net.Error
	require.False(w.t, errors.As(err, &ne) && ne.Timeout(), "connection still open")
}

func (w *wire) startTLS(cfg *tls.Config) {
	w.t.Helper()
	w.cmd("STARTTLS", 220)
	tc := tls.Client(w.c, cfg)
	require.NoError(w.t, tc.Handshake())
	w.c = tc
	w.br = bufio.NewReader(tc)
}

func hasLine(r *smtp.Reply, prefix string) bool {
	for _, l := range r.Lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func newBR(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

func newTLSWire(t testing.TB, c net.Conn, cfg *tls.Config) *wire {
	t.Helper()
	t.Cleanup(func() { _ = c.Close() })
	tc := tls.Client(c, cfg)
	_ = tc.SetDeadline(time.Now().Add(20 * time.Second))
	require.NoError(t, tc.Handshake())
	w := &wire{t: t, c: tc, br: bufio.NewReader(tc)}
	w.expect(220)
	return w
}

func dialRaw(addr string) (net.Conn, error) { return net.Dial("tcp", addr) }

// runWithStdin runs a peer program with stdin from a file.
func runWithStdin(t testing.TB, stdinFile, program string, args ...string) ([]byte, error) {
	t.Helper()
	path := testpeer.Need(t, program, program)
	f, err := os.Open(stdinFile)
	require.NoError(t, err)
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin = f
	return cmd.CombinedOutput()
}
