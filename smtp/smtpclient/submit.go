package smtpclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/posthorn/posthorn/mime"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp"
)

// Message is a message to send: its bytes through ReadAt and its size.
// *bytes.Reader and *strings.Reader are Messages; so is io.NewSectionReader
// over a file.
type Message interface {
	io.ReaderAt
	Size() int64
}

// TLSPolicy says how a connection is protected.
type TLSPolicy int

const (
	// TLSDefault is TLSImplicit for port 465 and TLSRequired otherwise in
	// a Submitter, and TLSOpportunistic in Deliver.
	TLSDefault TLSPolicy = iota
	// TLSImplicit starts TLS at once (RFC 8314), certificate verified.
	TLSImplicit
	// TLSRequired uses STARTTLS and fails without it, certificate
	// verified (RFC 7817).
	TLSRequired
	// TLSOpportunistic uses STARTTLS when offered, without verifying the
	// certificate, and falls back to plaintext if the handshake fails
	// (RFC 7435, RFC 3207 for MX delivery).
	TLSOpportunistic
	// TLSNone never uses TLS. Only for tests and trusted networks.
	TLSNone
)

// Submitter sends messages to one submission server (RFC 6409), keeping
// a few connections open for the next message. It is safe for concurrent
// use; each call takes a connection of its own. The zero value is not
// useful: set Addr. A Submitter must not be copied after first use.
//
// # Pooled connections
//
// Servers drop idle connections (Postfix after 5 minutes, many sooner), so
// a pooled connection may be dead when a message comes. Before reusing one
// the Submitter checks, without a round trip, that the server has not
// closed it or said goodbye; one idle longer than NoopAfter is checked
// with NOOP; one idle longer than MaxIdleTime is closed instead. A send
// that fails before the server answered MAIL (nothing can have been
// accepted) is retried once on a new connection. A send whose connection
// fails after the end of the message went out is never retried: its error
// matches ErrOutcomeUnknown (RFC 5321 §6.1).
//
// # TLS and ports
//
// TLSDefault means implicit TLS on port 465 and STARTTLS, required, on any
// other port. A TLS mode that does not fit the port fails fast with an
// error matching ErrTLSMismatch: a plaintext connection gets no greeting
// within GreetingTimeout from an implicit-TLS port, and an implicit-TLS
// handshake gets a plaintext reply from a STARTTLS port.
//
// # Errors
//
// Every error is an *OpError naming the phase (sign, dial, tls, greeting,
// ehlo, starttls, auth, mail, rcpt, data) and the server, wrapping the
// cause: the error of Sign, an *smtp.Error for a refusal, *PartialError when some recipients were
// refused, RecipientErrors, sasl.ErrAuthFailed for wrong credentials
// (535 5.7.8, RFC 4954 §6), ErrOutcomeUnknown, ErrTLSMismatch, a net.Error
// or a context error.
type Submitter struct {
	// Addr is the server, "host:port" (587 STARTTLS, 465 implicit TLS).
	Addr string
	// TLS is the TLS policy; TLSDefault derives it from the port.
	TLS TLSPolicy
	// Auth, when not nil, authenticates every connection with the
	// strongest mechanism offered that it allows (see sasl.ClientOptions).
	// Its TLS, ChannelBinding and AllowPlaintext fields are taken from
	// the connection and Options.AllowInsecureAuth.
	Auth *sasl.ClientOptions
	// Credentials, when not nil, is called for every new connection and
	// its result used as Auth: for tokens that expire (OAUTHBEARER,
	// XOAUTH2) or secrets that rotate. It takes precedence over Auth.
	Credentials func(ctx context.Context) (sasl.ClientOptions, error)
	// Options configure the connections.
	Options Options
	// MaxIdle is how many connections are kept open between messages;
	// 0 means 2, negative means none.
	MaxIdle int
	// MaxConns caps the connections open at once, idle or busy; callers
	// beyond it wait for one (honouring their ctx). 0 means 10: a
	// submission server limits connections per client address (ours to
	// 20 by default), and more would be refused with 421.
	MaxConns int
	// MaxIdleTime closes a pooled connection idle longer than this instead
	// of reusing it; 0 means 1 minute.
	MaxIdleTime time.Duration
	// NoopAfter sends NOOP on a pooled connection idle longer than this
	// before reusing it; 0 means 5 s, negative never.
	NoopAfter time.Duration
	// GreetingTimeout bounds the wait for the greeting on a plaintext
	// connection, where a silent server most likely expects implicit TLS;
	// 0 means 5 s. A submission server greets at once. (Options.Timeouts
	// .Greeting, when set, is used instead.)
	GreetingTimeout time.Duration
	// Sign, when not nil, is applied to every message before it is sent,
	// once (a retry sends the same result): for a DKIM signature, see
	// SignFunc. An error fails the submission before anything is sent.
	Sign SignFunc

	mu    sync.Mutex
	idle  []pooled
	open  int           // connections open, idle or busy
	freed chan struct{} // signalled when open drops below MaxConns
}

