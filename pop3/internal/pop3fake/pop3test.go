// Package pop3fake holds test helpers shared by the pop3server and
// pop3client tests: a small in-memory Backend and a server starter.
package pop3fake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/tlsutil"
	"github.com/posthorn/posthorn/pop3"
	"github.com/posthorn/posthorn/pop3/pop3server"
	"github.com/posthorn/posthorn/sasl"
)

// Backend is an in-memory store: users with passwords and one maildrop
// each. It implements pop3server.Backend, sasl.PasswordVerifier and,
// when Secrets is set, sasl.SecretLookup (through SecretBackend).
type Backend struct {
	mu     sync.Mutex
	users  map[string]*user
	refuse error // returned by OpenMaildrop while set
	mech   string
	remote string
	tlsVer uint16
	open   int // maildrops opened and not closed
}

type user struct {
	password string
	msgs     []*msg
	nextUID  int
}

type msg struct {
	uid  string
	data []byte
	utf8 bool
}

// NewBackend returns an empty store.
func NewBackend() *Backend { return &Backend{users: map[string]*user{}} }

// AddUser creates a user.
func (b *Backend) AddUser(name, password string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.users[name] = &user{password: password}
}

// Deliver appends a message and returns its UID.
func (b *Backend) Deliver(name string, data []byte) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	u := b.users[name]
	u.nextUID++
	m := &msg{uid: fmt.Sprintf("uid-%d", u.nextUID), data: bytes.Clone(data)}
	for _, c := range data {
		if c >= 0x80 {
			m.utf8 = true
			break
		}
	}
	u.msgs = append(u.msgs, m)
	return m.uid
}

// Expunge removes a message behind the POP3 session's back (as IMAP would).
func (b *Backend) Expunge(name, uid string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u := b.users[name]
	for i, m := range u.msgs {
		if m.uid == uid {
			u.msgs = append(u.msgs[:i], u.msgs[i+1:]...)
			return
		}
	}
}

// UIDs lists the UIDs in the user's maildrop.
func (b *Backend) UIDs(name string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, m := range b.users[name].msgs {
		out = append(out, m.uid)
	}
	return out
}

// RefuseLogins makes OpenMaildrop fail with err (nil to stop).
func (b *Backend) RefuseLogins(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refuse = err
}

// VerifyPassword implements sasl.PasswordVerifier.
func (b *Backend) VerifyPassword(ctx context.Context, name, password string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	u, ok := b.users[name]
	if !ok {
		return sasl.ErrUnknownUser
	}
	if u.password != password {
		return sasl.ErrAuthFailed
	}
	return nil
}

// OpenMaildrop implements pop3server.Backend.
func (b *Backend) OpenMaildrop(ctx context.Context, name string, info *pop3server.ConnInfo) (pop3server.Maildrop, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.refuse != nil {
		return nil, b.refuse
	}
	if info != nil {
		if info.Identity != nil {
			b.mech = info.Identity.Mechanism
		}
		b.tlsVer = 0
		if info.TLS != nil {
			b.tlsVer = info.TLS.Version
		}
		if info.RemoteAddr != nil {
			b.remote = info.RemoteAddr.String()
		}
	}
	u, ok := b.users[name]
	if !ok {
		return nil, &pop3.Error{Code: pop3.CodeSysPerm, Text: "no maildrop"}
	}
	b.open++
	d := &drop{b: b, u: u}
	for _, m := range u.msgs {
		d.snap = append(d.snap, pop3server.Message{UID: m.uid, Size: wireSize(m.data), UTF8: m.utf8})
	}
	return d, nil
}

// LastRemote returns the ConnInfo.RemoteAddr of the last session that
// opened a maildrop.
func (b *Backend) LastRemote() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.remote
}

// LastMechanism returns how the last session that opened a maildrop
// authenticated ("USER", "APOP" or a SASL mechanism).
func (b *Backend) LastMechanism() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mech
}

// LastTLSVersion returns the ConnInfo.TLS version of the last session
// that opened a maildrop, 0 for a plaintext one.
func (b *Backend) LastTLSVersion() uint16 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tlsVer
}

