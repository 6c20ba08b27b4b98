package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/posthorn/posthorn/internal/limit"
	"github.com/posthorn/posthorn/internal/proxyproto"
)

// Conn is one accepted connection as the protocol serves it. The shell
// calls Serve once, on the connection's own goroutine; Shutdown and
// Abort come from the goroutine running Shell.Shutdown, at most once
// each, Shutdown first. A protocol gets Shutdown and Abort by embedding
// a Stop.
type Conn interface {
	// Serve runs the session until it ends.
	Serve()
	// Shutdown asks the session to end with the protocol's goodbye: at
	// once when it waits for a command, otherwise once the transaction
	// in flight is done.
	Shutdown()
	// Abort ends the session now, with the protocol's goodbye where the
	// session can still send one.
	Abort()
}

// Config is what a server tells its Shell.
type Config struct {
	// Name is the server package's name, for errors.
	Name string
	// TLS is the server's TLS configuration for implicit TLS, nil if it
	// has none.
	TLS *tls.Config
	// ErrClosed is what Serve returns after Shutdown or Close: the
	// server package's ErrServerClosed.
	ErrClosed error
	// Proxy configures the PROXY protocol header (off without Trusted).
	Proxy proxyproto.Config
	// Limits are the connection limits (negative: no limit).
	Limits limit.ConnLimits
	// HandshakeTimeout bounds the TLS handshake of implicit TLS.
	HandshakeTimeout time.Duration
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
	// Connect and Disconnect are the server's Hooks.
	Connect, Disconnect func(ConnEvent)
	// Refusal returns the protocol's line (with CRLF) that turns a
	// connection away, why being "too many connections" or "shutting
	// down": SMTP's 421, IMAP's BYE, POP3's -ERR [SYS/TEMP].
	Refusal func(why string) string
	// NewConn makes the protocol's session for an accepted connection,
	// after the PROXY header and within the connection limits, before
	// the implicit TLS handshake; ip is the client address. Every served
	// connection passes through here, so a wire trace wraps nc here.
	NewConn func(nc net.Conn, ip netip.Addr) Conn
}

// Refusal reasons, as ConnEvent.Refused reports them.
const (
	RefusedLimit    = "too many connections"
	RefusedShutdown = "shutting down"
)

// abortGrace is how long Shutdown waits, once its context is done and
// the remaining sessions were aborted, for them to send their goodbye
// before it closes their connections.
const abortGrace = time.Second

// Shell serves listeners for one server: accept loop with backoff,
// implicit TLS, PROXY header, connection limits, hooks, Shutdown and
// Close. Its zero value is not usable; see New.
type Shell struct {
	cfg     Config
	log     *slog.Logger
	connLim *limit.ConnLimiter

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[Conn]tracked
	closing   bool
	done      chan struct{} // closed once closing and no conns are left
}

// tracked is what the shell keeps of a session being served.
type tracked struct {
	nc      net.Conn // the accepted connection
	release func()   // gives the connection-limit slot back
}

// New returns a Shell for cfg.
func New(cfg Config) *Shell {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Shell{
		cfg:       cfg,
		log:       log,
		connLim:   limit.NewConnLimiter(cfg.Limits),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[Conn]tracked),
		done:      make(chan struct{}),
	}
}

// Start serves ln, or a TCP listener on addr when ln is nil, with
// implicit TLS (Config.TLS) when implicitTLS is set. It returns what
// Serve returns.
func (s *Shell) Start(ln net.Listener, addr string, implicitTLS bool) error {
	var cfg *tls.Config
	if implicitTLS {
		if s.cfg.TLS == nil {
			return errors.New(s.cfg.Name + ": implicit TLS needs TLSConfig")
		}
		cfg = s.cfg.TLS
	}
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			return err
		}
	}
	return s.Serve(ln, cfg)
}

