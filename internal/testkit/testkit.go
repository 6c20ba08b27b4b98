// Package testkit is the plumbing the three test-kit packages share
// (smtp/smtptest, imap/imaptest, pop3/pop3test): one test certificate per
// process, loopback listeners, user credentials and the waiting primitive.
package testkit

import (
	"context"
	"crypto/tls"
	"net"
	"sync"

	"github.com/posthorn/posthorn/internal/tlsutil"
	"github.com/posthorn/posthorn/sasl"
)

// cert is made once per process: an ECDSA P-256 certificate for
// 127.0.0.1, ::1 and localhost. It is never changed after it is made.
var cert = sync.OnceValues(func() (*tlsutil.TestCert, error) { return tlsutil.NewTestCert() })

// Cert returns the process's test certificate.
func Cert() (*tlsutil.TestCert, error) { return cert() }

// Listen listens on 127.0.0.1:0, or on [::1]:0 where IPv4 loopback is
// missing (as httptest does).
func Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err == nil {
		return ln, nil
	}
	if ln6, err6 := net.Listen("tcp6", "[::1]:0"); err6 == nil {
		return ln6, nil
	}
	return nil, err
}

// ServerTLS returns a server configuration with the process certificate.
func ServerTLS() (*tls.Config, error) {
	c, err := cert()
	if err != nil {
		return nil, err
	}
	return c.ServerConfig(), nil
}

// Users is a set of user names and passwords for a test server's AUTH;
// it implements sasl.PasswordVerifier and sasl.SecretLookup. Safe for
// concurrent use.
type Users struct {
	mu  sync.RWMutex
	pw  map[string]string
	Alt sasl.PasswordVerifier // asked for names not in the set (a shared store)
}

// Add adds or replaces a user.
func (u *Users) Add(name, password string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.pw == nil {
		u.pw = make(map[string]string)
	}
	u.pw[name] = password
}

// VerifyPassword implements sasl.PasswordVerifier.
func (u *Users) VerifyPassword(ctx context.Context, name, password string) error {
	u.mu.RLock()
	p, ok := u.pw[name]
	u.mu.RUnlock()
	switch {
	case ok && p == password:
		return nil
	case ok || u.Alt == nil:
		return sasl.ErrAuthFailed
	}
	return u.Alt.VerifyPassword(ctx, name, password)
}

// LookupSecret implements sasl.SecretLookup (CRAM-MD5, APOP).
func (u *Users) LookupSecret(_ context.Context, name string) (string, error) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	if p, ok := u.pw[name]; ok {
		return p, nil
	}
	return "", sasl.ErrUnknownUser
}

// Signal wakes waiters when something changes: Wait returns a channel
// that is closed at the next Notify.
type Signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// Wait returns a channel closed by the next Notify.
func (s *Signal) Wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Notify wakes every current waiter.
func (s *Signal) Notify() {
	s.mu.Lock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
	s.mu.Unlock()
}
