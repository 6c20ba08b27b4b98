package pop3server

import (
	"net/netip"

	"github.com/posthorn/posthorn/internal/serve"
)

// Hooks are optional callbacks for metrics and auditing (counting
// connections, failed logins, downloaded-and-deleted mail). Each is
// called on the connection's goroutine, so it must return quickly; nil
// fields are skipped. No event carries a password or AUTH payload.
type Hooks struct {
	// Connect is called for every connection taken from the listener:
	// with Refused empty when it is served, or naming why it was turned
	// away (connection limits, shutdown).
	Connect func(ConnEvent)
	// Disconnect is called once when a served connection ends, with
	// Duration set.
	Disconnect func(ConnEvent)
	// Auth is called after every USER/PASS, APOP or AUTH attempt: Err is
	// nil on success, otherwise the reason (sasl.ErrAuthFailed and the
	// like).
	Auth func(AuthEvent)
	// Deleted is called when the UPDATE state removed messages (RFC 1939
	// §6).
	Deleted func(DeleteEvent)
}

// ConnEvent describes a connection for Hooks.Connect and
// Hooks.Disconnect; the same type in smtpserver and imapserver.
type ConnEvent = serve.ConnEvent

// AuthEvent describes a USER/PASS, APOP or AUTH attempt for Hooks.Auth
// (Mechanism "USER", "APOP" or the SASL mechanism); the same type in
// smtpserver and imapserver.
type AuthEvent = serve.AuthEvent

// AuthThrottle slows and blocks authentication attempts
// (Server.AuthThrottle); the same type in smtpserver and imapserver.
type AuthThrottle = serve.AuthThrottle

// DeleteEvent describes the messages a session removed on QUIT.
type DeleteEvent struct {
	Remote   netip.Addr
	Username string
	Count    int
}
