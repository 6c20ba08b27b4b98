// Package imaptest runs real IMAP servers inside tests, in the manner of
// net/http/httptest: a server on a loopback port over an in-memory store,
// users made in code, messages placed straight into mailboxes, and a ready
// client that trusts the server's certificate.
//
//	srv := imaptest.NewServer(t)                 // closed by t.Cleanup
//	srv.AddUser("bob", "pw")
//	srv.Deliver(ctx, "bob", rawMessage)          // no SMTP needed
//	c, _ := srv.Client(ctx)                      // STARTTLS done
//
// # One store with SMTP and POP3
//
// Store is the server's imapmem.Store. Hand it to an smtp/smtptest server
// (its Store field) and the mail that server accepts is readable here; to a
// pop3/pop3test server and both read one maildrop.
//
// # Faults
//
// LoginError makes logins fail with the given error (an *imap.Error with
// a code such as AUTHENTICATIONFAILED or UNAVAILABLE), for all users or
// those in FailUsers; SetCommandFaults makes commands fail (every time,
// the first k times, for one user) with a chosen reply; Withhold leaves
// capabilities out of what the server advertises. The underlying Server's fields (Limits, AllowInsecureAuth,
// ...) can be set before Start.
package imaptest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/imapclient"
	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
	"github.com/posthorn/posthorn/internal/testkit"
	"github.com/posthorn/posthorn/sasl"
)

// Server is an IMAP server for a test. Its exported fields may be set
// between NewUnstartedServer and Start.
type Server struct {
	// Addr is the server's "host:port", set by Start.
	Addr string
	// Server is the underlying server. Its Backend is the Store, behind a
	// layer that injects LoginError, and must not be replaced.
	Server *imapserver.Server
	// Store holds the accounts and mail; replace it before Start to share
	// another (an imapmem.Store also given to smtptest or pop3test).
	Store *imapmem.Store

	// LoginError, when set, fails LOGIN and AUTHENTICATE with this error
	// (for the users in FailUsers, or everyone when FailUsers is empty).
	LoginError error
	FailUsers  []string
	// Withhold lists capabilities left out of what the server advertises
	// ("IDLE", "MOVE", "COMPRESS=DEFLATE", "AUTH=PLAIN"...), to test how
	// a client copes without them. The commands themselves still work.
	Withhold []string

	kit    testkit.Lifecycle
	faults testkit.Faults
}

