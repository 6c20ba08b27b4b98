package imapserver

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/posthorn/posthorn/internal/limit"
	"github.com/posthorn/posthorn/internal/proxyproto"
	"github.com/posthorn/posthorn/internal/serve"
	"github.com/posthorn/posthorn/internal/tlsutil"
	"github.com/posthorn/posthorn/sasl"
)

// ErrServerClosed is returned by Serve, ServeTLS and ListenAndServe after
// Shutdown or Close.
var ErrServerClosed = errors.New("imapserver: server closed")

// Limits bound what one connection may send and how long it may wait.
// A zero field takes the default named in its comment. MaxConnections,
// MaxConnectionsPerIP and AuthFailureDelay may be negative for no limit,
// and ParseCacheBytes negative turns the parse cache off; other limits
// are always on (a negative value takes the default). The
// field names and the defaults of the connection and authentication
// limits are those of smtpserver.Limits and pop3server.Limits.
type Limits struct {
	// MaxLineLength is the longest command line in bytes between
	// literals. Default 65536 (RFC 7162 §4 asks for at least 8192).
	MaxLineLength int
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
	// MaxConnections is the most connections served at once. Default
	// 1000.
	MaxConnections int
	// MaxConnectionsPerIP is the most connections from one client
	// network (an IPv4 address, an IPv6 /64). Default 20.
	MaxConnectionsPerIP int
	// MaxAuthFailures is the number of failed logins after which the
	// connection is closed. Default 3.
	MaxAuthFailures int
	// AuthFailureDelay is the delay before the next attempt after three
	// failed logins from one client network, doubled per further
	// failure up to a minute (per user name: up to 2 seconds), on any
	// connection; failures are forgotten at one per minute. Default 1
	// second.
	AuthFailureDelay time.Duration
	// LoginTimeout is the idle timeout before authentication. Default 1 minute.
	LoginTimeout time.Duration
	// IdleTimeout is the idle timeout after authentication, IDLE included.
	// Default 30 minutes, the least RFC 9051 §5.4 allows.
	IdleTimeout time.Duration
	// WriteTimeout bounds each write of a response. Default 5 minutes.
	WriteTimeout time.Duration
	// ParseCacheBytes bounds the memory, shared by all sessions, of the
	// messages' cached parses (part index, ENVELOPE, BODY and
	// BODYSTRUCTURE, about 1-5 KiB a message; see ParseCache): past it the
	// parses least recently used are dropped and parsed again when next
	// needed. Default 64 MiB. Negative turns the cache off: every FETCH
	// of a structure item parses the message again.
	ParseCacheBytes int64
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
	for _, v := range []*int{&l.MaxLineLength, &l.MaxLiterals, &l.MaxDepth, &l.MaxAuthFailures} {
		*v = max(*v, 0)
	}
	for _, v := range []*int64{&l.MaxLiteral, &l.MaxAppend} {
		*v = max(*v, 0)
	}
	for _, v := range []*time.Duration{&l.LoginTimeout, &l.WriteTimeout} {
		*v = max(*v, 0)
	}
	def(&l.MaxLineLength, 65536)
	def64(&l.MaxLiteral, 65536)
	def64(&l.MaxAppend, 64<<20)
	def64(&l.ParseCacheBytes, 64<<20)
	def(&l.MaxLiterals, 1000)
	def(&l.MaxDepth, 64)
	def(&l.MaxConnections, 1000)
	def(&l.MaxConnectionsPerIP, 20)
	defDur(&l.AuthFailureDelay, time.Second)
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
	// Auth offers the AUTHENTICATE mechanisms (RFC 9051 §6.2.2). nil
	// means a registry of sasl.DefaultMechanisms whose Credentials is the
	// Backend and whose AllowPlaintext is AllowInsecureAuth, as in
	// smtpserver and pop3server.
	Auth *sasl.Registry
	// AllowInsecureAuth allows LOGIN, and plaintext mechanisms of the
	// default Auth registry, on connections without TLS (RFC 9051 §11.1
	// forbids it by default; loopback tests may set it). A registry set
	// in Auth decides for its own mechanisms with its AllowPlaintext.
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
	// Hostname is named in the greeting; "" means os.Hostname(), or
	// "localhost".
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
	// Trace, when not nil, receives a trace of every session for
	// debugging: each line received ("C: ") and sent ("S: "), after the
	// client's address, with LOGIN arguments (literals too) and AUTHENTICATE exchanges redacted and message
	// data elided after a few lines (internal/wiretrace). Sessions'
	// lines interleave; the writer must be safe for concurrent use.
	Trace io.Writer
	// AuthThrottle, when not nil, takes the place of the limiter that
	// Limits.AuthFailureDelay configures: it is asked before every login
	// attempt and told each outcome. Give one value to several servers
	// to count failures on all of them together (*limit.AuthLimiter in
	// internal/limit implements it, with blocking).
	AuthThrottle AuthThrottle

	// CommandFilter, when not nil, is asked before each command runs,
	// once its name is known; a non-nil error refuses the command: the
	// rest of its line is skipped and an *imap.Error is the tagged reply
	// as it is (NO [code] text), any other error NO. For policy (commands
	// some users may not run) and for test servers (imap/imaptest) that
	// make a command fail.
	CommandFilter func(ctx context.Context, cmd CommandInfo) error
	// CapabilityFilter, when not nil, edits the capabilities advertised
	// (CAPABILITY, the greeting's and login's [CAPABILITY]): for a test
	// server that withholds some. The commands of a withheld capability
	// are still accepted.
	CapabilityFilter func(caps []string) []string

	initOnce  sync.Once
	limits    Limits
	registry  *sasl.Registry
	readers   sync.Pool    // *bufio.Reader of idle-capable sessions
	writers   sync.Pool    // *bufio.Writer
	deflaters deflatePool  // compressors of idle COMPRESS sessions (compress.go)
	authLimit AuthThrottle // never nil after init
	tlsConfig *tls.Config
	log       *slog.Logger
	hostname  string
	sh        *serve.Shell

	// parses bounds the cached parses (parsecache.go); nil when off.
	parses *parseClock
	// indexers are the *mime.Indexer of parses (parse.go).
	indexers sync.Pool

	// sorts shares the sort state of mailboxes between sessions (sort_cache.go).
	sorts sortShare
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.limits = s.Limits.withDefaults()
		s.hostname = serve.Hostname(s.Hostname)
		if s.limits.ParseCacheBytes > 0 {
			s.parses = &parseClock{max: s.limits.ParseCacheBytes}
		}
		s.registry = s.Auth
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
		switch {
		case s.AuthThrottle != nil:
			s.authLimit = s.AuthThrottle
		case s.limits.AuthFailureDelay > 0:
			s.authLimit = limit.NewAuthLimiter(limit.AuthLimits{BaseDelay: s.limits.AuthFailureDelay})
		default:
			s.authLimit = serve.NoThrottle{}
		}
		s.sh = serve.New(serve.Config{
			Name:             "imapserver",
			TLS:              s.tlsConfig,
			ErrClosed:        ErrServerClosed,
			Proxy:            proxyproto.Config{Trusted: s.ProxyTrusted, HeaderTimeout: s.ProxyHeaderTimeout},
			Limits:           limit.ConnLimits{Max: s.limits.MaxConnections, PerIP: s.limits.MaxConnectionsPerIP},
			HandshakeTimeout: s.limits.LoginTimeout,
			Logger:           s.log,
			Connect:          s.Hooks.Connect,
			Disconnect:       s.Hooks.Disconnect,
			Refusal:          refusal,
			NewConn:          func(nc net.Conn, ip netip.Addr) serve.Conn { return newSession(s, nc, ip) },
		})
	})
}

