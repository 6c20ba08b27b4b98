package pop3server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posthorn/posthorn/internal/serve"
	"github.com/posthorn/posthorn/sasl"
)

// ErrServerClosed is returned by Serve, ServeTLS, ListenAndServe and
// ListenAndServeTLS after Shutdown or Close.
var ErrServerClosed = errors.New("pop3server: server closed")

// Server is a POP3 server. Its exported fields are the configuration; set
// them before calling Serve and do not change them afterwards. A Server
// must not be copied after first use.
type Server struct {
	// Addr is the TCP address ListenAndServe listens on; "" means ":110"
	// (ListenAndServeTLS: ":995").
	Addr string
	// Hostname is used in the greeting and in the APOP timestamp; ""
	// means os.Hostname, or "localhost".
	Hostname string
	// TLSConfig enables STLS (RFC 2595) and is required by ServeTLS
	// (RFC 8314 implicit TLS). It is cloned and restricted to TLS 1.2+
	// with ALPN "pop3". nil disables STLS.
	TLSConfig *tls.Config
	// Backend opens maildrops. Required.
	Backend Backend
	// Auth offers the AUTH mechanisms (RFC 5034). nil means a registry of
	// sasl.DefaultMechanisms whose Credentials is the Backend and whose
	// AllowPlaintext is AllowInsecureAuth, as in smtpserver and
	// imapserver. Its Credentials (or, when nil, the Backend) also verify
	// USER/PASS (sasl.PasswordVerifier) and APOP (sasl.SecretLookup).
	Auth *sasl.Registry
	// AllowInsecureAuth offers USER/PASS, and plaintext mechanisms of the
	// default Auth registry, on connections without TLS (RFC 2595 §2.2,
	// RFC 8314 §3; loopback tests may set it). A registry set in Auth
	// decides for its own mechanisms with its AllowPlaintext.
	AllowInsecureAuth bool
	// EnableAPOP offers APOP (RFC 1939 §7) when the credentials implement
	// sasl.SecretLookup. APOP needs the password stored in the clear and
	// uses MD5, so it is off by default.
	EnableAPOP bool
	// Expire is the EXPIRE capability argument (RFC 2449 §6.7): a number
	// of days or "NEVER". "" leaves EXPIRE out.
	Expire string
	// LoginDelay is the LOGIN-DELAY capability argument in seconds
	// (RFC 2449 §6.5); enforcing it is the Backend's job. 0 leaves it out.
	LoginDelay int
	// Languages are the languages, besides the built-in English ("en"),
	// that LANG (RFC 6856 §3) offers for response texts. An entry tagged
	// "en" replaces the built-in one. nil offers English only.
	Languages []Language
	// DefaultLanguage is the tag of the language "LANG *" selects, the
	// administrator's preferred one (RFC 6856 §3.2); "" means "en". It is
	// the same for every user, so "LANG *" reveals nothing about a user
	// (RFC 6856 §7). Sessions start in English whatever it is, since
	// nothing but ASCII may be sent before UTF8 or LANG (RFC 6856 §2.1).
	DefaultLanguage string
	// Implementation is the IMPLEMENTATION capability; "" leaves it out.
	Implementation string
	// ProxyTrusted lists the networks of load balancers that announce
	// each connection with a PROXY protocol header (HAProxy's
	// proxy-protocol.txt, version 1 or 2). A connection from one of them
	// must start with the header; the client address it carries is then
	// used wherever the peer address would be: connection and per-IP
	// limits, the auth-failure limiter, logs and ConnInfo. A missing or
	// malformed header closes the connection without a greeting.
	// Connections from other addresses are served as they are, so a PROXY
	// line from them is just an unknown command. With ServeTLS the header
	// comes before the TLS handshake. Empty (the default) disables the
	// PROXY protocol.
	ProxyTrusted []netip.Prefix
	// ProxyHeaderTimeout bounds the time a trusted proxy may take to send
	// the PROXY header; 0 means 5 seconds.
	ProxyHeaderTimeout time.Duration
	// Limits bounds connections and sessions; the zero value gives the
	// defaults documented on Limits.
	Limits Limits
	// Logger receives one record per connection event and command, never
	// with passwords, AUTH data or message contents. nil discards.
	Logger *slog.Logger
	// Hooks are called on connections, authentications and deletions,
	// for metrics and auditing; nil fields are skipped.
	Hooks Hooks
	// Trace, when not nil, receives a trace of every session for
	// debugging: each line received ("C: ") and sent ("S: "), after the
	// client's address, with PASS, APOP and AUTH exchanges redacted and message
	// data elided after a few lines (internal/wiretrace). Sessions'
	// lines interleave; the writer must be safe for concurrent use.
	Trace io.Writer
	// AuthThrottle, when not nil, takes the place of the limiter that
	// Limits.AuthFailureDelay configures: it is asked before every login
	// attempt and told each outcome. Give one value to several servers
	// to count failures on all of them together (*limit.AuthLimiter in
	// internal/limit implements it, with blocking).
	AuthThrottle AuthThrottle

	// CommandFilter, when not nil, is asked before each command runs
	// (QUIT, CAPA, PASS and AUTH excepted); a non-nil error refuses it:
	// a *pop3.Error is answered as it is (-ERR [code] text), any other
	// error "-ERR command refused". For policy and for test servers
	// (pop3/pop3test) that make a command fail.
	CommandFilter func(ctx context.Context, cmd CommandInfo) error
	// CapabilityFilter, when not nil, edits the CAPA list (each entry a
	// capability line such as "TOP" or "SASL PLAIN SCRAM-SHA-256"): for a
	// test server that withholds some. Withheld commands still work.
	CapabilityFilter func(caps []string) []string

	initOnce  sync.Once
	tlsConfig *tls.Config
	auth      *sasl.Registry
	authLim   AuthThrottle // nil: no delays
	logger    *slog.Logger
	hostname  string
	connID    atomic.Uint64 // feeds APOP timestamps
	sh        *serve.Shell

	mu    sync.Mutex
	locks map[string]struct{} // users with a session in TRANSACTION
}