type pooled struct {
	c     *Client
	since time.Time
}

// SubmitOptions are the options of the package-level Submit: the same as
// a Submitter's.
type SubmitOptions struct {
	// TLS is the TLS policy; TLSDefault derives it from the port.
	TLS TLSPolicy
	// Options configure the connection: a TLSConfig that trusts a custom
	// certificate (RootCAs), timeouts, a Dialer.
	Options Options
	// GreetingTimeout is as in Submitter.
	GreetingTimeout time.Duration
	// Sign is as in Submitter.
	Sign SignFunc
}

// SignFunc transforms a message on its way out, typically adding a
// DKIM-Signature field in front of it. It reads msg, which does not change
// until the result is no longer read, and returns the message to send. A
// DKIM signer fits in a line and signs in constant memory, reading the
// message once to hash it and again as it is sent:
//
//	s.Sign = func(ctx context.Context, m smtpclient.Message) (smtpclient.Message, error) {
//		return dkim.SignStored(m, m.Size(), opts) // *dkim.Signed is a Message
//	}
//
// (Check the error before using the result: a nil *dkim.Signed is not a
// nil Message.)
type SignFunc func(ctx context.Context, msg Message) (Message, error)

// Submit sends msg from one sender to its recipients through the
// submission server addr: STARTTLS required (or implicit TLS on port 465),
// then AUTH with auth when not nil. opts may be nil. Errors are as for
// Submitter.Submit.
func Submit(ctx context.Context, addr string, auth *sasl.ClientOptions, from string, to []string, msg Message, opts *SubmitOptions) ([]RecipientResult, error) {
	s := &Submitter{Addr: addr, Auth: auth, MaxIdle: -1}
	if opts != nil {
		s.TLS, s.Options, s.GreetingTimeout, s.Sign = opts.TLS, opts.Options, opts.GreetingTimeout, opts.Sign
	}
	return s.Submit(ctx, &Envelope{From: from, To: to}, msg)
}

// Submit sends one message over a pooled or new connection. The error is
// an *OpError (see Submitter); it is nil only when every recipient was
// accepted, and a *PartialError (errors.Is ErrPartial) when some were.
func (s *Submitter) Submit(ctx context.Context, env *Envelope, msg Message) ([]RecipientResult, error) {
	if s.Sign != nil {
		signed, err := s.Sign(ctx, msg)
		if err != nil {
			return nil, &OpError{Phase: PhaseSign, Addr: s.Addr, Err: err}
		}
		msg = signed
	}
	for attempt := 0; ; attempt++ {
		c, err := s.get(ctx)
		if err != nil {
			return nil, err
		}
		res, err := c.Send(ctx, env, msg, msg.Size())
		if err != nil && c.broken != nil && ctx.Err() == nil {
			var se *smtp.Error
			closing := errors.As(err, &se) && se.Code == 421 && !errors.Is(err, ErrPartial)
			switch {
			case closing && attempt == 0:
				// 421: the server refused the whole transaction and
				// closed the channel (RFC 5321 §3.8), so nothing was
				// accepted: a new connection may try again.
				s.discard(c)
				continue
			case closing:
			case c.endSent:
				err = fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
			case !c.mailReplied && attempt == 0:
				// The server answered nothing of this transaction, so
				// it accepted nothing: a new connection may try again.
				s.discard(c)
				continue
			}
		}
		phase := PhaseData
		switch {
		case err == nil:
		case !c.mailReplied:
			phase = PhaseMail
		case isRcptFailure(err), errors.Is(err, ErrPartial) && !c.opts.LMTP:
			// In SMTP only RCPT refuses single recipients.
			phase = PhaseRcpt
		}
		s.put(ctx, c)
		if err != nil {
			err = s.opErr(phase, err)
		}
		return res, err
	}
}

// SubmitBuilder builds b and submits it. The envelope sender is b.Sender,
// or else b.From; the recipients are b.Recipients(): To, Cc and Bcc (Bcc
// never appears in the header, RFC 5322 §3.6.3). The message is built in
// memory, so a retry can read it again; for large attachments build it
// into a file and call Submit with an io.SectionReader over it. Errors are
// a *mime.BuildError from building, else as for Submit.
func (s *Submitter) SubmitBuilder(ctx context.Context, b *mime.Builder) ([]RecipientResult, error) {
	msg, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	from := b.From
	if b.Sender != nil {
		from = b.Sender
	}
	if from == nil {
		return nil, &mime.BuildError{Field: "From", Reason: "missing"}
	}
	return s.Submit(ctx, &Envelope{From: from.Addr(), To: b.Recipients()}, bytes.NewReader(msg))
}

// isRcptFailure reports whether err is a refusal of the recipients (no
// DATA followed): RecipientErrors without a transaction-level error.
func isRcptFailure(err error) bool {
	var re RecipientErrors
	return errors.As(err, &re) && !errors.Is(err, ErrPartial)
}

func (s *Submitter) opErr(phase Phase, err error) error {
	var oe *OpError
	if errors.As(err, &oe) {
		return err
	}
	return &OpError{Phase: phase, Addr: s.Addr, Err: err}
}

// Dial opens a connection to the server with the Submitter's TLS policy
// and authentication. It does not count against MaxConns. Errors are
// *OpError values, as for Submit.
func (s *Submitter) Dial(ctx context.Context) (*Client, error) {
	policy := s.TLS
	if policy == TLSDefault {
		policy = TLSRequired
		if _, port, _ := net.SplitHostPort(s.Addr); port == "465" {
			policy = TLSImplicit
		}
	}
	o := s.Options
	if o.Timeouts.Greeting == 0 && policy != TLSImplicit {
		o.Timeouts.Greeting = s.GreetingTimeout
		if o.Timeouts.Greeting == 0 {
			o.Timeouts.Greeting = 5 * time.Second
		}
	}
	c, err := s.dialRetry(ctx, &o, policy)
	if err != nil {
		return nil, err
	}
	auth := s.Auth
	if s.Credentials != nil {
		a, err := s.Credentials(ctx)
		if err != nil {
			_ = c.Close()
			return nil, s.opErr(PhaseAuth, err)
		}
		auth = &a
	}
	if auth != nil {
		if err := c.loginWith(ctx, *auth); err != nil {
			_ = c.Close()
			return nil, s.opErr(PhaseAuth, err)
		}
	}
	return c, nil
}

// connectRetries and connectBackoff govern retries of a connection that
// the server refuses with 421 at the greeting or EHLO (too many
// connections, RFC 5321 §3.8): three more tries, 250 ms apart, doubling.
const (
	connectRetries = 3
	connectBackoff = 250 * time.Millisecond
)

