package sasl

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"math/big"
	"strconv"
	"time"
)

// CRAM-MD5 (RFC 2195): the server sends a msg-id-like challenge, the client
// answers "user SP hex(HMAC-MD5(secret, challenge))". It needs the plaintext
// secret on both sides and has no mutual authentication or channel binding;
// it is here for old clients only (RFC 2195 is historic practice), off by
// default on the server.

type cramClient struct {
	username, secret string
	step             int
}

// NewCRAMMD5Client returns a CRAM-MD5 client (RFC 2195).
func NewCRAMMD5Client(username, secret string) Client {
	return &cramClient{username: username, secret: secret}
}

func (c *cramClient) Start() (string, []byte, error) {
	if c.step != 0 {
		return "", nil, ErrUnexpectedMessage
	}
	c.step = 1
	return CRAMMD5, nil, nil
}

func (c *cramClient) Next(challenge []byte) ([]byte, error) {
	if c.step != 1 {
		return nil, ErrUnexpectedMessage
	}
	c.step = 2
	if len(challenge) == 0 {
		return nil, protoErr(CRAMMD5, "empty challenge")
	}
	return cramResponse(c.username, c.secret, challenge), nil
}

func cramResponse(user, secret string, challenge []byte) []byte {
	m := hmac.New(md5.New, []byte(secret))
	m.Write(challenge)
	sum := m.Sum(nil)
	out := make([]byte, 0, len(user)+1+2*md5.Size)
	out = append(out, user...)
	out = append(out, ' ')
	return hex.AppendEncode(out, sum)
}

type cramServer struct {
	serverBase
	challenge []byte
}

func (s *cramServer) Next(ctx context.Context, resp []byte) ([]byte, bool, error) {
	ctx, err := s.begin(ctx, resp)
	if err != nil {
		return nil, false, err
	}
	if s.step == 1 {
		if len(resp) > 0 {
			return nil, false, s.failWith(fmt.Errorf("%w: CRAM-MD5 has no initial response", ErrUnexpectedMessage))
		}
		// RFC 2195 §2: "<random digits.timestamp@hostname>".
		n, err := s.reg.randomBytes(8)
		if err != nil {
			return nil, false, s.failWith(err)
		}
		host := s.reg.Hostname
		if host == "" {
			host = "localhost"
		}
		s.challenge = fmt.Appendf(nil, "<%s.%s@%s>", new(big.Int).SetBytes(n).String(),
			strconv.FormatInt(time.Now().Unix(), 10), host)
		return s.challenge, false, nil
	}
	if s.step > 2 {
		return nil, false, s.failWith(ErrUnexpectedMessage)
	}
	sp := bytes.LastIndexByte(resp, ' ')
	if sp <= 0 || len(resp)-sp-1 != 2*md5.Size {
		return nil, false, s.failWith(protoErr(CRAMMD5, "want \"user digest\""))
	}
	user, digest := string(resp[:sp]), resp[sp+1:]
	got := make([]byte, md5.Size)
	if _, err := hex.Decode(got, digest); err != nil {
		return nil, false, s.failWith(protoErr(CRAMMD5, "digest is not hex"))
	}
	secret, err := s.reg.Credentials.(SecretLookup).LookupSecret(ctx, user)
	if err != nil {
		return nil, false, s.failWith(authFailed(err))
	}
	m := hmac.New(md5.New, []byte(secret))
	m.Write(s.challenge)
	if !hmac.Equal(m.Sum(nil), got) {
		return nil, false, s.failWith(ErrAuthFailed)
	}
	return s.succeed(user, "", user)
}
