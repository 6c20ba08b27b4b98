package sasl

// irClient holds the client-side state shared by mechanisms whose first
// message is the client's (PLAIN, EXTERNAL, ANONYMOUS, OAUTHBEARER,
// XOAUTH2, SCRAM).
//
// RFC 4422 §5: when the protocol client sends the mechanism without the
// initial response (the protocol or the server does not allow one), the
// server answers with an empty challenge, and Next returns the initial
// response then.
type irClient struct {
	started bool
	irSent  bool // the initial response went out, in Start or in Next
	ir      []byte
}

// start records ir as the initial response.
func (c *irClient) start(ir []byte) error {
	if c.started {
		return ErrUnexpectedMessage
	}
	c.started = true
	c.ir = ir
	return nil
}

// firstChallenge reports whether challenge is the empty challenge that asks
// for the initial response, and returns it then. Only the first challenge
// can be that.
func (c *irClient) firstChallenge(challenge []byte) ([]byte, bool) {
	if !c.started || c.irSent {
		return nil, false
	}
	c.irSent = true
	if len(challenge) == 0 {
		if c.ir == nil {
			return []byte{}, true
		}
		return c.ir, true
	}
	return nil, false
}
