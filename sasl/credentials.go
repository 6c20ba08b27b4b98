package sasl

import (
	"context"
	"crypto/x509"
)

// The credential interfaces below are implemented by a backend, in any
// subset; Registry.Credentials holds it. The Registry offers a mechanism
// only when the backend implements what it needs:
//
//	PLAIN, LOGIN         PasswordVerifier, SCRAMLookup or SecretLookup
//	SCRAM-SHA-*(-PLUS)   SCRAMLookup (never PasswordVerifier alone: SCRAM
//	                     needs the salted keys, not a yes/no answer)
//	CRAM-MD5             SecretLookup (and only when listed in Registry.Mechanisms)
//	OAUTHBEARER, XOAUTH2 TokenVerifier
//	EXTERNAL             ExternalVerifier
//	ANONYMOUS            AnonymousVerifier (and only when listed)
//
// For wrong credentials a backend returns ErrAuthFailed or ErrUnknownUser
// (possibly wrapped). Any other error is passed through unchanged by the
// Server, so that a protocol server can report a temporary failure (SMTP
// 454 4.7.0, IMAP NO [UNAVAILABLE]) instead of blaming the user.
//
// Methods receive the context given to Server.Next, which carries the
// ConnState (ConnStateFromContext). They must not log secrets.

// PasswordVerifier checks a user name and password (PLAIN, LOGIN,
// Registry.CheckPassword). Both have been prepared with SASLprep (RFC 4013,
// as query strings); input that SASLprep prohibits or that prepares to the
// empty string fails before the backend is asked (RFC 4616 §2). A backend
// that stores password hashes must hash the prepared form.
type PasswordVerifier interface {
	VerifyPassword(ctx context.Context, username, password string) error
}

// SecretLookup returns the plaintext shared secret of a user, for CRAM-MD5
// (RFC 2195) and APOP (RFC 1939). Storing plaintext secrets is discouraged;
// prefer SCRAMLookup.
type SecretLookup interface {
	LookupSecret(ctx context.Context, username string) (string, error)
}

// SCRAMLookup returns the stored SCRAM keys of a user for the given hash
// (RFC 5802 §2.2, §9). The password itself is never needed; NewSCRAMKeys
// derives the keys when a password is set. Return ErrUnknownUser (or
// ErrAuthFailed) for a user without keys: the Server then simulates an
// exchange so that the client cannot tell (RFC 5802 §5.1).
type SCRAMLookup interface {
	LookupSCRAM(ctx context.Context, username string, hash SCRAMHash) (SCRAMKeys, error)
}

// TokenVerifier validates an OAuth 2.0 bearer token (OAUTHBEARER RFC 7628,
// XOAUTH2) and returns the account it grants access to. authzid is the user
// the client named (the "a=" of OAUTHBEARER, "user=" of XOAUTH2), possibly
// empty; the verifier must check that the token belongs to it. To fail with
// details for the client, return an *OAuthError (it is sent as the error
// JSON); other errors fail with status "invalid_token".
type TokenVerifier interface {
	VerifyToken(ctx context.Context, authzid, token string) (username string, err error)
}

// ExternalVerifier authenticates a client from outside SASL (EXTERNAL,
// RFC 4422 Appendix A), usually from its TLS client certificate, and returns
// the account. authzid is what the client requested (possibly empty).
type ExternalVerifier interface {
	VerifyExternal(ctx context.Context, peer []*x509.Certificate, authzid string) (username string, err error)
}

// AnonymousVerifier admits an anonymous client (RFC 4505) and returns the
// account it may use (e.g. "anonymous"). trace is the client's optional trace
// information, already checked to be at most 255 characters; it is not
// authenticated and must be treated as untrusted input.
type AnonymousVerifier interface {
	VerifyAnonymous(ctx context.Context, trace string) (username string, err error)
}

// Authorizer decides whether authcid may act as authzid. Without it a Server
// allows only an empty authzid or one equal to the authentication identity
// (RFC 4422 §3.4.1 leaves the policy to the server).
type Authorizer interface {
	Authorize(ctx context.Context, authcid, authzid string) error
}

type connStateKey struct{}

// ConnStateFromContext returns the ConnState of the exchange from a context
// passed to a credential method.
func ConnStateFromContext(ctx context.Context) (ConnState, bool) {
	cs, ok := ctx.Value(connStateKey{}).(ConnState)
	return cs, ok
}

func withConnState(ctx context.Context, cs ConnState) context.Context {
	return context.WithValue(ctx, connStateKey{}, cs)
}
