package sasl

import (
	"context"
	"crypto/x509"
	"errors"
	"testing"
)

// testCreds is an in-memory backend implementing every credential interface.
type testCreds struct {
	passwords map[string]string
	scram     map[string]map[SCRAMHash]SCRAMKeys
	tokens    map[string]string // token -> user
	authz     map[string]string // authcid -> authzid allowed
	fail      error             // when set, every lookup returns it
}

func newTestCreds(t testing.TB, users map[string]string) *testCreds {
	t.Helper()
	c := &testCreds{passwords: users, scram: map[string]map[SCRAMHash]SCRAMKeys{}, tokens: map[string]string{}, authz: map[string]string{}}
	for u, p := range users {
		c.scram[u] = map[SCRAMHash]SCRAMKeys{}
		for _, h := range []SCRAMHash{SHA1, SHA256} {
			k, err := NewSCRAMKeys(h, p, []byte("salt-"+u), 4096)
			if err != nil {
				t.Fatal(err)
			}
			c.scram[u][h] = k
		}
	}
	return c
}

func (c *testCreds) VerifyPassword(ctx context.Context, user, pass string) error {
	if c.fail != nil {
		return c.fail
	}
	p, ok := c.passwords[user]
	if !ok {
		return ErrUnknownUser
	}
	if p != pass {
		return ErrAuthFailed
	}
	return nil
}

func (c *testCreds) LookupSecret(ctx context.Context, user string) (string, error) {
	if c.fail != nil {
		return "", c.fail
	}
	p, ok := c.passwords[user]
	if !ok {
		return "", ErrUnknownUser
	}
	return p, nil
}

func (c *testCreds) LookupSCRAM(ctx context.Context, user string, h SCRAMHash) (SCRAMKeys, error) {
	if c.fail != nil {
		return SCRAMKeys{}, c.fail
	}
	k, ok := c.scram[user][h]
	if !ok {
		return SCRAMKeys{}, ErrUnknownUser
	}
	return k, nil
}

func (c *testCreds) VerifyToken(ctx context.Context, authzid, token string) (string, error) {
	if c.fail != nil {
		return "", c.fail
	}
	u, ok := c.tokens[token]
	if !ok || (authzid != "" && authzid != u) {
		return "", &OAuthError{Status: "invalid_token", Schemes: "bearer", Scope: "mail"}
	}
	return u, nil
}

func (c *testCreds) VerifyExternal(ctx context.Context, peer []*x509.Certificate, authzid string) (string, error) {
	if len(peer) == 0 {
		return "", ErrAuthFailed
	}
	cn := peer[0].Subject.CommonName
	if authzid != "" && authzid != cn {
		return "", ErrNotAuthorized
	}
	return cn, nil
}

func (c *testCreds) VerifyAnonymous(ctx context.Context, trace string) (string, error) {
	return "anonymous", nil
}

func (c *testCreds) Authorize(ctx context.Context, authcid, authzid string) error {
	if c.authz[authcid] == authzid {
		return nil
	}
	return ErrNotAuthorized
}

// passwordOnly hides every interface but PasswordVerifier.
type passwordOnly struct{ c *testCreds }

func (p passwordOnly) VerifyPassword(ctx context.Context, user, pass string) error {
	return p.c.VerifyPassword(ctx, user, pass)
}

// run drives a client against a server the way a protocol server does and
// returns the server's identity or the first error.
func run(t testing.TB, c Client, s Server, sendIR bool) (Identity, error) {
	t.Helper()
	ctx := context.Background()
	_, ir, err := c.Start()
	if err != nil {
		return Identity{}, err
	}
	var resp []byte
	if sendIR {
		resp = ir
	}
	for i := 0; i < 10; i++ {
		ch, done, err := s.Next(ctx, resp)
		if err != nil {
			return Identity{}, err
		}
		if done {
			if len(ch) != 0 {
				t.Fatalf("done with challenge %q", ch)
			}
			return s.Identity(), nil
		}
		resp, err = c.Next(ch)
		if err != nil {
			// The protocol client cancels with "*".
			return Identity{}, errors.Join(ErrAborted, err)
		}
	}
	t.Fatal("exchange did not finish")
	return Identity{}, nil
}
