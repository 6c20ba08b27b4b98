package sasl

import (
	"bytes"
	"context"
	"strings"
	"unicode/utf8"
)

// LOGIN is not standardised; this follows draft-murchison-sasl-login-00 and
// what Microsoft, Postfix and Dovecot do: the server sends the challenges
// "Username:" and "Password:", the client answers each with the plain value.
// Clients that send the user name as an initial response are accepted too.

const loginMaxField = 1024

type loginClient struct {
	username, password string
	step               int
}

// NewLoginClient returns a LOGIN client. It sends no initial response and
// answers a challenge containing "pass" (case-insensitive) with the password
// and any other challenge with the user name, as deployed clients do.
func NewLoginClient(username, password string) Client {
	return &loginClient{username: username, password: password}
}

func (c *loginClient) Start() (string, []byte, error) {
	if c.step != 0 {
		return "", nil, ErrUnexpectedMessage
	}
	c.step = 1
	return Login, nil, nil
}

func (c *loginClient) Next(challenge []byte) ([]byte, error) {
	switch {
	case c.step == 0 || c.step >= 3:
		return nil, ErrUnexpectedMessage
	case c.step == 2 || strings.Contains(strings.ToLower(string(challenge)), "pass"):
		c.step = 3
		return []byte(c.password), nil
	}
	c.step = 2
	return []byte(c.username), nil
}

type loginServer struct {
	serverBase
	username string
	gotUser  bool
}

func (s *loginServer) Next(ctx context.Context, resp []byte) ([]byte, bool, error) {
	ctx, err := s.begin(ctx, resp)
	if err != nil {
		return nil, false, err
	}
	if s.step == 1 && resp == nil {
		return []byte("Username:"), false, nil
	}
	if len(resp) > loginMaxField || !utf8.Valid(resp) || bytes.IndexByte(resp, 0) >= 0 {
		return nil, false, s.failWith(protoErr(Login, "invalid field"))
	}
	if !s.gotUser {
		if len(resp) == 0 {
			return nil, false, s.failWith(protoErr(Login, "empty user name"))
		}
		s.username, s.gotUser = string(resp), true
		return []byte("Password:"), false, nil
	}
	user, err := s.verifyPassword(ctx, s.username, string(resp))
	if err != nil {
		return nil, false, s.failWith(err)
	}
	return s.succeed(user, "", user)
}
