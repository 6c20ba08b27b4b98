package pop3server

import (
	"net/netip"
	"time"
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

// ConnEvent describes a connection for Hooks.Connect and Hooks.Disconnect.
type ConnEvent struct {
	// Remote is the client address (behind a trusted PROXY, the address
	// the proxy announced).
	Remote netip.Addr
	// Refused is why the connection was not served; empty if it was.
	Refused string
	// Duration is how long the connection lasted (Disconnect only).
	Duration time.Duration
}

// AuthEvent describes an authentication attempt for Hooks.Auth.
type AuthEvent struct {
	Remote netip.Addr
	// Mechanism is "USER", "APOP" or the SASL mechanism name.
	Mechanism string
	// Username is the maildrop name: the one logged in to, or after a
	// failure the name the client gave, when it gave one in the clear
	// (USER, APOP); empty otherwise.
	Username string
	Err      error
}

// DeleteEvent describes the messages a session removed on QUIT.
type DeleteEvent struct {
	Remote   netip.Addr
	Username string
	Count    int
}
