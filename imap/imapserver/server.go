package imapserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posthorn/posthorn/internal/limit"
	"github.com/posthorn/posthorn/internal/proxyproto"
	"github.com/posthorn/posthorn/internal/tlsutil"
	"github.com/posthorn/posthorn/sasl"
)

// ErrServerClosed is returned by Serve, ServeTLS and ListenAndServe after
// Shutdown or Close.
var ErrServerClosed = errors.New("imapserver: server closed")

// Limits bound what one connection may send and how long it may wait.
// A zero field takes the default named in its comment. MaxConns and
// MaxConnsPerIP may be negative for no limit; other limits are always on.
type Limits struct {
	// MaxLine is the longest command line in bytes between literals.
	// Default 65536 (RFC 7162 §4 asks for at least 8192).
	MaxLine int
	// MaxLiteral is the largest literal of a command other than APPEND.
	// Default 65536.
	MaxLiteral int64
	// MaxAppend is the largest message APPEND accepts, advertised as
	// APPENDLIMIT (RFC 7889). Default 64 MiB.
	MaxAppend int64
	// MaxLiterals is the most literals in one command. Default 1000.
	MaxLiterals int
	// MaxDepth is the deepest parenthesis nesting. Default 64.
	MaxDepth int
	// MaxConns is the most connections served at once. Default 10000.
	MaxConns int
	// MaxConnsPerIP is the most connections from one address. Default 50.
	MaxConnsPerIP int
	// MaxAuthFailures is the number of failed logins after which the
	// connection is closed. Default 3.
	MaxAuthFailures int
	// LoginTimeout is the idle timeout before authentication. Default 1 minute.
	LoginTimeout time.Duration
	// IdleTimeout is the idle timeout after authentication, IDLE included.
	// Default 30 minutes, the least RFC 9051 §5.4 allows.
	IdleTimeout time.Duration
	// WriteTimeout bounds each write of a response. Default 5 minutes.
	WriteTimeout time.Duration
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def64 := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	// Negative values (other than the connection limits) mean the default.
	for _, v := range []*int{&l.MaxLine, &l.MaxLiterals, &l.MaxDepth, &l.MaxAuthFailures} {
		*v = max(*v, 0)
	}
	for _, v := range []*int64{&l.MaxLiteral, &l.MaxAppend} {
		*v = max(*v, 0)
	}
	for _, v := range []*time.Duration{&l.LoginTimeout, &l.WriteTimeout} {
		*v = max(*v, 0)
	}
	def(&l.MaxLine, 65536)
	def64(&l.MaxLiteral, 65536)
	def64(&l.MaxAppend, 64<<20)
	def(&l.MaxLiterals, 1000)
	def(&l.MaxDepth, 64)
	def(&l.MaxConns, 10000)
	def(&l.MaxConnsPerIP, 50)
	def(&l.MaxAuthFailures, 3)
	defDur(&l.LoginTimeout, time.Minute)
	defDur(&l.IdleTimeout, 30*time.Minute)
	defDur(&l.WriteTimeout, 5*time.Minute)
	if l.IdleTimeout < 30*time.Minute {
		// RFC 9051 §5.4: the autologout timer is at least 30 minutes.
		l.IdleTimeout = 30 * time.Minute
	}

	return l
}

// Server is an IMAP server. Its exported fields are its configuration;
// set them before calling Serve and do not change them afterwards.
type Server struct {
	// Addr is the address ListenAndServe listens on; "" means ":imap"
	// (port 143).
	Addr string
	// TLSConfig enables STARTTLS (and is required by ServeTLS). nil means
	// no TLS: then LOGIN and plaintext SASL mechanisms are refused unless
	// AllowInsecureAuth is set.
	TLSConfig *tls.Config
	// Backend stores the mail. Required.
	Backend Backend
	// SASL offers AUTHENTICATE mechanisms. nil means a Registry whose
	// Credentials is Backend and whose AllowPlaintext is AllowInsecureAuth.
	SASL *sasl.Registry
	// AllowInsecureAuth allows LOGIN and PLAIN on connections without TLS
	// (RFC 9051 §11.1 forbids it by default; loopback tests may set it).
	AllowInsecureAuth bool
	// LiteralMinus advertises LITERAL- instead of LITERAL+ (RFC 7888):
	// non-synchronising literals are then limited to 4096 octets.
	LiteralMinus bool
	// Limits bound each connection; the zero value holds the defaults.
	Limits Limits
	// Logger receives one record per connection event and per failed
	// command; nil discards. Passwords, SASL data and message contents
	// are never logged.
	Logger *slog.Logger
	// Hooks are called on connections and logins, for metrics and
	// auditing; nil fields are skipped.
	Hooks Hooks
	// Hostname is named in the greeting; "" means "posthorn".
	Hostname string
	// AllowSetQuota decides who may change quota limits with SETQUOTA
	// (RFC 9208 §4.1.3), given the logged-in user and the quota root
	// named. nil means nobody (NO [NOPERM]), and QUOTASET is not
	// advertised. The backend's User must implement QuotaSetter.
	AllowSetQuota func(ctx context.Context, username, root string) bool
	// ProxyTrusted lists the networks of load balancers that announce
	// each connection with a PROXY protocol header (HAProxy's
	// proxy-protocol.txt, version 1 or 2). A connection from one of them
	// must start with the header; the client address it carries is then
	// used wherever the peer address would be: connection and per-IP
	// limits, the auth-failure limiter, logs and the SASL connection
	// state. A missing or malformed header closes the connection without
	// a greeting. Connections from other addresses are served as they
	// are, so a PROXY line from them is just an unknown command. With
	// ServeTLS the header comes before the TLS handshake. Empty (the
	// default) disables the PROXY protocol.
	ProxyTrusted []netip.Prefix
	// ProxyHeaderTimeout bounds the time a trusted proxy may take to send
	// the PROXY header; 0 means 5 seconds.
	ProxyHeaderTimeout time.Duration

	initOnce  sync.Once
	limits    Limits
	registry  *sasl.Registry
	readers   sync.Pool   // *bufio.Reader of idle-capable sessions
	writers   sync.Pool   // *bufio.Writer
	deflaters deflatePool // compressors of idle COMPRESS sessions (compress.go)
	connLimit *limit.ConnLimiter
	authLimit *limit.AuthLimiter
	tlsConfig *tls.Config
	log       *slog.Logger

	// Trace, when not nil, receives a trace of every session for
	// debugging: each line received ("C: ") and sent ("S: "), after the
	// client's address, with LOGIN arguments (literals too) and AUTHENTICATE exchanges redacted and message
	// data elided after a few lines (internal/wiretrace). Sessions'
	// lines interleave; the writer must be safe for concurrent use.
	Trace io.Writer

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*session]struct{}
	closed    atomic.Bool
	done      chan struct{}

	// sorts shares the sort state of mailboxes between sessions (sort_cache.go).
	sorts sortShare
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.limits = s.Limits.withDefaults()
		s.registry = s.SASL
		if s.registry == nil {
			s.registry = &sasl.Registry{Credentials: s.Backend, AllowPlaintext: s.AllowInsecureAuth}
		}
		if s.TLSConfig != nil {
			// TLS 1.2+, ALPN "imap", foreign ALPN refused (ALPACA).
			s.tlsConfig = tlsutil.ServerConfig(s.TLSConfig, "imap")
		}
		s.log = s.Logger
		if s.log == nil {
			s.log = slog.New(slog.DiscardHandler)
		}
		s.connLimit = limit.NewConnLimiter(limit.ConnLimits{Max: s.limits.MaxConns, PerIP: s.limits.MaxConnsPerIP})
		s.authLimit = limit.NewAuthLimiter(limit.AuthLimits{})
		s.listeners = make(map[net.Listener]struct{})
		s.conns = make(map[*session]struct{})
		s.done = make(chan struct{})
	})
}

