package smtpserver

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/posthorn/posthorn/internal/limit"
	"github.com/posthorn/posthorn/internal/proxyproto"
	"github.com/posthorn/posthorn/internal/serve"
	"github.com/posthorn/posthorn/sasl"
)

// Mode selects what the server is for.
type Mode int

const (
	// ModeMX receives mail from other servers (RFC 5321): AUTH optional.
	ModeMX Mode = iota
	// ModeSubmission receives mail from users (RFC 6409): MAIL requires a
	// successful AUTH first.
	ModeSubmission
	// ModeLMTP speaks LMTP (RFC 2033): LHLO instead of EHLO/HELO and one
	// reply per recipient after the message.
	ModeLMTP
)

// String returns "mx", "submission" or "lmtp".
func (m Mode) String() string {
	switch m {
	case ModeSubmission:
		return "submission"
	case ModeLMTP:
		return "lmtp"
	default:
		return "mx"
	}
}

// service is the ConnInfo.Service of the mode: "smtp", "submission" or
// "lmtp".
func (m Mode) service() string {
	if m == ModeMX {
		return "smtp"
	}
	return m.String()
}

// BareEOLPolicy says what happens to a message with a bare CR or LF
// (RFC 5321 §2.3.8). Either way the message is read up to the real
// <CRLF>.<CRLF> before the server answers, so SMTP smuggling is impossible.
type BareEOLPolicy int

const (
	// RejectBareEOL refuses the message with 550 5.6.0 (the default).
	RejectBareEOL BareEOLPolicy = iota
	// NormalizeBareEOL turns each bare CR and LF into CRLF and accepts it.
	NormalizeBareEOL
)

// Limits bounds what one client can make the server do. A zero field takes
// its default; a negative one disables that limit.
type Limits struct {
	// MaxLineLength is the longest command line in octets including CRLF;
	// default 2048 (RFC 5321 §4.5.3.1.4 sets 512, extensions add to it).
	MaxLineLength int
	// MaxMessageSize is the largest message in octets; default 32 MiB.
	// Advertised with SIZE (RFC 1870).
	MaxMessageSize int64
	// MaxRecipients per transaction; default 100 (RFC 5321 §4.5.3.1.8's
	// minimum). Advertised as LIMITS RCPTMAX (RFC 9422).
	MaxRecipients int
	// MaxMessages per connection; default 100. Advertised as LIMITS MAILMAX.
	MaxMessages int
	// MaxConnections in all; default 1000.
	MaxConnections int
	// MaxConnectionsPerIP is counted per client network (IPv4 /32, IPv6
	// /64); default 20.
	MaxConnectionsPerIP int
	// MaxErrors is how many failed commands a session may have before the
	// server closes it with 421; default 20.
	MaxErrors int
	// MaxAuthFailures per connection before it is closed; default 3.
	MaxAuthFailures int
	// AuthFailureDelay is the delay before answering a failed AUTH,
	// doubled with each further failure on the connection; default 1s.
	// It is also the base delay of the server-wide limiter that slows
	// AUTH from a client network (IPv4 /32, IPv6 /64) after 3 failures
	// from it, on any connection. Negative disables both.
	AuthFailureDelay time.Duration
	// MaxReceived is the most Received: fields an incoming message may
	// carry before it is refused as a loop (RFC 5321 §6.3); default 100.
	MaxReceived int
	// CommandTimeout is how long the server waits for a command; default
	// 5 minutes (RFC 5321 §4.5.3.2.7 sets at least 5).
	CommandTimeout time.Duration
	// DataIdleTimeout is how long the server waits for more message data
	// (refreshed as data arrives); default 5 minutes.
	DataIdleTimeout time.Duration
	// DataTimeout caps the whole transfer of one message; default 30
	// minutes.
	DataTimeout time.Duration
}