// Serve accepts connections on ln until Shutdown or Close, serving each
// on its own goroutine, with implicit TLS when tlsConfig is not nil (the
// PROXY header, if one is due, comes before the TLS handshake). It
// returns Config.ErrClosed after Shutdown or Close, or the listener's
// error. Serve closes ln when it returns.
func (s *Shell) Serve(ln net.Listener, tlsConfig *tls.Config) error {
	if len(s.cfg.Proxy.Trusted) > 0 {
		ln = proxyproto.NewListener(ln, s.cfg.Proxy)
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return s.cfg.ErrClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosing() {
				return s.cfg.ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if tlsConfig != nil {
			nc = tls.Server(nc, tlsConfig)
		}
		// Everything that needs the peer address runs in the
		// connection's goroutine: behind a proxy, the address is known
		// only once the PROXY header has been read, and a slow header
		// must not hold up Accept.
		go s.handle(nc)
	}
}

func (s *Shell) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// handle serves one accepted connection. Its frame stays under every
// session for the session's life, so it is kept small: the work before
// and after Serve is done in functions that have returned by then (an
// idle IMAP session's stack fits in 4 KiB, and this frame counts).
func (s *Shell) handle(nc net.Conn) {
	c, ip := s.admit(nc)
	if c == nil {
		return
	}
	start := time.Now()
	if s.handshake(nc) {
		c.Serve()
	}
	s.finish(c, nc, ip, start)
}

// admit reads the PROXY header, if one is due, and tracks the
// connection within the connection limits; it returns the session, or
// nil after turning the connection away.
//
//go:noinline
func (s *Shell) admit(nc net.Conn) (Conn, netip.Addr) {
	if err := proxyproto.CheckHeader(nc); err != nil {
		s.log.Info("bad PROXY header", "proxy", proxyproto.PeerAddr(nc).String(), "err", err)
		nc.Close()
		return nil, netip.Addr{}
	}
	ip := limit.AddrOf(nc.RemoteAddr())
	release, err := s.connLim.Acquire(ip)
	if err != nil {
		s.refuse(nc, ip, RefusedLimit)
		return nil, ip
	}
	s.mu.Lock()
	if s.closing {
		// Shutdown has already told the tracked sessions; this one
		// arrived too late to be among them.
		s.mu.Unlock()
		release()
		s.refuse(nc, ip, RefusedShutdown)
		return nil, ip
	}
	c := s.cfg.NewConn(nc, ip)
	s.conns[c] = tracked{nc: nc, release: release}
	s.mu.Unlock()
	if h := s.cfg.Connect; h != nil {
		h(ConnEvent{Remote: ip})
	}
	return c, ip
}

// handshake runs the implicit TLS handshake (RFC 8314), so that the
// protocol starts on an encrypted connection, and reports whether the
// session may start.
//
//go:noinline
func (s *Shell) handshake(nc net.Conn) bool {
	tc, ok := nc.(*tls.Conn)
	if !ok {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.HandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		s.log.Info("TLS handshake failed", "remote", nc.RemoteAddr().String(), "err", err)
		return false
	}
	return true
}

// finish closes a served connection, gives its slot back and stops
// tracking it.
//
//go:noinline
func (s *Shell) finish(c Conn, nc net.Conn, ip netip.Addr, start time.Time) {
	nc.Close()
	if h := s.cfg.Disconnect; h != nil {
		h(ConnEvent{Remote: ip, Duration: time.Since(start)})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.conns[c]; ok {
		t.release()
		delete(s.conns, c)
	}
	s.doneIfIdleLocked()
}

// refuse tells the client why it is not served and closes the
// connection. Under implicit TLS the write runs the handshake first,
// within the same deadline.
func (s *Shell) refuse(nc net.Conn, ip netip.Addr, why string) {
	if h := s.cfg.Connect; h != nil {
		h(ConnEvent{Remote: ip, Refused: why})
	}
	s.log.Warn("connection refused", "remote", nc.RemoteAddr().String(), "reason", why)
	nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	nc.Write([]byte(s.cfg.Refusal(why)))
	nc.Close()
}

func (s *Shell) doneIfIdleLocked() {
	if s.closing && len(s.conns) == 0 {
		select {
		case <-s.done:
		default:
			close(s.done)
		}
	}
}

// stop marks the shell closing, closes the listeners and returns the
// sessions being served.
func (s *Shell) stop() []Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	conns := make([]Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.doneIfIdleLocked()
	return conns
}

// Shutdown stops accepting connections and asks every session to end:
// sessions waiting for a command get the protocol's goodbye at once,
// sessions in a transaction (an SMTP message being received, an IMAP
// APPEND) finish it first. It returns nil once all sessions ended. When
// ctx is done first, it aborts the rest (each says its goodbye where it
// can, even in the middle of a transaction), waits at most a second for
// them, closes whatever is left and returns ctx.Err().
func (s *Shell) Shutdown(ctx context.Context) error {
	for _, c := range s.stop() {
		c.Shutdown()
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
	}
	for _, c := range s.stop() {
		c.Abort()
	}
	t := time.NewTimer(abortGrace)
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
		s.closeConns()
	}
	return ctx.Err()
}

// Close closes the listeners and every connection at once, without a
// goodbye.
func (s *Shell) Close() error {
	s.stop()
	s.closeConns()
	return nil
}

func (s *Shell) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.conns {
		t.nc.Close()
	}
}