// wireSize counts octets with every line end as CRLF.
func wireSize(p []byte) int64 {
	n := int64(len(p))
	for i, c := range p {
		if c == '\n' && (i == 0 || p[i-1] != '\r') {
			n++
		}
		if c == '\r' && (i+1 == len(p) || p[i+1] != '\n') {
			n++
		}
	}
	return n
}

type drop struct {
	b    *Backend
	u    *user
	snap []pop3server.Message
}

func (d *drop) Messages(ctx context.Context) ([]pop3server.Message, error) { return d.snap, nil }

func (d *drop) Open(ctx context.Context, uid string) (io.Reader, error) {
	d.b.mu.Lock()
	defer d.b.mu.Unlock()
	for _, m := range d.u.msgs {
		if m.uid == uid {
			return bytes.NewReader(m.data), nil
		}
	}
	return nil, fmt.Errorf("message %s: %w", uid, fs.ErrNotExist)
}

func (d *drop) Delete(ctx context.Context, uids []string) error {
	d.b.mu.Lock()
	defer d.b.mu.Unlock()
	del := map[string]bool{}
	for _, u := range uids {
		del[u] = true
	}
	kept := d.u.msgs[:0]
	for _, m := range d.u.msgs {
		if !del[m.uid] {
			kept = append(kept, m)
		}
	}
	d.u.msgs = kept
	return nil
}

func (d *drop) Close() error {
	d.b.mu.Lock()
	defer d.b.mu.Unlock()
	d.b.open--
	return nil
}

// OpenMaildrops returns the number of maildrops opened and not closed
// yet: the locks sessions hold on the store.
func (b *Backend) OpenMaildrops() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open
}

// SecretBackend adds sasl.SecretLookup (APOP, CRAM-MD5) to a Backend.
type SecretBackend struct{ *Backend }

// LookupSecret implements sasl.SecretLookup.
func (b SecretBackend) LookupSecret(ctx context.Context, name string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u, ok := b.users[name]
	if !ok {
		return "", sasl.ErrUnknownUser
	}
	return u.password, nil
}

// LookupSCRAM implements sasl.SCRAMLookup, deriving the keys from the
// password (a real store keeps only the keys).
func (b SecretBackend) LookupSCRAM(ctx context.Context, name string, h sasl.SCRAMHash) (sasl.SCRAMKeys, error) {
	pw, err := b.LookupSecret(ctx, name)
	if err != nil {
		return sasl.SCRAMKeys{}, err
	}
	return sasl.NewSCRAMKeys(h, pw, []byte("posthorn-test-salt"), 4096)
}

// Env is a running server for tests.
type Env struct {
	Server  *pop3server.Server
	Backend *Backend
	Addr    string // plaintext listener with STLS
	TLSAddr string // implicit TLS listener
	Cert    *tlsutil.TestCert
}

// Start runs srv (Backend, TLSConfig and Logger filled in when nil) on
// 127.0.0.1 with a plaintext and an implicit-TLS listener, shut down at
// cleanup. The backend has user "alice" with password "secret".
func Start(t testing.TB, srv *pop3server.Server) *Env {
	t.Helper()
	cert, err := tlsutil.NewTestCert("localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	be := NewBackend()
	be.AddUser("alice", "secret")
	if srv.Backend == nil {
		srv.Backend = be
	} else if b, ok := srv.Backend.(SecretBackend); ok {
		be = b.Backend
		be.AddUser("alice", "secret")
	}
	if srv.TLSConfig == nil {
		srv.TLSConfig = cert.ServerConfig()
	}
	if srv.Hostname == "" {
		srv.Hostname = "pop.example.test"
	}
	if srv.Limits.AuthFailureDelay == 0 {
		srv.Limits.AuthFailureDelay = -1
	}
	l1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l1)
	go srv.ServeTLS(l2)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return &Env{Server: srv, Backend: be, Addr: l1.Addr().String(), TLSAddr: l2.Addr().String(), Cert: cert}
}

// CRLF turns "\n" into "\r\n" in a literal written with LF lines.
func CRLF(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }
