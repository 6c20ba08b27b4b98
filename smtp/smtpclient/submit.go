package smtpclient

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"

	"github.com/posthorn/posthorn/sasl"
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
// use; each call takes a connection of its own.
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
	// Options configure the connections.
	Options Options
	// MaxIdle is how many connections are kept open between messages;
	// 0 means 2, negative means none.
	MaxIdle int

	mu   sync.Mutex
	idle []*Client
}

// Submit sends msg from one sender to its recipients through the
// submission server addr: STARTTLS required (or implicit TLS on port 465),
// then AUTH with auth when not nil.
func Submit(ctx context.Context, addr string, auth *sasl.ClientOptions, from string, to []string, msg Message) ([]RecipientResult, error) {
	s := &Submitter{Addr: addr, Auth: auth, MaxIdle: -1}
	return s.Submit(ctx, &Envelope{From: from, To: to}, msg)
}

// Submit sends one message over a pooled or new connection.
func (s *Submitter) Submit(ctx context.Context, env *Envelope, msg Message) ([]RecipientResult, error) {
	c, err := s.get(ctx)
	if err != nil {
		return nil, err
	}
	res, err := c.Send(ctx, env, msg, msg.Size())
	s.put(ctx, c)
	return res, err
}

// Dial opens a connection to the server with the Submitter's TLS policy
// and authentication.
func (s *Submitter) Dial(ctx context.Context) (*Client, error) {
	policy := s.TLS
	if policy == TLSDefault {
		policy = TLSRequired
		if _, port, _ := net.SplitHostPort(s.Addr); port == "465" {
			policy = TLSImplicit
		}
	}
	c, err := dialPolicy(ctx, s.Addr, &s.Options, policy)
	if err != nil {
		return nil, err
	}
	if s.Auth != nil {
		if err := c.loginWith(ctx, *s.Auth); err != nil {
			_ = c.Close()
			return nil, err
		}
	}
	return c, nil
}

// dialPolicy connects and applies a TLS policy.
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

func (s *Submitter) get(ctx context.Context) (*Client, error) {
	for {
		s.mu.Lock()
		if len(s.idle) == 0 {
			s.mu.Unlock()
			return s.Dial(ctx)
		}
		c := s.idle[len(s.idle)-1]
		s.idle = s.idle[:len(s.idle)-1]
		s.mu.Unlock()
		if c.broken == nil {
			return c, nil
		}
		_ = c.Close()
	}
}

func (s *Submitter) put(ctx context.Context, c *Client) {
	max := s.MaxIdle
	if max == 0 {
		max = 2
	}
	if c.broken != nil {
		_ = c.Close()
		return
	}
	s.mu.Lock()
	if len(s.idle) < max {
		s.idle = append(s.idle, c)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	_ = c.Quit(ctx)
}

// Close sends QUIT on the idle connections and closes them.
func (s *Submitter) Close(ctx context.Context) error {
	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, c := range idle {
		_ = c.Quit(ctx)
	}
	return nil
}