// ListenAndServe listens on s.Addr (":imap", port 143, when empty) and
// calls Serve.
func (s *Server) ListenAndServe() error { return s.start(nil, cmp.Or(s.Addr, ":imap"), false) }

// ListenAndServeTLS listens on s.Addr (":imaps", port 993, when empty)
// and calls ServeTLS.
func (s *Server) ListenAndServeTLS() error { return s.start(nil, cmp.Or(s.Addr, ":imaps"), true) }

// Serve accepts connections on ln and serves each in its own goroutine.
// It returns ErrServerClosed after Shutdown or Close. With ProxyTrusted
// set, ln must be a plain TCP listener (use ServeTLS for implicit TLS).
func (s *Server) Serve(ln net.Listener) error { return s.start(ln, "", false) }

// ServeTLS serves implicit TLS (RFC 8314) on ln with TLSConfig. With
// ProxyTrusted set, the PROXY header is read before the TLS handshake.
func (s *Server) ServeTLS(ln net.Listener) error { return s.start(ln, "", true) }

// start serves ln, or a listener on addr when ln is nil.
func (s *Server) start(ln net.Listener, addr string, implicitTLS bool) error {
	if s.Backend == nil {
		return errors.New("imapserver: Server.Backend is nil")
	}
	return s.shell().Start(ln, addr, implicitTLS)
}

// refusal is the BYE that turns a connection away (RFC 9051 §7.1.5).
func refusal(why string) string {
	if why == serve.RefusedShutdown {
		return "* BYE [UNAVAILABLE] Server shutting down\r\n"
	}
	return "* BYE [UNAVAILABLE] Too many connections\r\n"
}

// Shutdown stops accepting connections, tells every session waiting for
// a command (or in IDLE) "* BYE" and closes it; sessions running a
// command (an APPEND being received) finish it first. It returns nil
// when all sessions ended. When ctx is done first, the rest get "* BYE"
// even in the middle of a command, where the session is reading from
// the client, their connections are closed, and Shutdown returns
// ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error { return s.shell().Shutdown(ctx) }

// Close closes the listeners and every connection at once, without a
// BYE.
func (s *Server) Close() error { return s.shell().Close() }

// shell returns the server shell (internal/serve), made on first use.
func (s *Server) shell() *serve.Shell {
	s.init()
	return s.sh
}
