package sasl

import (
	"bytes"
	"context"
	"unicode/utf8"
)

// PLAIN (RFC 4616).
//
//	message = [authzid] UTF8NUL authcid UTF8NUL passwd

// plainMaxField is the limit on each of authzid, authcid and passwd. RFC 4616
// §2 requires servers to accept at least 255 octets; we accept 1024 so that
// long passphrases work, bounded by Registry.MaxMessage as a whole.
const plainMaxField = 1024

type plainClient struct {
	irClient
	authzid, username, password string
}

// NewPlainClient returns a PLAIN client (RFC 4616). authzid is usually
// empty: the server then derives it from username. The strings are sent as
// given; the server prepares them (RFC 4616 §2).
func NewPlainClient(authzid, username, password string) Client {
	return &plainClient{authzid: authzid, username: username, password: password}
}

func (c *plainClient) Start() (string, []byte, error) {
	ir := make([]byte, 0, len(c.authzid)+len(c.username)+len(c.password)+2)
	ir = append(ir, c.authzid...)
	ir = append(ir, 0)
	ir = append(ir, c.username...)
	ir = append(ir, 0)
	ir = append(ir, c.password...)
	if err := c.start(ir); err != nil {
		return "", nil, err
	}
	return Plain, ir, nil
}

// Next answers the empty challenge of a server that got no initial
// response; PLAIN has no other challenges.
func (c *plainClient) Next(challenge []byte) ([]byte, error) {
	if r, ok := c.firstChallenge(challenge); ok {
		return r, nil
	}
	return nil, ErrUnexpectedMessage
}

type plainServer struct {
	serverBase
}

// ParsePlain parses a PLAIN message (RFC 4616 §2) into its three fields.
// It is what the PLAIN server uses, exported for protocol servers that
// receive PLAIN credentials outside SASL.
func ParsePlain(msg []byte) (authzid, authcid, passwd string, err error) {
	i := bytes.IndexByte(msg, 0)
	if i < 0 {
		return "", "", "", protoErr(Plain, "missing NUL separators")
	}
	j := bytes.IndexByte(msg[i+1:], 0)
	if j < 0 {
		return "", "", "", protoErr(Plain, "missing second NUL separator")
	}
	j += i + 1
	z, c, p := msg[:i], msg[i+1:j], msg[j+1:]
	switch {
	case len(c) == 0:
		return "", "", "", protoErr(Plain, "empty authcid")
	case len(p) == 0:
		return "", "", "", protoErr(Plain, "empty passwd")
	case bytes.IndexByte(p, 0) >= 0:
		return "", "", "", protoErr(Plain, "NUL in passwd")
	case len(z) > plainMaxField || len(c) > plainMaxField || len(p) > plainMaxField:
		return "", "", "", protoErr(Plain, "field too long")
	case !utf8.Valid(msg):
		return "", "", "", protoErr(Plain, "invalid UTF-8")
	}
	return string(z), string(c), string(p), nil
}

func (s *plainServer) Next(ctx context.Context, resp []byte) ([]byte, bool, error) {
	ctx, err := s.begin(ctx, resp)
	if err != nil {
		return nil, false, err
	}
	if resp == nil {
		if s.step == 1 {
			// No initial response: ask for it with an empty challenge
			// (RFC 4422 §5 item 2).
			return []byte{}, false, nil
		}
		resp = []byte{}
	}
	if s.step > 2 {
		return nil, false, s.failWith(ErrUnexpectedMessage)
	}
	authzid, authcid, passwd, err := ParsePlain(resp)
	if err != nil {
		return nil, false, s.failWith(err)
	}
	user, err := s.verifyPassword(ctx, authcid, passwd)
	if err != nil {
		return nil, false, s.failWith(err)
	}
	if authzid != "" {
		if authzid, err = SASLprepQuery(authzid); err != nil {
			return nil, false, s.failWith(protoErr(Plain, "authzid fails SASLprep"))
		}
	}
	account, err := s.authorize(ctx, user, authzid)
	if err != nil {
		return nil, false, s.failWith(err)
	}
	return s.succeed(account, authzid, user)
}
