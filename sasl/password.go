package sasl

import (
	"context"
	"crypto/subtle"
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
