package imapserver_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"sync"
	"testing"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/internal/tlsutil"
)

// infoBackend records the ConnInfo the server passes to User.
type infoBackend struct {
	imapserver.Backend
	mu   sync.Mutex
	info imapserver.ConnInfo
}

func (b *infoBackend) User(ctx context.Context, name string, info *imapserver.ConnInfo) (imapserver.User, error) {
	b.mu.Lock()
	b.info = *info
	id := *info.Identity
	b.info.Identity = &id
	b.mu.Unlock()
	return b.Backend.User(ctx, name, info)
}

func (b *infoBackend) last() imapserver.ConnInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.info
}

// The backend learns who logged in, from where, how and over what: the
// same ConnInfo smtpserver and pop3server backends get.
func TestUserConnInfo(t *testing.T) {
	var b *infoBackend
	ts := newTestServer(t, func(s *imapserver.Server) {
		b = &infoBackend{Backend: s.Backend}
		s.Backend = b
	})
	c := ts.login()
	info := b.last()
	if info.RemoteAddr.String() != c.conn.LocalAddr().String() || info.LocalAddr.String() != ts.addr {
		t.Errorf("addresses %v %v, want %v %v", info.RemoteAddr, info.LocalAddr, c.conn.LocalAddr(), ts.addr)
	}
	if info.TLS != nil || info.Service != "imap" || info.Identity.Username != "alice" || info.Identity.Mechanism != "LOGIN" {
		t.Errorf("plaintext LOGIN: %+v, identity %+v", info, info.Identity)
	}

	// AUTHENTICATE PLAIN over implicit TLS.
	cert, err := tlsutil.NewTestCert()
	if err != nil {
		t.Fatal(err)
	}
	srv := &imapserver.Server{Backend: b, TLSConfig: cert.ServerConfig()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(ln)
	defer srv.Close()
	conn, err := tls.Dial("tcp", ln.Addr().String(), cert.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tc := &testConn{t: t, conn: conn, br: bufio.NewReader(conn)}
	// "\x00alice\x00secret"
	tc.run(`
S: * OK ...
C: a1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==
S: a1 OK ...`)
	info = b.last()
	if info.TLS == nil || info.TLS.Version < tls.VersionTLS12 || info.Identity.Mechanism != "PLAIN" || info.Identity.Username != "alice" {
		t.Errorf("AUTHENTICATE PLAIN over TLS: %+v, identity %+v", info, info.Identity)
	}
}
