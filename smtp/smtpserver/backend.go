package smtpserver

import (
	"context"
	"io"

	"github.com/posthorn/posthorn/internal/serve"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp"
)

// Backend creates a Session for each connection.
type Backend interface {
	// NewSession is called once a connection is accepted, before the
	// greeting. An error refuses the connection: a *smtp.Error is sent as
	// the greeting (use 554, RFC 5321 §3.1), any other error as
	// "554 5.3.2", and the connection is closed.
	//
	// The server updates *ConnInfo as the session goes on (HELO name, TLS
	// after STARTTLS, identity after AUTH, addresses after XCLIENT). Read
	// it from Session methods, which run on the connection's goroutine.
	NewSession(ctx context.Context, c *ConnInfo) (Session, error)
}

// ConnInfo describes the connection a Session runs on: addresses, TLS
// state, the authenticated identity, the EHLO name, and Service "smtp",
// "submission" or "lmtp" after the server's Mode. It is the same type as
// imapserver.ConnInfo and pop3server.ConnInfo.
type ConnInfo = serve.ConnInfo

// Session is one SMTP session: a sequence of mail transactions.
// Its methods are called from the connection's goroutine, one at a time.
// An error returned as a *smtp.Error (or wrapping one) becomes the reply;
// any other error becomes a temporary failure ("451 4.3.0"). No error text
// other than a *smtp.Error's Message reaches the client.
type Session interface {
	// Mail starts a transaction (MAIL FROM, RFC 5321 §4.1.1.2).
	// from.IsNull() for the null reverse-path. opts has the parameters the
	// server checked against what it advertised.
	Mail(ctx context.Context, from smtp.Mailbox, opts *smtp.MailOptions) error
	// Rcpt adds a recipient (RCPT TO, §4.1.1.3).
	Rcpt(ctx context.Context, to smtp.Mailbox, opts *smtp.RcptOptions) error
	// Data receives the message of the transaction, with the server's
	// Received: field first. BDAT chunks arrive as one stream too.
	//
	// r returns io.EOF only after a complete, valid message; a message
	// that breaks a limit or the bare CR/LF policy makes r return an error
	// at the end instead. So the backend must read r to io.EOF before it
	// commits the message, and then return nil to accept it (250).
	//
	// Until then the message is not acknowledged, and up to
	// Limits.MaxConnections of them may arrive at once, each as large as
	// Limits.MaxMessageSize: stream r to disk (or to its final place)
	// rather than into memory. NewStoreBackend does.
	Data(ctx context.Context, r io.Reader) error
	// Reset aborts the transaction in progress, if any (RSET, a new EHLO,
	// STARTTLS, or the end of a transaction).
	Reset(ctx context.Context)
	// Close ends the session; it is called exactly once.
	Close(ctx context.Context) error
}

// AuthSession is implemented by a Session that wants to learn, and may
// veto, the identity established by AUTH. Credentials themselves are
// checked by Server.Auth's Credentials.
type AuthSession interface {
	Session
	// Authenticated is called after a successful SASL exchange. An error
	// fails the AUTH command (535 5.7.8 unless it is a *smtp.Error).
	Authenticated(ctx context.Context, id sasl.Identity) error
}

// LMTPSession is implemented by a Session that gives a separate result for
// each recipient in LMTP mode (RFC 2033 §4.2). Without it every recipient
// gets the result of Data.
type LMTPSession interface {
	Session
	// LMTPData is like Data and returns one result per recipient accepted
	// by Rcpt, in order (nil = delivered). A shorter slice is padded with
	// the last element.
	LMTPData(ctx context.Context, r io.Reader) []error
}
