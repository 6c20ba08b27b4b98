// Package testkit is the plumbing the three test-kit packages share
// (smtp/smtptest, imap/imaptest, pop3/pop3test): one test certificate per
// process, loopback listeners, user credentials and the waiting primitive.
package testkit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

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

// Lifecycle is what the three test servers share: listening on loopback,
// serving in a goroutine, shutting down once, by t.Cleanup or Close.
type Lifecycle struct {
	// Name prefixes fatal errors ("smtptest").
	Name string
	// T is the test, or nil outside tests (then errors panic).
	T testing.TB
	// Addr is set by Start.
	Addr string
	// Implicit reports whether Start served implicit TLS.
	Implicit bool

	ln       net.Listener
	done     chan struct{}
	shutdown func(context.Context) error
	mu       sync.Mutex
	closed   bool
}

// Fatal fails the test (or panics without one).
func (l *Lifecycle) Fatal(err error) {
	if l.T != nil {
		l.T.Helper()
		l.T.Fatalf("%s: %v", l.Name, err)
	}
	panic(l.Name + ": " + err.Error())
}

// Start listens, then runs serve (or serveTLS when implicit) on the
// listener in a goroutine; wrap, when not nil, wraps the listener first.
// shutdown is called by Close.
func (l *Lifecycle) Start(implicit bool, wrap func(net.Listener) net.Listener, serve, serveTLS func(net.Listener) error, shutdown func(context.Context) error) {
	if l.ln != nil {
		l.Fatal(errors.New("server already started"))
	}
	ln, err := Listen()
	if err != nil {
		l.Fatal(err)
	}
	if wrap != nil {
		ln = wrap(ln)
	}
	l.ln, l.Addr, l.Implicit, l.shutdown = ln, ln.Addr().String(), implicit, shutdown
	l.done = make(chan struct{})
	run := serve
	if implicit {
		run = serveTLS
	}
	go func() {
		defer close(l.done)
		_ = run(ln)
	}()
	if l.T != nil {
		l.T.Cleanup(l.Close)
	}
}

// Close shuts the server down (2 s for sessions to finish) and waits for
// its goroutine. It may be called more than once.
func (l *Lifecycle) Close() {
	l.mu.Lock()
	if l.closed || l.ln == nil {
		l.closed = true
		l.mu.Unlock()
		return
	}
	l.closed = true
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = l.shutdown(ctx)
	<-l.done
}

// Certificate returns the process certificate's leaf.
func (l *Lifecycle) Certificate() *x509.Certificate {
	c, err := cert()
	if err != nil {
		l.Fatal(err)
	}
	return c.Certificate.Leaf
}

// ClientTLSConfig returns a client configuration that trusts the process
// certificate (ServerName "localhost").
func (l *Lifecycle) ClientTLSConfig() *tls.Config {
	c, err := cert()
	if err != nil {
		l.Fatal(err)
	}
	return c.ClientConfig()
}

// Fault is a command fault of the IMAP and POP3 test servers, in the
// form Faults keeps: the command's name (compared without case), the user
// ("" for anyone), how many matching commands it refuses (0: every one)
// and its reply (nil: the server's default refusal).
type Fault struct {
	Command, User string
	Times         int
	Reply         error
}

// Faults picks the fault for a command: the first in the list that
// names it and its user and has refusals left. Every matching command
// counts against a fault's Times. Safe for concurrent use.
type Faults struct {
	mu     sync.Mutex
	list   []Fault
	counts []int
}

// Set replaces the faults and their counts.
func (f *Faults) Set(list []Fault) {
	f.mu.Lock()
	f.list, f.counts = list, make([]int, len(list))
	f.mu.Unlock()
}

// Match reports whether a fault refuses the command of user, and its
// reply (nil for the default refusal).
func (f *Faults) Match(command, user string) (reply error, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.list {
		if !strings.EqualFold(x.Command, command) || (x.User != "" && x.User != user) {
			continue
		}
		f.counts[i]++
		if x.Times > 0 && f.counts[i] > x.Times {
			continue
		}
		return x.Reply, true
	}
	return nil, false
}

// Withheld reports whether name is among the withheld capabilities
// (compared without case).
func Withheld(withhold []string, name string) bool {
	return slices.ContainsFunc(withhold, func(w string) bool { return strings.EqualFold(w, name) })
}

// LoginFailure is the error a test server's LoginError option gives
// user's login: err for the users listed, or for everyone when none is.
func LoginFailure(err error, users []string, user string) error {
	if err != nil && (len(users) == 0 || slices.Contains(users, user)) {
		return err
	}
	return nil
}