func (s *Submitter) dialRetry(ctx context.Context, o *Options, policy TLSPolicy) (*Client, error) {
	wait := connectBackoff
	for try := 0; ; try++ {
		c, err := s.dialOnce(ctx, o, policy)
		var se *smtp.Error
		if err == nil || try == connectRetries || !errors.As(err, &se) || se.Code != 421 {
			return c, err
		}
		// Jitter, so that waiting callers do not come back together.
		d := wait/2 + time.Duration(rand.Int64N(int64(wait)))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
		wait *= 2
	}
}

// dialOnce connects and applies the TLS policy, naming the phase of any
// failure.
func (s *Submitter) dialOnce(ctx context.Context, o *Options, policy TLSPolicy) (*Client, error) {
	conn, err := dial(ctx, s.Addr, *o)
	if err != nil {
		return nil, s.opErr(PhaseDial, err)
	}
	if policy == TLSImplicit {
		tc := tls.Client(conn, clientTLSConfig(o.TLSConfig, hostOf(s.Addr)))
		hctx, cancel := context.WithTimeout(ctx, dialTimeout(*o))
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			_ = conn.Close()
			var rhe tls.RecordHeaderError
			if errors.As(err, &rhe) {
				err = fmt.Errorf("%w: the server answered the TLS handshake in plaintext (%q); the port likely expects STARTTLS (use TLSRequired, as on port 587): %w",
					ErrTLSMismatch, bytes.TrimRight(rhe.RecordHeader[:], "\x00"), err)
			}
			return nil, s.opErr(PhaseTLS, err)
		}
		conn = tc
	}
	c, err := newClient(ctx, conn, hostOf(s.Addr), *o)
	if err != nil {
		_ = conn.Close()
		var ne net.Error
		if policy != TLSImplicit && ctx.Err() == nil && errors.As(err, &ne) && ne.Timeout() {
			err = fmt.Errorf("%w: no greeting within %v; the port likely expects implicit TLS (use TLSImplicit, as on port 465): %w",
				ErrTLSMismatch, o.Timeouts.Greeting, err)
		}
		return nil, s.opErr(PhaseGreeting, err)
	}
	c.tls = policy == TLSImplicit
	if err := c.ensureHello(ctx); err != nil {
		_ = c.Close()
		return nil, s.opErr(PhaseHello, err)
	}
	switch policy {
	case TLSRequired:
		if err := c.StartTLS(ctx, nil); err != nil {
			_ = c.Close()
			return nil, s.opErr(PhaseStartTLS, err)
		}
	case TLSOpportunistic:
		if _, ok := c.Extension("STARTTLS"); ok {
			cfg := clientTLSConfig(o.TLSConfig, hostOf(s.Addr))
			cfg.InsecureSkipVerify = true // RFC 7435: encrypt without authenticating
			if err := c.StartTLS(ctx, cfg); err != nil {
				_ = c.Close()
				return nil, s.opErr(PhaseStartTLS, err)
			}
		}
	}
	return c, nil
}

