package sasl

import (
	"errors"
	"strings"
)

var (
	// ErrAuthFailed reports that the credentials were wrong, the user is
	// unknown, or the authenticated user may not act as the requested
	// authorization identity. Protocol servers answer it with their
	// authentication-failure reply (SMTP 535 5.7.8, IMAP NO
	// [AUTHENTICATIONFAILED], POP3 -ERR [AUTH]). Credential backends return
	// it (or ErrUnknownUser) for bad credentials.
	ErrAuthFailed = errors.New("sasl: authentication failed")
	// ErrUnknownUser may be returned by credential look-ups for a user that
	// does not exist. Servers treat it like ErrAuthFailed and do not reveal
	// the difference to the client; SCRAM simulates an exchange for it
	// (RFC 5802 §5.1).
	ErrUnknownUser = errors.New("sasl: unknown user")
	// ErrNotAuthorized reports that the authentication identity may not act
	// as the requested authorization identity. It is always returned
	// together with ErrAuthFailed (errors.Is matches both).
	ErrNotAuthorized = errors.New("sasl: not authorized to use the requested authorization identity")
	// ErrAborted reports that the client cancelled the exchange ("*").
	// Protocol servers return it to their callers; this package never sees
	// the cancel line.
	ErrAborted = errors.New("sasl: authentication aborted by the client")
	// ErrUnexpectedMessage reports a message where the mechanism expects
	// none: a challenge after the client finished, a response after the
	// server finished, or an initial response where none is allowed.
	ErrUnexpectedMessage = errors.New("sasl: unexpected message")
	// ErrUnsupportedMechanism reports a mechanism that the Registry does not
	// offer on this connection, or that no ClientOptions allow.
	ErrUnsupportedMechanism = errors.New("sasl: mechanism not supported")
	// ErrChannelBinding reports that a -PLUS mechanism was requested
	// without channel-binding data, or that the data was used before
	// (RFC 9266 §4.1).
	ErrChannelBinding = errors.New("sasl: channel binding unavailable")
	// ErrInsecureAuth is returned by the three protocol clients when a
	// password or token would be sent over a connection without TLS: the
	// protocol's own plaintext login (IMAP LOGIN, POP3 USER/PASS) or a
	// mechanism for which SendsSecret holds. Each client's
	// Options.AllowInsecureAuth lifts the refusal.
	ErrInsecureAuth = errors.New("sasl: refusing to send a password or token without TLS")
)

// ProtocolError reports a malformed SASL message: a client response a
// Server cannot parse, or a server challenge a Client cannot parse.
// Protocol servers answer it as a syntax error (SMTP 501 5.5.2, IMAP BAD).
type ProtocolError struct {
	Mechanism string // mechanism name
	Reason    string // what was wrong, without any secret
}

// Error returns the mechanism and the reason.
func (e *ProtocolError) Error() string {
	return "sasl: " + e.Mechanism + ": malformed message: " + e.Reason
}

func protoErr(mech, reason string) error { return &ProtocolError{Mechanism: mech, Reason: reason} }

// SCRAMError is a SCRAM server-error (RFC 5802 §7, "e=" in the
// server-final-message). A Client returns it when the server sent one; a
// Server returns it wrapped together with ErrAuthFailed after it sent one.
type SCRAMError struct {
	// Code is the server-error-value, e.g. "invalid-proof",
	// "channel-bindings-dont-match", "server-does-support-channel-binding".
	Code string
}

// SCRAM server-error-values (RFC 5802 §7).
const (
	SCRAMInvalidEncoding               = "invalid-encoding"
	SCRAMExtensionsNotSupported        = "extensions-not-supported"
	SCRAMInvalidProof                  = "invalid-proof"
	SCRAMChannelBindingsDontMatch      = "channel-bindings-dont-match"
	SCRAMServerDoesSupportCB           = "server-does-support-channel-binding"
	SCRAMChannelBindingNotSupported    = "channel-binding-not-supported"
	SCRAMUnsupportedChannelBindingType = "unsupported-channel-binding-type"
	SCRAMUnknownUser                   = "unknown-user"
	SCRAMInvalidUsernameEncoding       = "invalid-username-encoding"
	SCRAMNoResources                   = "no-resources"
	SCRAMOtherError                    = "other-error"
)

// Error returns the server-error-value.
func (e *SCRAMError) Error() string { return "sasl: SCRAM server error: " + e.Code }

// OAuthError is the error JSON of an OAUTHBEARER (RFC 7628 §3.2.2) or
// XOAUTH2 failure. A Client returns it when the server sent one; a Server
// returns it wrapped together with ErrAuthFailed when the token was rejected.
type OAuthError struct {
	Status              string // "invalid_token", "insufficient_scope", or an HTTP status for XOAUTH2
	Schemes             string // space-separated HTTP auth schemes, e.g. "bearer"
	Scope               string // space-separated scopes needed, optional
	OpenIDConfiguration string // "openid-configuration" URL, optional
}

// Error returns the status and scope.
func (e *OAuthError) Error() string {
	var b strings.Builder
	b.WriteString("sasl: OAuth error: status ")
	b.WriteString(e.Status)
	if e.Scope != "" {
		b.WriteString(", scope ")
		b.WriteString(e.Scope)
	}
	return b.String()
}