func pick[T int | int64 | time.Duration](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

func (l Limits) withDefaults() Limits {
	l.MaxLineLength = pick(l.MaxLineLength, 2048)
	if l.MaxLineLength == 0 || l.MaxLineLength < 512 {
		l.MaxLineLength = 512 // never below the RFC minimum
	}
	l.MaxMessageSize = pick(l.MaxMessageSize, 32<<20)
	l.MaxRecipients = pick(l.MaxRecipients, 100)
	l.MaxMessages = pick(l.MaxMessages, 100)
	l.MaxConnections = pick(l.MaxConnections, 1000)
	l.MaxConnectionsPerIP = pick(l.MaxConnectionsPerIP, 20)
	l.MaxErrors = pick(l.MaxErrors, 20)
	l.MaxAuthFailures = pick(l.MaxAuthFailures, 3)
	l.AuthFailureDelay = pick(l.AuthFailureDelay, time.Second)
	l.MaxReceived = pick(l.MaxReceived, 100)
	l.CommandTimeout = pick(l.CommandTimeout, 5*time.Minute)
	l.DataIdleTimeout = pick(l.DataIdleTimeout, 5*time.Minute)
	l.DataTimeout = pick(l.DataTimeout, 30*time.Minute)
	return l
}

// ErrServerClosed is returned by Serve, ServeTLS, ListenAndServe and
// ListenAndServeTLS after Shutdown or Close.
var ErrServerClosed = errors.New("smtpserver: server closed")

// Server is an SMTP, submission or LMTP server. Its exported fields are the
// configuration; set them before Serve and do not change them afterwards.
type Server struct {
	// Addr is the address ListenAndServe listens on; "" means ":25"
	// (":587" in ModeSubmission, ":24" in ModeLMTP).
	Addr string
	// Hostname is the server's name in the greeting, EHLO reply and
	// Received: fields; "" means os.Hostname(), or "localhost".
	Hostname string
	// TLSConfig enables STARTTLS (RFC 3207) and is required by ServeTLS.
	// nil means plaintext only.
	TLSConfig *tls.Config
	// Backend receives the mail. Required.
	Backend Backend
	// Auth offers SASL authentication (RFC 4954). nil means a registry of
	// sasl.DefaultMechanisms whose Credentials is the Backend and whose
	// AllowPlaintext is AllowInsecureAuth, as in imapserver and
	// pop3server, when the Backend implements a sasl credential interface
	// (sasl.PasswordVerifier, ...); a Backend that implements none gets
	// no AUTH. Mechanisms that reveal a password are offered before TLS
	// only when the registry's AllowPlaintext is set.
	Auth *sasl.Registry
	// AllowInsecureAuth offers the plaintext mechanisms of the default
	// Auth registry on connections without TLS (loopback tests may set
	// it). A registry set in Auth decides with its AllowPlaintext.
	AllowInsecureAuth bool
	// Mode is MX (default), submission or LMTP.
	Mode Mode
	// Limits bound what clients can do; the zero value has safe defaults.
	Limits Limits
	// BareEOL is the policy for bare CR and LF in DATA; default reject.
	BareEOL BareEOLPolicy
	// XCLIENTTrusted lists the networks whose clients may use XCLIENT
	// (Postfix's proxy extension). Empty means XCLIENT is not offered.
	XCLIENTTrusted []netip.Prefix
	// ProxyTrusted lists the networks of load balancers that announce
	// each connection with a PROXY protocol header (HAProxy's
	// proxy-protocol.txt, version 1 or 2). A connection from one of them
	// must start with the header; the client address it carries is then
	// used wherever the peer address would be: connection and per-IP
	// limits, the auth-failure limiter, logs, ConnInfo and the Received:
	// field. A missing or malformed header closes the connection without
	// a greeting. Connections from other addresses are served as they
	// are, so a PROXY line from them is just an unknown command. With
	// ServeTLS the header comes before the TLS handshake. Empty (the
	// default) disables the PROXY protocol.
	ProxyTrusted []netip.Prefix
	// ProxyHeaderTimeout bounds the time a trusted proxy may take to send
	// the PROXY header; 0 means 5 seconds.
	ProxyHeaderTimeout time.Duration
	// DisableExtensions lists EHLO keywords not to offer (and then not
	// to accept): any of PIPELINING, 8BITMIME, SMTPUTF8, CHUNKING,
	// BINARYMIME, DSN, SIZE, REQUIRETLS, LIMITS. Mostly for tests.
	DisableExtensions []string
	// DisableReceived stops the server from prepending a Received: field.
	DisableReceived bool
	// AllowMessageBeforeHello lets MAIL run without EHLO/HELO first.
	// RFC 5321 §4.1.4 allows servers to demand it; the default is to.
	AllowMessageBeforeHello bool
	// Logger receives structured logs (never passwords or bodies); nil
	// discards them.
	Logger *slog.Logger
	// Hooks are called on connections, authentications and messages,
	// for metrics and auditing; nil fields are skipped.
	Hooks Hooks
	// AuthThrottle, when not nil, takes the place of the limiter that
	// Limits.AuthFailureDelay configures: it is asked before every AUTH
	// exchange and told each outcome. Give one value to several servers
	// to count failures on all of them together (*limit.AuthLimiter in
	// internal/limit implements it, with blocking).
	AuthThrottle AuthThrottle
	// Trace, when not nil, receives a trace of every session for
	// debugging: each line received ("C: ") and sent ("S: "), after the
	// client's address, with AUTH exchanges redacted and message
	// data elided after a few lines (internal/wiretrace). Sessions'
	// lines interleave; the writer must be safe for concurrent use.
	Trace io.Writer

	initOnce sync.Once
	sh       *serve.Shell
	registry *sasl.Registry // Auth, or the default one; nil: no AUTH
	host     string         // Hostname, or the default
	mu       sync.Mutex     // guards authLim
	authLim  *limit.AuthLimiter
}

// authLimiter returns AuthThrottle, else the server-wide auth-failure
// limiter, or nil when auth delays are disabled (Limits.AuthFailureDelay
// < 0). It slows guessing across connections from one network
// (internal/limit).
func (s *Server) authLimiter(lim Limits) AuthThrottle {
	if s.AuthThrottle != nil {
		return s.AuthThrottle
	}
	if lim.AuthFailureDelay <= 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.authLim == nil {
		s.authLim = limit.NewAuthLimiter(limit.AuthLimits{BaseDelay: lim.AuthFailureDelay})
	}
	return s.authLim
}

func (s *Server) disabled(ext string) bool {
	for _, e := range s.DisableExtensions {
		if strings.EqualFold(e, ext) {
			return true
		}
	}
	return false
}

func (s *Server) hostname() string { return s.host }

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// ListenAndServe listens on s.Addr and serves plaintext (with STARTTLS
// when TLSConfig is set).
func (s *Server) ListenAndServe() error {
	port := map[Mode]string{ModeSubmission: ":587", ModeLMTP: ":24"}[s.Mode]
	return s.start(nil, cmp.Or(s.Addr, port, ":25"), false)
}

// ListenAndServeTLS listens on s.Addr (":465" when empty) and serves
// implicit TLS (RFC 8314) with s.TLSConfig.
func (s *Server) ListenAndServeTLS() error {
	return s.start(nil, cmp.Or(s.Addr, ":465"), true)
}

// Serve accepts connections on ln and serves each on its own goroutine.
// It returns ErrServerClosed after Shutdown or Close. With ProxyTrusted
// set, ln must be a plain TCP listener (use ServeTLS for implicit TLS).
func (s *Server) Serve(ln net.Listener) error { return s.start(ln, "", false) }

// ServeTLS serves implicit TLS (RFC 8314) on ln using s.TLSConfig. With
// ProxyTrusted set, the PROXY header is read before the TLS handshake.
func (s *Server) ServeTLS(ln net.Listener) error { return s.start(ln, "", true) }

// start serves ln, or a listener on addr when ln is nil.
func (s *Server) start(ln net.Listener, addr string, implicitTLS bool) error {
	if s.Backend == nil {
		return errors.New("smtpserver: no Backend")
	}
	return s.shell().Start(ln, addr, implicitTLS)
}

// shell returns the server shell (internal/serve), made on first use
// with the rest of the server's state.
func (s *Server) shell() *serve.Shell {
	s.initOnce.Do(func() {
		lim := s.Limits.withDefaults()
		s.host = serve.Hostname(s.Hostname)
		host := s.host
		s.registry = s.Auth
		if s.registry == nil {
			reg := &sasl.Registry{Credentials: s.Backend, AllowPlaintext: s.AllowInsecureAuth, Hostname: host}
			if len(reg.Offer(sasl.ConnState{TLS: true})) > 0 {
				s.registry = reg
			}
		}
		var tlsConfig *tls.Config
		if s.TLSConfig != nil {
			tlsConfig = serverTLSConfig(s.TLSConfig, s.Mode)
		}
		s.sh = serve.New(serve.Config{
			Name:             "smtpserver",
			TLS:              tlsConfig,
			ErrClosed:        ErrServerClosed,
			Proxy:            proxyproto.Config{Trusted: s.ProxyTrusted, HeaderTimeout: s.ProxyHeaderTimeout},
			Limits:           limit.ConnLimits{Max: noLimit(lim.MaxConnections), PerIP: noLimit(lim.MaxConnectionsPerIP)},
			HandshakeTimeout: lim.CommandTimeout,
			Logger:           s.Logger,
			Connect:          s.Hooks.Connect,
			Disconnect:       s.Hooks.Disconnect,
			// RFC 5321 §3.8: 421 and close.
			Refusal: func(why string) string { return "421 4.7.0 " + host + " " + why + "\r\n" },
			NewConn: func(nc net.Conn, ip netip.Addr) serve.Conn { return newConn(s, nc, ip, lim) },
		})
	})
	return s.sh
}

// Shutdown stops accepting connections, answers "421 4.3.2" to every
// session waiting for a command (a session in the middle of a message
// finishes that transaction first, and is answered), and waits for the
// sessions to end. When ctx is done first, the rest get "421 4.3.2" even
// in the middle of a message (RFC 5321 §3.8), their connections are
// closed, and Shutdown returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error { return s.shell().Shutdown(ctx) }

// Close closes the listeners and every connection at once, without a
// reply.
func (s *Server) Close() error { return s.shell().Close() }

func remoteIP(a net.Addr) netip.Addr { return limit.AddrOf(a) }

// noLimit maps this package's "0 after defaults = disabled" to the
// limiter's "negative = no limit".
func noLimit(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
