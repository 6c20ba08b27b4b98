package smtptest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testkit"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/posthorn/posthorn/smtp/smtpserver"
)

// Server is an SMTP server for a test. Its exported fields configure it
// and may be set between NewUnstartedServer and Start; after Start only
// Faults may change, under the methods' lock (use SetFaults).
type Server struct {
	// Addr is the server's "host:port", set by Start.
	Addr string
	// Server is the underlying server: its Mode (MX, submission, LMTP),
	// Limits (MaxMessageSize is the SIZE offered), DisableExtensions
	// (withhold STARTTLS, AUTH, PIPELINING, CHUNKING, SMTPUTF8, DSN, ...),
	// Hostname, Logger and the rest. Its Backend captures messages and
	// must not be replaced.
	Server *smtpserver.Server
	// Store, when set, receives every accepted message as well, for the
	// account named by each recipient's local part (lower-cased): an
	// imapmem.Store, or the Store of an imaptest or pop3test server.
	Store smtpserver.DeliveryStore
	// RequireAuth refuses MAIL before AUTH (530 5.7.0, RFC 4954 §6), and
	// RequireTLS before STARTTLS (530 5.7.0, RFC 3207 §4).
	RequireAuth, RequireTLS bool

	kit   testkit.Lifecycle
	users testkit.Users
	sig   testkit.Signal
	ln    *trackListener

	mu       sync.Mutex
	faults   []Fault
	attempts [AtData + 1]int
	msgs     []*Message
}

// NewServer starts a server on a loopback port, offering STARTTLS, and
// closes it when the test ends. t may be nil outside tests; then call
// Close.
func NewServer(t testing.TB) *Server {
	s := NewUnstartedServer(t)
	s.Start()
	return s
}

// NewTLSServer starts a server with implicit TLS (RFC 8314, as on port
// 465).
func NewTLSServer(t testing.TB) *Server {
	s := NewUnstartedServer(t)
	s.StartTLS()
	return s
}

// NewUnstartedServer returns a server to configure; call Start or
// StartTLS.
func NewUnstartedServer(t testing.TB) *Server {
	s := &Server{kit: testkit.Lifecycle{Name: "smtptest", T: t}}
	tc, err := testkit.ServerTLS()
	if err != nil {
		s.kit.Fatal(err)
	}
	s.Server = &smtpserver.Server{
		Hostname:  "localhost",
		TLSConfig: tc,
		Backend:   backend{s},
		Auth:      &sasl.Registry{Credentials: &s.users},
	}
	return s
}

// Start starts the server (plaintext with STARTTLS).
func (s *Server) Start() { s.start(false) }

// StartTLS starts the server with implicit TLS.
func (s *Server) StartTLS() { s.start(true) }

func (s *Server) start(implicit bool) {
	if pv, ok := s.Store.(sasl.PasswordVerifier); ok {
		s.users.Alt = pv
	}
	track := func(ln net.Listener) net.Listener {
		s.ln = &trackListener{Listener: ln, conns: map[string]net.Conn{}}
		return s.ln
	}
	s.kit.Start(implicit, track, s.Server.Serve, s.Server.ServeTLS, func(ctx context.Context) error {
		err := s.Server.Shutdown(ctx)
		s.ln.closeAll()
		return err
	})
	s.Addr = s.kit.Addr
}

// Close shuts the server down, waits for its goroutines and closes the
// connections left. It may be called more than once.
func (s *Server) Close() { s.kit.Close() }

// AddUser adds an account for AUTH. With a Store that checks passwords
// itself (imapmem does), its users can log in too.
func (s *Server) AddUser(name, password string) { s.users.Add(name, password) }

// SetFaults replaces the faults; safe while the server runs.
func (s *Server) SetFaults(f ...Fault) {
	s.mu.Lock()
	s.faults = append([]Fault(nil), f...)
	s.mu.Unlock()
}

// Certificate returns the server's certificate.
func (s *Server) Certificate() *x509.Certificate { return s.kit.Certificate() }

// ClientTLSConfig returns a client configuration that trusts the server's
// certificate (ServerName "localhost").
func (s *Server) ClientTLSConfig() *tls.Config { return s.kit.ClientTLSConfig() }

// ClientOptions returns smtpclient options that trust the server.
func (s *Server) ClientOptions() *smtpclient.Options {
	return &smtpclient.Options{TLSConfig: s.ClientTLSConfig()}
}