// ListenAndServe listens on s.Addr (":imap" when empty) and serves.
func (s *Server) ListenAndServe() error {
	addr := s.Addr
	if addr == "" {
		addr = ":imap"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// ServeTLS serves implicit TLS (RFC 8314, port 993) on ln with TLSConfig.
// With ProxyTrusted set, the PROXY header is read before the TLS
// handshake.
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.TLSConfig == nil {
		return errors.New("imapserver: ServeTLS needs TLSConfig")
	}
	return s.serve(s.proxyListener(ln), true)
}

// Serve accepts connections on ln and serves each in its own goroutine.
// It returns ErrServerClosed after Shutdown or Close. With ProxyTrusted
// set, ln must be a plain TCP listener (use ServeTLS for implicit TLS).
func (s *Server) Serve(ln net.Listener) error {
	return s.serve(s.proxyListener(ln), false)
}

func (s *Server) serve(ln net.Listener, implicitTLS bool) error {
	if s.Backend == nil {
		return errors.New("imapserver: Server.Backend is nil")
	}
	s.init()
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.closed.Load() {
				return ErrServerClosed
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
		if implicitTLS {
			c = tls.Server(c, s.tlsConfig)
		}
		// Everything that needs the peer address runs in the
		// connection's goroutine: behind a proxy, the address is known
		// only once the PROXY header has been read, and a slow header
		// must not hold up Accept.
		go s.startSession(c)
	}
}

// startSession reads the PROXY header, if one is due, and serves the
// connection within the connection limits.
func (s *Server) startSession(c net.Conn) {
	if err := proxyproto.CheckHeader(c); err != nil {
		s.log.Info("bad PROXY header", "proxy", proxyproto.PeerAddr(c).String(), "err", err)
		c.Close()
		return
	}
	ip := limit.AddrOf(c.RemoteAddr())
	release, err := s.connLimit.Acquire(ip)
	if err != nil {
		s.refuse(c, ip, err)
		return
	}
	sess := newSession(s, c, ip)
	s.mu.Lock()
	if s.closed.Load() {
		// Shutdown has already told the tracked sessions; this one
		// arrived too late to be among them.
		s.mu.Unlock()
		release()
		s.refuse(c, ip, ErrServerClosed)
		return
	}
	s.conns[sess] = struct{}{}
	s.mu.Unlock()
	defer s.endSession(sess)
	defer release()
	if h := s.Hooks.Connect; h != nil {
		h(ConnEvent{Remote: ip})
	}
	if h := s.Hooks.Disconnect; h != nil {
		start := time.Now()
		defer func() { h(ConnEvent{Remote: ip, Duration: time.Since(start)}) }()
	}
	sess.serve()
}

// refuse tells the client why it is not served and closes the connection.
func (s *Server) refuse(c net.Conn, ip netip.Addr, err error) {
	s.log.Warn("connection refused", "remote", c.RemoteAddr().String(), "err", err)
	if h := s.Hooks.Connect; h != nil {
		why := "too many connections"
		if errors.Is(err, ErrServerClosed) {
			why = "shutting down"
		}
		h(ConnEvent{Remote: ip, Refused: why})
	}
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	// RFC 9051 §7.1.5: BYE with the reason, then close. Under implicit
	// TLS this runs the handshake first, within the write deadline.
	if errors.Is(err, ErrServerClosed) {
		fmt.Fprintf(c, "* BYE [UNAVAILABLE] Server shutting down\r\n")
	} else {
		fmt.Fprintf(c, "* BYE [UNAVAILABLE] Too many connections\r\n")
	}
	c.Close()
}

func (s *Server) endSession(sess *session) {
	s.mu.Lock()
	delete(s.conns, sess)
	if len(s.conns) == 0 && s.closed.Load() {
		select {
		case <-s.done:
		default:
			close(s.done)
		}
	}
	s.mu.Unlock()
}

// Shutdown stops accepting connections, tells every session waiting for
// a command (or in IDLE) "* BYE" and closes it; sessions running a
// command finish it first. It returns when all sessions ended or ctx is
// done, then closing whatever is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	s.closed.Store(true)
	for ln := range s.listeners {
		ln.Close()
	}
	sessions := make([]*session, 0, len(s.conns))
	for c := range s.conns {
		sessions = append(sessions, c)
	}
	if len(s.conns) == 0 {
		select {
		case <-s.done:
		default:
			close(s.done)
		}
	}
	s.mu.Unlock()
	for _, c := range sessions {
		c.shutdown()
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.init()
	s.mu.Lock()
	s.closed.Store(true)
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.raw.Close()
	}
	s.mu.Unlock()
	return nil
}
