package sasl

import (
	"context"
	"unicode/utf8"
)

// ANONYMOUS (RFC 4505): the client sends optional trace information (an
// e-mail address or a token of at most 255 characters) and is admitted
// without credentials.

// anonymousMaxTrace is the RFC 4505 §2 limit in characters (a token of up
// to 255 UTF-8 characters; we apply it to the e-mail form as well).
const anonymousMaxTrace = 255

type anonymousClient struct {
	irClient
	trace string
}

// NewAnonymousClient returns an ANONYMOUS client (RFC 4505) sending trace
// (may be empty). RFC 4505 §4: the trace is not authenticated and may reveal
// the user; prefer an empty one.
func NewAnonymousClient(trace string) Client {
	return &anonymousClient{trace: trace}
}

func (c *anonymousClient) Start() (string, []byte, error) {
	ir := []byte(c.trace)
	if err := c.start(ir); err != nil {
		return "", nil, err
	}
	return Anonymous, ir, nil
}

func (c *anonymousClient) Next(challenge []byte) ([]byte, error) {
	if r, ok := c.firstChallenge(challenge); ok {
		return r, nil
	}
	return nil, ErrUnexpectedMessage
}

type anonymousServer struct{ serverBase }

// checkTrace applies RFC 4505 §2 and the "trace" stringprep profile (§3):
// at most 255 characters of UTF-8, none prohibited (controls, private use,
// non-characters, surrogates, bidi controls, tags). Spaces are allowed.
func checkTrace(b []byte) error {
	if !utf8.Valid(b) || utf8.RuneCount(b) > anonymousMaxTrace {
		return protoErr(Anonymous, "trace too long or not UTF-8")
	}
	for _, r := range string(b) {
		if r != ' ' && prohibited(r) && !inTable(r, tableC12) {
			return protoErr(Anonymous, "prohibited character in trace")
		}
	}
	return checkBidiProto(b)
}

func checkBidiProto(b []byte) error {
	if checkBidi(string(b)) != nil {
		return protoErr(Anonymous, "trace violates the bidi rule")
	}
	return nil
}

func (s *anonymousServer) Next(ctx context.Context, resp []byte) ([]byte, bool, error) {
	ctx, err := s.begin(ctx, resp)
	if err != nil {
		return nil, false, err
	}
	if resp == nil && s.step == 1 {
		return []byte{}, false, nil
	}
	if s.step > 2 {
		return nil, false, s.failWith(ErrUnexpectedMessage)
	}
	if err := checkTrace(resp); err != nil {
		return nil, false, s.failWith(err)
	}
	trace := string(resp)
	user, err := s.reg.Credentials.(AnonymousVerifier).VerifyAnonymous(ctx, trace)
	if err != nil {
		return nil, false, s.failWith(authFailed(err))
	}
	if user == "" {
		return nil, false, s.failWith(ErrAuthFailed)
	}
	return s.succeed(user, "", trace)
}