// Client returns a client connected to the server, over TLS: implicit for
// NewTLSServer, STARTTLS otherwise when offered. The caller closes it.
func (s *Server) Client(ctx context.Context) (*smtpclient.Client, error) {
	if s.kit.Implicit {
		return smtpclient.DialTLS(ctx, s.Addr, s.ClientOptions())
	}
	c, err := smtpclient.Dial(ctx, s.Addr, s.ClientOptions())
	if err != nil {
		return nil, err
	}
	if err := c.Hello(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	if _, ok := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(ctx, nil); err != nil {
			_ = c.Close()
			return nil, err
		}
	}
	return c, nil
}

// Messages returns the messages accepted so far (since Reset), oldest
// first.
func (s *Server) Messages() []*Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Message(nil), s.msgs...)
}

// Reset forgets the captured messages and the attempt counts of Faults.
func (s *Server) Reset() {
	s.mu.Lock()
	s.msgs = nil
	s.attempts = [AtData + 1]int{}
	s.mu.Unlock()
}

// WaitForMessages blocks until at least n messages that match every
// matcher have been accepted (since Reset), and returns them all, oldest
// first. It does not poll: it wakes when a message arrives, and a message
// is visible here before the server's 250 is written. When ctx ends first
// it returns the matching messages that did arrive and a *WaitError.
func (s *Server) WaitForMessages(ctx context.Context, n int, match ...Matcher) ([]*Message, error) {
	for {
		wake := s.sig.Wait()
		s.mu.Lock()
		var got []*Message
		for _, m := range s.msgs {
			if matchAll(m, match) {
				got = append(got, m)
			}
		}
		all := len(s.msgs)
		summary := summarize(s.msgs)
		s.mu.Unlock()
		if len(got) >= n {
			return got, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return got, &WaitError{Want: n, Matched: len(got), Arrived: all, Summary: summary, Err: ctx.Err()}
		}
	}
}

