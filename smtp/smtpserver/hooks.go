package smtpserver

import (
	"net/netip"

	"github.com/posthorn/posthorn/internal/serve"
	"github.com/posthorn/posthorn/smtp"
)

// Hooks are optional callbacks for metrics and auditing (counting
// connections, failed logins, accepted messages). Each is called on the
// connection's goroutine, so it must return quickly; nil fields are
// skipped. No event carries a password, an AUTH payload or message data.
type Hooks struct {
	// Connect is called for every connection the server accepts from
	// the listener: with Refused empty when it is served, or naming why
	// it was turned away (connection limits, shutdown).
	Connect func(ConnEvent)
	// Disconnect is called once when a served connection ends, with
	// Duration set.
	Disconnect func(ConnEvent)
	// Auth is called after every AUTH exchange that ran: Err is nil on
	// success, otherwise the reason (sasl.ErrAuthFailed and the like).
	Auth func(AuthEvent)
	// Message is called when a transaction's data has been read and
	// answered, whether the backend accepted it or not.
	Message func(MessageEvent)
}

// ConnEvent describes a connection for Hooks.Connect and
// Hooks.Disconnect; the same type in imapserver and pop3server.
type ConnEvent = serve.ConnEvent

// AuthEvent describes an AUTH exchange for Hooks.Auth; the same type in
// imapserver and pop3server.
type AuthEvent = serve.AuthEvent

// AuthThrottle slows and blocks AUTH attempts (Server.AuthThrottle); the
// same type in imapserver and pop3server.
type AuthThrottle = serve.AuthThrottle

// MessageEvent describes the end of a mail transaction for Hooks.Message.
type MessageEvent struct {
	Remote     netip.Addr
	From       smtp.Mailbox // the reverse path (null for bounces)
	Recipients int          // accepted RCPT TO
	// Accepted is how many recipients the message was delivered to: 0
	// or Recipients in SMTP, any number in between in LMTP.
	Accepted int
	// Size is the number of message octets read from the client (before
	// any Received: field the server adds).
	Size int64
}
