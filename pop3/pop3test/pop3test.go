// Package pop3test runs real POP3 servers inside tests, in the manner of
// net/http/httptest: a server on a loopback port over an in-memory store,
// users made in code, messages placed straight into maildrops, and a ready
// client that trusts the server's certificate.
//
//	srv := pop3test.NewServer(t)                 // closed by t.Cleanup
//	srv.AddUser("bob", "pw")
//	srv.Deliver(ctx, "bob", rawMessage)
//	c, _ := srv.Client(ctx)                      // STLS done
//
// Store is the server's imapmem.Store: give it to an smtp/smtptest server
// (its Store field) to read over POP3 the mail that server accepts, or to
// an imap/imaptest server (its Store field, before Start) to see POP3
// deletions over IMAP. LoginError and FailUsers make logins fail,
// SetCommandFaults makes commands fail (every time, the first k times, for
// one user) and Withhold leaves capabilities out of CAPA, for testing an
// application's failure paths.
package pop3test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
	"github.com/posthorn/posthorn/internal/testkit"
	"github.com/posthorn/posthorn/pop3"
	"github.com/posthorn/posthorn/pop3/pop3client"
	"github.com/posthorn/posthorn/pop3/pop3server"
	"github.com/posthorn/posthorn/sasl"
)

// Server is a POP3 server for a test. Its exported fields may be set
// between NewUnstartedServer and Start.
type Server struct {
	// Addr is the server's "host:port", set by Start.
	Addr string
	// Server is the underlying server (Limits, Expire, LoginDelay,
	// EnableAPOP, ...). Its Backend and Auth are set by Start.
	Server *pop3server.Server
	// Store holds the accounts and mail; replace it before Start to share
	// another.
	Store *imapmem.Store
	// LoginError, when set, fails every login (for the users in FailUsers,
	// or everyone when it is empty) with this error: a *pop3.Error with a
	// code such as [AUTH], [SYS/TEMP] or [IN-USE].
	LoginError error
	FailUsers  []string
	// Withhold lists capabilities left out of CAPA (by their first word:
	// "TOP", "UIDL", "SASL", "STLS", "PIPELINING"...), to test how a
	// client copes without them. The commands themselves still work.
	Withhold []string

	kit    testkit.Lifecycle
	faults testkit.Faults
}

// CommandFault makes a command fail, for testing how an application
// handles a refusal.
type CommandFault struct {
	// Command is the command's name ("RETR", "DELE", "STAT").
	Command string
	// User limits the fault to one user; "" means anyone.
	User string
	// Times limits the fault to the first Times matching commands; 0
	// means every one.
	Times int
	// Reply is the answer; nil means "-ERR command failed (test fault)".
	Reply *pop3.Error
}

// SetCommandFaults replaces the command faults; safe while the server
// runs.
func (s *Server) SetCommandFaults(f ...CommandFault) {
	list := make([]testkit.Fault, len(f))
	for i, x := range f {
		list[i] = testkit.Fault{Command: x.Command, User: x.User, Times: x.Times}
		if x.Reply != nil {
			list[i].Reply = x.Reply
		}
	}
	s.faults.Set(list)
}

func (s *Server) commandFilter(_ context.Context, cmd pop3server.CommandInfo) error {
	reply, ok := s.faults.Match(cmd.Name, cmd.Username)
	switch {
	case !ok:
		return nil
	case reply != nil:
		return reply
	}
	return &pop3.Error{Text: "command failed (test fault)"}
}

// capabilityFilter leaves out the withheld capabilities, by the first
// word of each CAPA line.
func (s *Server) capabilityFilter(caps []string) []string {
	out := caps[:0:0]
	for _, c := range caps {
		word, _, _ := strings.Cut(c, " ")
		if !testkit.Withheld(s.Withhold, word) {
			out = append(out, c)
		}
	}
	return out
}

// NewServer starts a server on a loopback port, offering STLS, over a new
// in-memory store; it is closed when the test ends (t may be nil outside
// tests: then call Close).
func NewServer(t testing.TB) *Server {
	s := NewUnstartedServer(t)
	s.Start()
	return s
}

