package sasl

import (
	"context"
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
)

// verifyPassword checks a presented user name and password against whatever
// the backend has: a PasswordVerifier, stored SCRAM keys (the password is
// run through the same derivation and the StoredKey compared), or a shared
// secret. It returns the prepared user name.
//
// RFC 4616 §2: presented strings are prepared as query strings, and
// verification fails when preparation fails or yields an empty string.
func (s *serverBase) verifyPassword(ctx context.Context, username, password string) (string, error) {
	user, err := SASLprepQuery(username)
	if err != nil || user == "" {
		return "", fmt.Errorf("%w: user name fails SASLprep", ErrAuthFailed)
	}
	s.id.AuthcID = user // the name tried, for Identity after a failure
	pass, err := SASLprepQuery(password)
	if err != nil || pass == "" {
		return "", fmt.Errorf("%w: password fails SASLprep", ErrAuthFailed)
	}
	switch c := s.reg.Credentials.(type) {
	case PasswordVerifier:
		if err := c.VerifyPassword(ctx, user, pass); err != nil {
			return "", authFailed(err)
		}
		return user, nil
	case SCRAMLookup:
		var lastErr error
		for _, h := range []SCRAMHash{SHA256, SHA1} {
			k, err := c.LookupSCRAM(ctx, user, h)
			if err != nil {
				lastErr = err
				if errors.Is(err, ErrUnknownUser) || errors.Is(err, ErrAuthFailed) {
					continue
				}
				return "", err
			}
			if k.Iterations < 1 || len(k.Salt) == 0 || len(k.StoredKey) != h.Size() {
				return "", fmt.Errorf("sasl: backend returned invalid SCRAM keys for %v", h)
			}
			salted, err := saltedPassword(h, pass, k.Salt, k.Iterations)
			if err != nil {
				return "", err
			}
			stored, _ := keysFromSalted(h, salted)
			if subtle.ConstantTimeCompare(stored, k.StoredKey) != 1 {
				return "", ErrAuthFailed
			}
			return user, nil
		}
		// Unknown user: spend the time a known one costs, so that the
		// answer's delay does not tell (RFC 5802 §5.1 reasoning).
		saltedPassword(SHA256, pass, s.reg.fakeSaltKey()[:DefaultSaltLen], DefaultSCRAMIterations)
		return "", authFailed(lastErr)
	case SecretLookup:
		secret, err := c.LookupSecret(ctx, user)
		if err != nil {
			return "", authFailed(err)
		}
		want, err := SASLprepQuery(secret)
		if err != nil {
			want = secret
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(pass)) != 1 {
			return "", ErrAuthFailed
		}
		return user, nil
	}
	return "", ErrAuthFailed
}

// PasswordAllowed reports whether a plaintext password may be accepted on a
// connection in state cs outside SASL (IMAP LOGIN, POP3 USER/PASS): the
// backend can check passwords, and the connection is protected by TLS or
// AllowPlaintext is set (and RequireTLS is not). IMAP servers advertise
// LOGINDISABLED (RFC 9051 §6.2.3) when it is false.
func (r *Registry) PasswordAllowed(cs ConnState) bool {
	if r.RequireTLS && !cs.TLS {
		return false
	}
	return (cs.TLS || r.AllowPlaintext) && r.hasPasswordCheck()
}

// CheckPassword verifies a user name and password received outside SASL
// (IMAP LOGIN, POP3 USER/PASS) exactly as the PLAIN server does: SASLprep,
// then the backend's PasswordVerifier, stored SCRAM keys or shared secret.
// It fails with ErrUnsupportedMechanism (wrapped) when !PasswordAllowed(cs),
// and otherwise returns errors of the classes described in the package
// documentation. The Identity's Mechanism is "".
func (r *Registry) CheckPassword(ctx context.Context, cs ConnState, username, password string) (Identity, error) {
	if !r.PasswordAllowed(cs) {
		return Identity{}, fmt.Errorf("%w: password login not allowed on this connection", ErrUnsupportedMechanism)
	}
	s := serverBase{reg: r, cs: cs}
	user, err := s.verifyPassword(withConnState(ctx, cs), username, password)
	if err != nil {
		return Identity{}, err
	}
	return Identity{Username: user, AuthcID: user}, nil
}

// APOPAllowed reports whether the backend can serve POP3 APOP (it implements
// SecretLookup).
func (r *Registry) APOPAllowed() bool {
	_, ok := r.Credentials.(SecretLookup)
	return ok
}

// CheckAPOP verifies a POP3 APOP command (RFC 1939 §7): digest must be the
// lower-case hex MD5 of the server's greeting timestamp (including the angle
// brackets) followed by the user's shared secret. Like CRAM-MD5 it needs the
// plaintext secret (SecretLookup); ErrUnsupportedMechanism when there is none.
func (r *Registry) CheckAPOP(ctx context.Context, cs ConnState, username, timestamp, digest string) (Identity, error) {
	sl, ok := r.Credentials.(SecretLookup)
	if !ok {
		return Identity{}, fmt.Errorf("%w: APOP needs SecretLookup", ErrUnsupportedMechanism)
	}
	want, err := hex.DecodeString(digest)
	if err != nil || len(want) != md5.Size {
		return Identity{}, &ProtocolError{Mechanism: "APOP", Reason: "digest is not 32 hex digits"}
	}
	secret, err := sl.LookupSecret(withConnState(ctx, cs), username)
	if err != nil {
		return Identity{}, authFailed(err)
	}
	sum := md5.Sum([]byte(timestamp + secret))
	if subtle.ConstantTimeCompare(sum[:], want) != 1 {
		return Identity{}, ErrAuthFailed
	}
	return Identity{Username: username, AuthcID: username, Mechanism: "APOP"}, nil
}