// WaitForNoMessages waits for d and reports an error as soon as a message
// is accepted (or was, since Reset): for asserting that nothing was sent.
func (s *Server) WaitForNoMessages(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		wake := s.sig.Wait()
		s.mu.Lock()
		n, summary := len(s.msgs), summarize(s.msgs)
		s.mu.Unlock()
		if n > 0 {
			return fmt.Errorf("smtptest: %d message(s) arrived: %s", n, summary)
		}
		select {
		case <-wake:
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitError is returned by WaitForMessages when its context ends first.
type WaitError struct {
	Want, Matched, Arrived int
	Summary                string // one line per message that arrived
	Err                    error  // the context's error
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("smtptest: waited for %d matching message(s), %d matched of %d arrived (%v)%s", e.Want, e.Matched, e.Arrived, e.Err, e.Summary)
}

// Unwrap returns the context's error.
func (e *WaitError) Unwrap() error { return e.Err }

func summarize(ms []*Message) string {
	var b strings.Builder
	for i, m := range ms {
		if i == 10 {
			fmt.Fprintf(&b, "\n  ... and %d more", len(ms)-10)
			break
		}
		fmt.Fprintf(&b, "\n  from <%s> to %v subject %q", m.From, m.To, m.Subject)
	}
	return b.String()
}

// fault finds the fault for an attempt at a stage and counts the attempt.
func (s *Server) fault(a *Attempt) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts[a.Stage]++
	a.N = s.attempts[a.Stage]
	for i := range s.faults {
		if s.faults[i].applies(a) {
			f := s.faults[i]
			return &f
		}
	}
	return nil
}

// act carries out a fault: the delay, then the reply or the drop. It
// returns the error to answer with, nil to go on.
func (s *Server) act(ctx context.Context, f *Fault, remote net.Addr) error {
	if f == nil {
		return nil
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	if f.Drop {
		s.ln.drop(remote)
		return errDropped
	}
	if f.Reply != nil {
		return f.Reply
	}
	return nil
}

var errDropped = &smtp.Error{Code: 421, Enhanced: smtp.EnhancedCode{4, 4, 2}, Message: "connection dropped by a test fault"}

// backend is the Server's smtpserver.Backend, kept off its method set.
type backend struct{ s *Server }

func (b backend) NewSession(ctx context.Context, ci *smtpserver.ConnInfo) (smtpserver.Session, error) {
	s := b.s
	a := &Attempt{Stage: AtConnect}
	if err := s.act(ctx, s.fault(a), ci.RemoteAddr); err != nil {
		return nil, err
	}
	return &session{s: s, ci: ci}, nil
}

type session struct {
	s    *Server
	ci   *smtpserver.ConnInfo
	from string
	mo   smtp.MailOptions
	to   []string
	ro   []smtp.RcptOptions
}

func (ss *session) auth() string {
	if ss.ci.Identity != nil {
		return ss.ci.Identity.Username
	}
	return ""
}

func (ss *session) Mail(ctx context.Context, from smtp.Mailbox, opts *smtp.MailOptions) error {
	if ss.s.RequireTLS && ss.ci.TLS == nil {
		return &smtp.Error{Code: 530, Enhanced: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
	}
	if ss.s.RequireAuth && ss.ci.Identity == nil {
		return &smtp.Error{Code: 530, Enhanced: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	addr := from.String()
	if from.IsNull() {
		addr = ""
	}
	a := &Attempt{Stage: AtMail, From: addr, Auth: ss.auth()}
	if err := ss.s.act(ctx, ss.s.fault(a), ss.ci.RemoteAddr); err != nil {
		return err
	}
	ss.from, ss.mo, ss.to, ss.ro = addr, *opts, nil, nil
	return nil
}

func (ss *session) Rcpt(ctx context.Context, to smtp.Mailbox, opts *smtp.RcptOptions) error {
	a := &Attempt{Stage: AtRcpt, From: ss.from, To: to.String(), Recipients: ss.to, Auth: ss.auth()}
	if err := ss.s.act(ctx, ss.s.fault(a), ss.ci.RemoteAddr); err != nil {
		return err
	}
	ss.to = append(ss.to, to.String())
	ss.ro = append(ss.ro, *opts)
	return nil
}

func (ss *session) Data(ctx context.Context, r io.Reader) error {
	a := &Attempt{Stage: AtData, From: ss.from, Recipients: ss.to, Auth: ss.auth()}
	f := ss.s.fault(a)
	if f != nil && f.Drop {
		// Read about half of the message, then vanish.
		half := ss.mo.Size / 2
		if half <= 0 {
			half = 512
		}
		_, _ = io.CopyN(io.Discard, r, half)
		ss.s.ln.drop(ss.ci.RemoteAddr)
		return errDropped
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := ss.s.act(ctx, f, ss.ci.RemoteAddr); err != nil {
		return err
	}
	if st := ss.s.Store; st != nil {
		if err := deliver(ctx, st, ss.to, raw); err != nil {
			return err
		}
	}
	m := &Message{
		From: ss.from, To: append([]string(nil), ss.to...),
		MailOptions: ss.mo, RcptOptions: append([]smtp.RcptOptions(nil), ss.ro...),
		Hello: ss.ci.Hostname, RemoteAddr: ss.ci.RemoteAddr,
		Auth: ss.auth(), Received: time.Now(), Raw: raw,
	}
	if ss.ci.TLS != nil {
		m.TLS, m.TLSVersion = true, ss.ci.TLS.Version
	}
	if ss.ci.Identity != nil {
		m.AuthMechanism = ss.ci.Identity.Mechanism
	}
	m.parse()
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, m)
	ss.s.mu.Unlock()
	// Visible to WaitForMessages before the 250 goes out.
	ss.s.sig.Notify()
	return nil
}

// deliver hands raw to the store for the recipients' accounts (local
// parts, lower-cased, each once). It fails only when no account took it.
func deliver(ctx context.Context, st smtpserver.DeliveryStore, to []string, raw []byte) error {
	seen := map[string]bool{}
	var users []string
	for _, addr := range to {
		local, _, _ := strings.Cut(addr, "@")
		u := strings.ToLower(local)
		if !seen[u] {
			seen[u] = true
			users = append(users, u)
		}
	}
	per, err := st.DeliverMessage(ctx, users, bytes.NewReader(raw), nil)
	if err != nil {
		return err
	}
	for _, e := range per {
		if e == nil {
			return nil
		}
	}
	if len(per) > 0 {
		return per[0]
	}
	return nil
}

func (ss *session) Reset(context.Context) { ss.from, ss.to, ss.ro = "", nil, nil }

func (ss *session) Close(context.Context) error { return nil }

// trackListener remembers the connections it accepted, so a fault can
// drop one and Close can end them all.
type trackListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[string]net.Conn
}

func (l *trackListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.conns[c.RemoteAddr().String()] = c
	l.mu.Unlock()
	return &trackConn{Conn: c, l: l}, nil
}

func (l *trackListener) drop(remote net.Addr) {
	if remote == nil {
		return
	}
	l.mu.Lock()
	c := l.conns[remote.String()]
	l.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
}

func (l *trackListener) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		_ = c.Close()
	}
}

type trackConn struct {
	net.Conn
	l    *trackListener
	once sync.Once
}

func (c *trackConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c.RemoteAddr().String())
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