// dialPolicy connects and applies a TLS policy (Deliver's path).
func dialPolicy(ctx context.Context, addr string, o *Options, policy TLSPolicy) (*Client, error) {
	if policy == TLSImplicit {
		return DialTLS(ctx, addr, o)
	}
	c, err := Dial(ctx, addr, o)
	if err != nil {
		return nil, err
	}
	switch policy {
	case TLSNone:
		return c, nil
	case TLSRequired:
		if err := c.StartTLS(ctx, nil); err != nil {
			_ = c.Close()
			return nil, err
		}
		return c, nil
	}
	// Opportunistic.
	if err := c.ensureHello(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	if _, ok := c.Extension("STARTTLS"); !ok {
		return c, nil
	}
	cfg := clientTLSConfig(o.TLSConfig, hostOf(addr))
	cfg.InsecureSkipVerify = true // RFC 7435: encrypt without authenticating
	if err := c.StartTLS(ctx, cfg); err != nil {
		_ = c.Close()
		var oe *net.OpError
		if errors.As(err, &oe) || errors.Is(err, ErrClosed) || ctx.Err() != nil {
			return nil, err
		}
		// Handshake refused: fall back to plaintext on a new connection.
		c, err = Dial(ctx, addr, o)
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (s *Submitter) maxConns() int {
	if s.MaxConns > 0 {
		return s.MaxConns
	}
	return 10
}

// get returns a healthy pooled connection, or dials a new one once a slot
// under MaxConns is free.
func (s *Submitter) get(ctx context.Context) (*Client, error) {
	for {
		s.mu.Lock()
		if n := len(s.idle); n > 0 {
			p := s.idle[n-1]
			s.idle = s.idle[:n-1]
			s.mu.Unlock()
			if s.healthy(ctx, p) {
				return p.c, nil
			}
			s.discard(p.c)
			continue
		}
		if s.open < s.maxConns() {
			s.open++
			s.mu.Unlock()
			c, err := s.Dial(ctx)
			if err != nil {
				s.release()
				return nil, err
			}
			return c, nil
		}
		if s.freed == nil {
			s.freed = make(chan struct{})
		}
		freed := s.freed
		s.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return nil, s.opErr(PhaseDial, ctx.Err())
		}
	}
}

// healthy checks a pooled connection before reuse: not idle too long, not
// closed or spoken to by the server meanwhile (no round trip), and, after
// NoopAfter, answering NOOP.
func (s *Submitter) healthy(ctx context.Context, p pooled) bool {
	idle := time.Since(p.since)
	maxIdle := s.MaxIdleTime
	if maxIdle <= 0 {
		maxIdle = time.Minute
	}
	if p.c.broken != nil || idle > maxIdle || p.c.br.Buffered() > 0 || !connQuiet(p.c.conn) {
		return false
	}
	if max := p.c.limit("MAILMAX"); max > 0 && p.c.transactions >= max {
		// RFC 9422 §4.2: the server would refuse the next MAIL.
		return false
	}
	noop := s.NoopAfter
	if noop == 0 {
		noop = 5 * time.Second
	}
	if noop > 0 && idle > noop {
		return p.c.Noop(ctx) == nil
	}
	return true
}

// limit returns the value of a LIMITS parameter (RFC 9422) the server
// announced, or 0.
func (c *Client) limit(name string) int {
	params, ok := c.ext["LIMITS"]
	if !ok {
		return 0
	}
	for _, f := range strings.Fields(params) {
		if k, v, ok := strings.Cut(f, "="); ok && strings.EqualFold(k, name) {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				return n
			}
		}
	}
	return 0
}

// discard closes a connection that is not reused and frees its slot.
func (s *Submitter) discard(c *Client) {
	_ = c.Close()
	s.release()
}

// release frees one connection slot and wakes the waiting callers.
func (s *Submitter) release() {
	s.mu.Lock()
	s.open--
	if s.freed != nil {
		close(s.freed)
		s.freed = nil
	}
	s.mu.Unlock()
}

func (s *Submitter) put(ctx context.Context, c *Client) {
	max := s.MaxIdle
	if max == 0 {
		max = 2
	}
	if c.broken != nil {
		s.discard(c)
		return
	}
	s.mu.Lock()
	if len(s.idle) < max {
		s.idle = append(s.idle, pooled{c: c, since: time.Now()})
		if s.freed != nil {
			// A waiter can take this connection.
			close(s.freed)
			s.freed = nil
		}
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	_ = c.Quit(ctx)
	s.release()
}

// Close sends QUIT on the idle connections and closes them.
func (s *Submitter) Close(ctx context.Context) error {
	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, p := range idle {
		_ = p.c.Quit(ctx)
		s.release()
	}
	return nil
}