// Limits bounds what one server and one session may use. Zero fields take
// the defaults given.
type Limits struct {
	// MaxConnections is the number of concurrent connections (default 1000;
	// negative: no limit).
	MaxConnections int
	// MaxConnectionsPerIP is the number of concurrent connections from one
	// client network, an IPv4 address or an IPv6 /64 (default 20;
	// negative: no limit).
	MaxConnectionsPerIP int
	// IdleTimeout ends a session that sends no command for this long.
	// Default 10 minutes, the minimum RFC 1939 §3 allows for the
	// autologout timer; shorter values are for tests.
	IdleTimeout time.Duration
	// WriteTimeout bounds each write to the client (default 5 minutes).
	WriteTimeout time.Duration
	// MaxAuthFailures closes the connection after this many failed
	// authentication attempts (default 3).
	MaxAuthFailures int
	// MaxBadCommands closes the connection after this many unknown or
	// malformed commands in a row (default 10).
	MaxBadCommands int
	// MaxSASLResponse is the longest line of a SASL exchange, in octets
	// (default 16 KiB).
	MaxSASLResponse int
	// AuthFailureDelay is the delay before the next attempt after three
	// failed authentications from one network, doubled per further
	// failure up to a minute (per user name: up to 2 seconds); failures
	// are forgotten at one per minute. Default 1s; negative disables.
	AuthFailureDelay time.Duration
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if l.MaxConnections == 0 {
		l.MaxConnections = 1000
	}
	if l.MaxConnectionsPerIP == 0 {
		l.MaxConnectionsPerIP = 20
	}
	def(&l.MaxAuthFailures, 3)
	def(&l.MaxBadCommands, 10)
	def(&l.MaxSASLResponse, 16*1024)
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = 10 * time.Minute
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = 5 * time.Minute
	}
	return l
}
