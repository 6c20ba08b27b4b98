package serve

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/posthorn/posthorn/sasl"
)

// ConnInfo describes the client connection of a session to a backend. It
// is the one type behind smtpserver.ConnInfo, imapserver.ConnInfo and
// pop3server.ConnInfo, so that one store serving the three protocols
// sees one shape (audit logs, per-IP policy, Dovecot-like %r logging).
type ConnInfo struct {
	// RemoteAddr and LocalAddr are the connection's addresses: behind a
	// load balancer in the server's ProxyTrusted, those its PROXY header
	// carries; in SMTP, after XCLIENT from a trusted client, those it
	// announced.
	RemoteAddr, LocalAddr net.Addr
	// TLS is the state of TLS on the connection (implicit TLS, or after
	// STARTTLS or STLS); nil on a plaintext connection.
	TLS *tls.ConnectionState
	// Identity is who authenticated and how: Identity.Mechanism is the
	// SASL mechanism name, or "LOGIN" for IMAP's LOGIN command, "USER"
	// or "APOP" in POP3, "XCLIENT" for a login announced by an SMTP
	// XCLIENT. nil before a successful authentication.
	Identity *sasl.Identity
	// Hostname is the name the SMTP client gave in EHLO, HELO or LHLO;
	// "" before it, and always in IMAP and POP3.
	Hostname string
	// Service names the server: "smtp" (an MX), "submission", "lmtp",
	// "imap" or "pop3".
	Service string
}

// ConnEvent describes a connection for the Hooks.Connect and
// Hooks.Disconnect of each server.
type ConnEvent struct {
	// Remote is the client address (behind a trusted PROXY, the address
	// the proxy announced).
	Remote netip.Addr
	// Refused is why the connection was not served ("too many
	// connections", "shutting down"); empty if it was.
	Refused string
	// Duration is how long the connection lasted (Disconnect only).
	Duration time.Duration
}

// AuthEvent describes an authentication attempt for the Hooks.Auth of
// each server.
type AuthEvent struct {
	// Remote is the client address.
	Remote netip.Addr
	// Mechanism is the SASL mechanism name, upper case, or the
	// protocol's own command: "LOGIN" in IMAP, "USER" or "APOP" in POP3.
	Mechanism string
	// Username is the account logged in to or, after a failure, the
	// name the client tried where it is known (IMAP LOGIN, POP3 USER and
	// APOP, and the SASL mechanisms PLAIN, LOGIN and SCRAM); empty
	// otherwise.
	Username string
	// Err is nil on success, otherwise the reason (sasl.ErrAuthFailed
	// and the like).
	Err error
}

// Hostname is a server's Hostname field with the one default of the
// three servers: name when it is set, else os.Hostname(), else
// "localhost".
func Hostname(name string) string {
	if name != "" {
		return name
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "localhost"
}

// AuthThrottle slows and blocks authentication attempts; it is the one
// type behind the AuthThrottle of smtpserver, imapserver and pop3server,
// and *limit.AuthLimiter implements it. One value given to several
// servers counts failures on all of them together.
type AuthThrottle interface {
	// Wait is called before the credentials of an attempt are checked,
	// whatever they turn out to be, with the user name when the
	// protocol has told it (IMAP LOGIN, POP3 USER and APOP) and "" when
	// it has not (SASL). It sleeps as long as the attempt must be
	// delayed. An error other than ctx's refuses the attempt without a
	// credential check: the server answers with a temporary failure.
	Wait(ctx context.Context, remote netip.Addr, user string) error
	// Failure records failed credentials; user is "" when unknown.
	Failure(remote netip.Addr, user string)
	// Success records a successful login.
	Success(remote netip.Addr, user string)
}

// NoThrottle is an AuthThrottle that never waits nor blocks: a server's
// throttle when auth delays are off.
type NoThrottle struct{}

// Wait returns ctx.Err().
func (NoThrottle) Wait(ctx context.Context, _ netip.Addr, _ string) error { return ctx.Err() }

// Failure does nothing.
func (NoThrottle) Failure(netip.Addr, string) {}

// Success does nothing.
func (NoThrottle) Success(netip.Addr, string) {}
