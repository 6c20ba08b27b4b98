package sasl

import (
	"context"
)

// Client is the client side of one SASL authentication exchange
// (RFC 4422 §3). A Client is used for a single exchange and is not safe for
// concurrent use.
//
// The protocol client calls Start once, sends the mechanism name and the
// initial response (if ir is non-nil and the protocol allows one), then calls
// Next with each decoded server challenge until the server reports the
// outcome. An error from Next means the client cannot continue: the protocol
// client cancels the exchange ("*" in SMTP, IMAP and POP3) and reports the
// error.
type Client interface {
	// Start returns the mechanism name and the initial response. A nil ir
	// means the mechanism has no initial response; a non-nil empty ir is an
	// empty initial response (sent as "=" in SMTP, IMAP and POP3).
	Start() (mech string, ir []byte, err error)
	// Next returns the response to a server challenge.
	Next(challenge []byte) (response []byte, err error)
}

// Server is the server side of one SASL authentication exchange
// (RFC 4422 §3). A Server is used for a single exchange and is not safe for
// concurrent use. Registry.NewServer creates one.
//
// The protocol server calls Next with the client's initial response (nil if
// the client sent none), and then with each decoded client response:
//
//	challenge, done, err := srv.Next(ctx, ir)
//	for err == nil && !done {
//		send challenge (base64), read the client's line
//		if it is "*": the client aborted (ErrAborted), stop
//		challenge, done, err = srv.Next(ctx, decoded)
//	}
//	err == nil (done): success, srv.Identity() is the authenticated identity.
//	err != nil: failure; see the package documentation for error classes.
//
// Next never returns done together with a non-empty challenge: data that a
// mechanism sends with its outcome (the SCRAM server-final message) is
// returned as an ordinary challenge, and the client's (empty) answer to it
// completes the exchange, as RFC 4422 §5 item 9 prescribes for protocols
// without "additional data with success". A protocol that supports
// additional data with success may send it in the success reply instead and
// call Next(ctx, []byte{}) itself.
type Server interface {
	// Next processes a client response and returns the next challenge.
	// response nil means the client sent no initial response (only valid
	// on the first call). done is true when authentication succeeded.
	Next(ctx context.Context, response []byte) (challenge []byte, done bool, err error)
	// Identity returns the authenticated identity. It is valid only after
	// Next returned done with a nil error. After a failure, the servers
	// of the password mechanisms (PLAIN, LOGIN) and SCRAM set AuthcID
	// alone: the user name the client tried, prepared, so that a protocol
	// server can count failures per account.
	Identity() Identity
}

// Identity is the result of a successful authentication.
type Identity struct {
	// Username is the account to log in as: the authorization identity
	// when one was requested and allowed, otherwise the authentication
	// identity (after SASLprep where the mechanism requires it), or the
	// user name returned by the credential backend (OAUTHBEARER, XOAUTH2,
	// EXTERNAL, ANONYMOUS).
	Username string
	// AuthzID is the authorization identity the client requested, or "".
	AuthzID string
	// Mechanism is the SASL mechanism name, e.g. "SCRAM-SHA-256-PLUS".
	Mechanism string
	// AuthcID is the authentication identity whose credentials were
	// verified (the user name sent by the client). For ANONYMOUS it is the
	// trace information, for token mechanisms it is "".
	AuthcID string
}

// Mechanism names (RFC 4422 §3.1, IANA "SASL Mechanisms" registry).
const (
	Plain           = "PLAIN"
	Login           = "LOGIN"
	CRAMMD5         = "CRAM-MD5"
	SCRAMSHA1       = "SCRAM-SHA-1"
	SCRAMSHA1Plus   = "SCRAM-SHA-1-PLUS"
	SCRAMSHA256     = "SCRAM-SHA-256"
	SCRAMSHA256Plus = "SCRAM-SHA-256-PLUS"
	OAuthBearer     = "OAUTHBEARER"
	XOAuth2         = "XOAUTH2"
	External        = "EXTERNAL"
	Anonymous       = "ANONYMOUS"
)

// DefaultMaxMessage is the default limit, in bytes, on one decoded client
// response accepted by a Server (Registry.MaxMessage). It leaves room for
// large OAuth bearer tokens.
const DefaultMaxMessage = 16 * 1024
