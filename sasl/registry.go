package sasl

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
)

// defaultMechanisms is the server-side list used when Registry.Mechanisms
// is nil. It is an array so that nothing can change it.
var defaultMechanisms = [...]string{
	SCRAMSHA256Plus, SCRAMSHA256, SCRAMSHA1Plus, SCRAMSHA1,
	OAuthBearer, XOAuth2, External, Plain, Login,
}

// DefaultMechanisms lists the server-side mechanisms used when
// Registry.Mechanisms is nil, strongest first. CRAM-MD5 and ANONYMOUS are
// not in it: a Registry offers them only when they are listed explicitly.
// It is a copy for reference: changing it has no effect (set
// Registry.Mechanisms instead).
var DefaultMechanisms = slices.Clone(defaultMechanisms[:])

// Registry decides which mechanisms a protocol server offers on a
// connection and starts server exchanges. The zero value offers nothing
// (it has no Credentials); a Registry must not be copied after first use and
// is safe for concurrent use by many connections once configured.
type Registry struct {
	// Credentials is the backend: a value implementing any subset of
	// PasswordVerifier, SCRAMLookup, SecretLookup, TokenVerifier,
	// ExternalVerifier, AnonymousVerifier and Authorizer. A mechanism is
	// offered only when the backend can serve it (see the table at
	// PasswordVerifier).
	Credentials any

	// Mechanisms lists the mechanisms that may be offered, in the order
	// they are offered. nil means DefaultMechanisms.
	Mechanisms []string

	// AllowPlaintext offers PLAIN, LOGIN, OAUTHBEARER and XOAUTH2 on
	// connections without TLS. The default (false) offers them only over
	// TLS, since they reveal the password or token (RFC 4954 §4,
	// RFC 9051 §11.1, RFC 7628 §5). Loopback tests may set it.
	AllowPlaintext bool

	// RequireTLS offers no mechanism at all on connections without TLS,
	// and overrides AllowPlaintext. Without it, SCRAM, CRAM-MD5 and
	// ANONYMOUS are offered in clear: they reveal no password, but the
	// user name and the exchange travel unencrypted. A submission server
	// that refuses mail without TLS anyway (RFC 8314 §3.3 recommends TLS
	// for all submission) sets it so that nothing of a login is sent in
	// clear.
	RequireTLS bool

	// MaxMessage limits one decoded client response in bytes; 0 means
	// DefaultMaxMessage. Longer responses fail with a *ProtocolError.
	MaxMessage int

	// Hostname is used in the CRAM-MD5 challenge (RFC 2195 §2); "" means
	// "localhost".
	Hostname string

	// Rand is the source of nonces and challenges; nil means crypto/rand.
	Rand io.Reader

	// SCRAMIterations is the iteration count a SCRAM server announces for
	// an unknown user, whose exchange it simulates (RFC 5802 §5.1); 0
	// means DefaultSCRAMIterations. Set it to the count real users' keys
	// have, so that the answer does not tell them apart.
	SCRAMIterations int

	once    sync.Once
	fakeKey []byte // key for simulated SCRAM salts of unknown users
}

func (r *Registry) mechanisms() []string {
	if r.Mechanisms == nil {
		return defaultMechanisms[:]
	}
	return r.Mechanisms
}

func (r *Registry) maxMessage() int {
	if r.MaxMessage > 0 {
		return r.MaxMessage
	}
	return DefaultMaxMessage
}

func (r *Registry) rand() io.Reader {
	if r.Rand != nil {
		return r.Rand
	}
	return rand.Reader
}

func (r *Registry) randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r.rand(), b); err != nil {
		return nil, fmt.Errorf("sasl: random source: %w", err)
	}
	return b, nil
}

func (r *Registry) fakeSaltKey() []byte {
	r.once.Do(func() {
		r.fakeKey = make([]byte, 32)
		rand.Read(r.fakeKey)
	})
	return r.fakeKey
}

func (r *Registry) hasPasswordCheck() bool {
	switch r.Credentials.(type) {
	case PasswordVerifier, SCRAMLookup, SecretLookup:
		return true
	}
	return false
}

// offers reports whether mech (upper case) may be offered on cs, ignoring
// whether it is listed.
func (r *Registry) offers(mech string, cs ConnState) bool {
	if r.RequireTLS && !cs.TLS {
		return false
	}
	plainOK := cs.TLS || r.AllowPlaintext
	switch mech {
	case Plain, Login:
		return plainOK && r.hasPasswordCheck()
	case CRAMMD5:
		_, ok := r.Credentials.(SecretLookup)
		return ok
	case SCRAMSHA1, SCRAMSHA256:
		_, ok := r.Credentials.(SCRAMLookup)
		return ok
	case SCRAMSHA1Plus, SCRAMSHA256Plus:
		_, ok := r.Credentials.(SCRAMLookup)
		return ok && cs.ChannelBinding.Usable()
	case OAuthBearer, XOAuth2:
		_, ok := r.Credentials.(TokenVerifier)
		return ok && plainOK
	case External:
		_, ok := r.Credentials.(ExternalVerifier)
		return ok && cs.TLSState != nil && len(cs.TLSState.PeerCertificates) > 0
	case Anonymous:
		_, ok := r.Credentials.(AnonymousVerifier)
		return ok
	}
	return false
}

