package sasl

import (
	"context"
	"unicode/utf8"
)

// EXTERNAL (RFC 4422 Appendix A): the client is authenticated by the layer
// below (a TLS client certificate); its only message is the authorization
// identity it requests, possibly empty.

type externalClient struct {
	irClient
	authzid string
}

// NewExternalClient returns an EXTERNAL client (RFC 4422 Appendix A).
// authzid is usually empty: the server derives the identity from the TLS
// client certificate.
func NewExternalClient(authzid string) Client {
	return &externalClient{authzid: authzid}
}

func (c *externalClient) Start() (string, []byte, error) {
	ir := []byte(c.authzid)
	if err := c.start(ir); err != nil {
		return "", nil, err
	}
	return External, ir, nil
}

func (c *externalClient) Next(challenge []byte) ([]byte, error) {
	if r, ok := c.firstChallenge(challenge); ok {
		return r, nil
	}
	return nil, ErrUnexpectedMessage
}

type externalServer struct{ serverBase }

func (s *externalServer) Next(ctx context.Context, resp []byte) ([]byte, bool, error) {
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
	// RFC 4422 Appendix A.1: the message is the UTF-8 authzid.
	if !utf8.Valid(resp) || len(resp) > 1024 {
		return nil, false, s.failWith(protoErr(External, "invalid authzid"))
	}
	for _, b := range resp {
		if b == 0 {
			return nil, false, s.failWith(protoErr(External, "NUL in authzid"))
		}
	}
	authzid := string(resp)
	var peer = s.cs.TLSState.PeerCertificates
	user, err := s.reg.Credentials.(ExternalVerifier).VerifyExternal(ctx, peer, authzid)
	if err != nil {
		return nil, false, s.failWith(authFailed(err))
	}
	if user == "" {
		return nil, false, s.failWith(ErrAuthFailed)
	}
	return s.succeed(user, authzid, "")
}
