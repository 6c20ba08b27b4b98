package imapserver

import "github.com/posthorn/posthorn/internal/serve"

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

// ConnEvent describes a connection for Hooks.Connect and
// Hooks.Disconnect; the same type in smtpserver and pop3server.
type ConnEvent = serve.ConnEvent

// AuthEvent describes a LOGIN or AUTHENTICATE attempt for Hooks.Auth
// (Mechanism "LOGIN" for the LOGIN command, else the SASL mechanism);
// the same type in smtpserver and pop3server.
type AuthEvent = serve.AuthEvent

// AuthThrottle slows and blocks login attempts (Server.AuthThrottle); the
// same type in smtpserver and pop3server.
type AuthThrottle = serve.AuthThrottle