// Offer returns the mechanisms to advertise on a connection in this state
// (SMTP EHLO "AUTH", IMAP CAPABILITY "AUTH=", POP3 CAPA "SASL"), strongest
// first. It returns a new slice; nil when nothing can be offered.
//
// -PLUS mechanisms are offered only while cs.ChannelBinding is usable; PLAIN,
// LOGIN, OAUTHBEARER and XOAUTH2 only over TLS unless AllowPlaintext.
func (r *Registry) Offer(cs ConnState) []string {
	var out []string
	for _, m := range r.mechanisms() {
		m = strings.ToUpper(m)
		if r.offers(m, cs) {
			out = append(out, m)
		}
	}
	return out
}

// Offers reports whether mech is in Offer(cs). Mechanism names are matched
// case-insensitively.
func (r *Registry) Offers(mech string, cs ConnState) bool {
	mech = strings.ToUpper(mech)
	for _, m := range r.mechanisms() {
		if strings.ToUpper(m) == mech {
			return r.offers(mech, cs)
		}
	}
	return false
}

// offersPlus reports whether any -PLUS mechanism is offered on cs: the server
// "supports channel binding" in the sense of RFC 5802 §6.
func (r *Registry) offersPlus(cs ConnState) bool {
	return r.Offers(SCRAMSHA256Plus, cs) || r.Offers(SCRAMSHA1Plus, cs)
}

// NewServer starts the server side of mech on a connection in state cs. It
// fails with ErrUnsupportedMechanism (wrapped) when mech is not in
// Offer(cs), so a protocol server can pass the client's mechanism name
// straight through. A -PLUS mechanism consumes cs.ChannelBinding (RFC 9266
// §4.1).
func (r *Registry) NewServer(mech string, cs ConnState) (Server, error) {
	mech = strings.ToUpper(mech)
	if !r.Offers(mech, cs) {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedMechanism, mech)
	}
	b := serverBase{reg: r, cs: cs, mech: mech}
	switch mech {
	case Plain:
		return &plainServer{serverBase: b}, nil
	case Login:
		return &loginServer{serverBase: b}, nil
	case CRAMMD5:
		return &cramServer{serverBase: b}, nil
	case SCRAMSHA1, SCRAMSHA256, SCRAMSHA1Plus, SCRAMSHA256Plus:
		return newSCRAMServer(b)
	case OAuthBearer:
		return &oauthBearerServer{oauthServerBase{serverBase: b}}, nil
	case XOAuth2:
		return &xoauth2Server{oauthServerBase{serverBase: b, xoauth2: true}}, nil
	case External:
		return &externalServer{serverBase: b}, nil
	case Anonymous:
		return &anonymousServer{serverBase: b}, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedMechanism, mech)
}

// serverBase holds what every server mechanism shares.
type serverBase struct {
	reg  *Registry
	cs   ConnState
	mech string
	id   Identity
	done bool  // success was reported
	fail error // terminal error, repeated on later calls
	step int   // number of Next calls so far
}

func (s *serverBase) Identity() Identity { return s.id }

// begin does the checks common to every Next call: terminal state, and the
// message length limit. It returns the context to pass to backends.
func (s *serverBase) begin(ctx context.Context, resp []byte) (context.Context, error) {
	if s.fail != nil {
		return ctx, s.fail
	}
	if s.done {
		return ctx, s.failWith(ErrUnexpectedMessage)
	}
	if err := ctx.Err(); err != nil {
		return ctx, s.failWith(err)
	}
	s.step++
	if len(resp) > s.reg.maxMessage() {
		return ctx, s.failWith(protoErr(s.mech, "message too long"))
	}
	return withConnState(ctx, s.cs), nil
}

func (s *serverBase) failWith(err error) error {
	s.fail = err
	return err
}

func (s *serverBase) succeed(username, authzid, authcid string) ([]byte, bool, error) {
	s.done = true
	s.id = Identity{Username: username, AuthzID: authzid, AuthcID: authcid, Mechanism: s.mech}
	return nil, true, nil
}

// authFailed classifies a backend error: bad credentials become errors
// matching ErrAuthFailed, anything else (a temporary backend failure) is
// returned unchanged.
func authFailed(err error) error {
	switch {
	case err == nil:
		return ErrAuthFailed
	case errors.Is(err, ErrAuthFailed):
		return err
	case errors.Is(err, ErrUnknownUser), errors.Is(err, ErrNotAuthorized):
		return fmt.Errorf("%w: %w", ErrAuthFailed, err)
	}
	var oe *OAuthError
	if errors.As(err, &oe) {
		return fmt.Errorf("%w: %w", ErrAuthFailed, err)
	}
	return err
}

// authorize applies the authorization rule (RFC 4422 §3.4.1) and returns the
// account to log in as.
func (s *serverBase) authorize(ctx context.Context, authcid, authzid string) (string, error) {
	if authzid == "" || authzid == authcid {
		return authcid, nil
	}
	a, ok := s.reg.Credentials.(Authorizer)
	if !ok {
		return "", fmt.Errorf("%w: %w", ErrAuthFailed, ErrNotAuthorized)
	}
	if err := a.Authorize(ctx, authcid, authzid); err != nil {
		if errors.Is(err, ErrAuthFailed) || errors.Is(err, ErrNotAuthorized) {
			return "", fmt.Errorf("%w: %w", ErrAuthFailed, ErrNotAuthorized)
		}
		return "", err
	}
	return authzid, nil
}