// CommandFault makes a command fail, for testing how an application
// handles a refusal.
type CommandFault struct {
	// Command is the command's name ("SELECT", "APPEND"); "UID FETCH"
	// names the UID form.
	Command string
	// User limits the fault to one user; "" means anyone.
	User string
	// Times limits the fault to the first Times matching commands; 0
	// means every one.
	Times int
	// Reply is the tagged reply; nil means "NO Command failed (test
	// fault)".
	Reply *imap.Error
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

// commandFilter is the Server's CommandFilter: the first fault that
// applies refuses the command.
func (s *Server) commandFilter(_ context.Context, cmd imapserver.CommandInfo) error {
	name := cmd.Name
	if cmd.UID {
		name = "UID " + name
	}
	reply, ok := s.faults.Match(name, cmd.Username)
	switch {
	case !ok:
		return nil
	case reply != nil:
		return reply
	}
	return imap.NoError("", "Command failed (test fault)")
}

// capabilityFilter leaves out the withheld capabilities.
func (s *Server) capabilityFilter(caps []string) []string {
	out := caps[:0:0]
	for _, c := range caps {
		if !testkit.Withheld(s.Withhold, c) {
			out = append(out, c)
		}
	}
	return out
}

// NewServer starts a server on a loopback port, offering STARTTLS, over a
// new in-memory store; it is closed when the test ends (t may be nil
// outside tests: then call Close).
func NewServer(t testing.TB) *Server {
	s := NewUnstartedServer(t)
	s.Start()
	return s
}

// NewTLSServer starts a server with implicit TLS (as on port 993).
func NewTLSServer(t testing.TB) *Server {
	s := NewUnstartedServer(t)
	s.StartTLS()
	return s
}

// NewUnstartedServer returns a server to configure; call Start or
// StartTLS.
func NewUnstartedServer(t testing.TB) *Server {
	s := &Server{Store: imapmem.New(), kit: testkit.Lifecycle{Name: "imaptest", T: t}}
	tc, err := testkit.ServerTLS()
	if err != nil {
		s.kit.Fatal(err)
	}
	s.Server = &imapserver.Server{Hostname: "localhost", TLSConfig: tc}
	return s
}

// Start starts the server (plaintext with STARTTLS).
func (s *Server) Start() { s.start(false) }

// StartTLS starts the server with implicit TLS.
func (s *Server) StartTLS() { s.start(true) }

func (s *Server) start(implicit bool) {
	s.Server.Backend = &faultBackend{Store: s.Store, s: s}
	s.Server.CommandFilter = s.commandFilter
	if len(s.Withhold) > 0 {
		s.Server.CapabilityFilter = s.capabilityFilter
	}
	s.kit.Start(implicit, nil, s.Server.Serve, s.Server.ServeTLS, func(ctx context.Context) error {
		err := s.Server.Shutdown(ctx)
		_ = s.Server.Close()
		return err
	})
	s.Addr = s.kit.Addr
}

// Close shuts the server down and waits for it. It may be called more
// than once.
func (s *Server) Close() { s.kit.Close() }

// AddUser adds an account with a password (kept as SCRAM keys too).
func (s *Server) AddUser(name, password string) {
	if err := s.Store.AddUser(name, password); err != nil {
		s.kit.Fatal(err)
	}
}

// Deliver places a message in the user's INBOX, as a delivery would, and
// returns its UID.
func (s *Server) Deliver(ctx context.Context, user string, raw []byte) (uint32, error) {
	return s.Store.DeliverTo(ctx, user, "INBOX", bytes.NewReader(raw), nil, time.Time{})
}

// DeliverTo places a message in a mailbox with flags.
func (s *Server) DeliverTo(ctx context.Context, user, mailbox string, raw []byte, flags ...string) (uint32, error) {
	return s.Store.DeliverTo(ctx, user, mailbox, bytes.NewReader(raw), flags, time.Time{})
}

// Certificate returns the server's certificate.
func (s *Server) Certificate() *x509.Certificate { return s.kit.Certificate() }

// ClientTLSConfig returns a client configuration that trusts the server.
func (s *Server) ClientTLSConfig() *tls.Config { return s.kit.ClientTLSConfig() }

// Client returns a client connected over TLS (implicit, or STARTTLS) and
// not yet logged in. The caller closes it.
func (s *Server) Client(ctx context.Context) (*imapclient.Client, error) {
	o := &imapclient.Options{TLSConfig: s.ClientTLSConfig()}
	if s.kit.Implicit {
		return imapclient.DialTLS(ctx, s.Addr, o)
	}
	return imapclient.DialStartTLS(ctx, s.Addr, o)
}

// faultBackend is the Store with LoginError injected.
type faultBackend struct {
	*imapmem.Store
	s *Server
}

func (b *faultBackend) fail(user string) error {
	return testkit.LoginFailure(b.s.LoginError, b.s.FailUsers, user)
}

func (b *faultBackend) VerifyPassword(ctx context.Context, user, password string) error {
	if err := b.fail(user); err != nil {
		return err
	}
	return b.Store.VerifyPassword(ctx, user, password)
}

func (b *faultBackend) LookupSCRAM(ctx context.Context, user string, h sasl.SCRAMHash) (sasl.SCRAMKeys, error) {
	if err := b.fail(user); err != nil {
		return sasl.SCRAMKeys{}, err
	}
	return b.Store.LookupSCRAM(ctx, user, h)
}

func (b *faultBackend) User(ctx context.Context, user string, info *imapserver.ConnInfo) (imapserver.User, error) {
	if err := b.fail(user); err != nil {
		return nil, err
	}
	return b.Store.User(ctx, user, info)
}