// NewTLSServer starts a server with implicit TLS (as on port 995).
func NewTLSServer(t testing.TB) *Server {
	s := NewUnstartedServer(t)
	s.StartTLS()
	return s
}

// NewUnstartedServer returns a server to configure; call Start or
// StartTLS.
func NewUnstartedServer(t testing.TB) *Server {
	s := &Server{Store: imapmem.New(), kit: testkit.Lifecycle{Name: "pop3test", T: t}}
	tc, err := testkit.ServerTLS()
	if err != nil {
		s.kit.Fatal(err)
	}
	s.Server = &pop3server.Server{Hostname: "localhost", TLSConfig: tc}
	return s
}

// Start starts the server (plaintext with STLS).
func (s *Server) Start() { s.start(false) }

// StartTLS starts the server with implicit TLS.
func (s *Server) StartTLS() { s.start(true) }

func (s *Server) start(implicit bool) {
	fs := &faultStore{Store: s.Store, s: s}
	s.Server.Backend = pop3server.NewStoreBackend(fs)
	s.Server.Auth = &sasl.Registry{Credentials: fs}
	s.Server.CommandFilter = s.commandFilter
	if len(s.Withhold) > 0 {
		s.Server.CapabilityFilter = s.capabilityFilter
	}
	s.kit.Start(implicit, nil, s.Server.Serve, s.Server.ServeTLS, s.Server.Shutdown)
	s.Addr = s.kit.Addr
}

// Close shuts the server down and waits for it. It may be called more
// than once.
func (s *Server) Close() { s.kit.Close() }

// AddUser adds an account with a password.
func (s *Server) AddUser(name, password string) {
	if err := s.Store.AddUser(name, password); err != nil {
		s.kit.Fatal(err)
	}
}

// Deliver places a message in the user's maildrop (the INBOX).
func (s *Server) Deliver(ctx context.Context, user string, raw []byte) error {
	_, err := s.Store.DeliverTo(ctx, user, "INBOX", bytes.NewReader(raw), nil, time.Time{})
	return err
}

// Certificate returns the server's certificate.
func (s *Server) Certificate() *x509.Certificate { return s.kit.Certificate() }

// ClientTLSConfig returns a client configuration that trusts the server.
func (s *Server) ClientTLSConfig() *tls.Config { return s.kit.ClientTLSConfig() }

// Client returns a client connected over TLS (implicit, or STLS) and not
// yet logged in. The caller closes it.
func (s *Server) Client(ctx context.Context) (*pop3client.Client, error) {
	o := &pop3client.Options{TLSConfig: s.ClientTLSConfig()}
	if s.kit.Implicit {
		return pop3client.DialTLS(ctx, s.Addr, o)
	}
	c, err := pop3client.Dial(ctx, s.Addr, o)
	if err != nil {
		return nil, err
	}
	if err := c.StartTLS(ctx, nil); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// faultStore is the Store with LoginError injected.
type faultStore struct {
	*imapmem.Store
	s *Server
}

func (f *faultStore) fail(user string) error {
	return testkit.LoginFailure(f.s.LoginError, f.s.FailUsers, user)
}

func (f *faultStore) VerifyPassword(ctx context.Context, user, password string) error {
	if err := f.fail(user); err != nil {
		return err
	}
	return f.Store.VerifyPassword(ctx, user, password)
}

func (f *faultStore) LookupSCRAM(ctx context.Context, user string, h sasl.SCRAMHash) (sasl.SCRAMKeys, error) {
	if err := f.fail(user); err != nil {
		return sasl.SCRAMKeys{}, err
	}
	return f.Store.LookupSCRAM(ctx, user, h)
}

func (f *faultStore) LockMaildrop(ctx context.Context, user string) ([]string, []int64, func(), error) {
	if err := f.fail(user); err != nil {
		return nil, nil, nil, err
	}
	return f.Store.LockMaildrop(ctx, user)
}
