package imapserver

import (
	"net/netip"
	"time"
)

// Hooks are optional callbacks for metrics and auditing (counting
// connections and failed logins). Each is called on the connection's
// goroutine, so it must return quickly; nil fields are skipped. No event
// carries a password or AUTHENTICATE payload.
type Hooks struct {
	// Connect is called for every connection taken from the listener:
	// with Refused empty when it is served, or naming why it was turned
	// away (connection limits, shutdown).
	Connect func(ConnEvent)
	// Disconnect is called once when a served connection ends, with
	// Duration set.
	Disconnect func(ConnEvent)
	// Auth is called after every LOGIN or AUTHENTICATE that reached the
	// credential check: Err is nil on success, otherwise the reason
	// (ErrAuthFailed and the like).
	Auth func(AuthEvent)
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
	// Mechanism is "LOGIN" for the LOGIN command, else the SASL
	// mechanism name.
	Mechanism string
	// Username is the user logged in as, or after a failure the name
	// the client gave, where the mechanism tells it; empty otherwise.
	Username string
	Err      error
}
