package sasl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// OAUTHBEARER (RFC 7628) and XOAUTH2 (Google's pre-standard form).
//
//	OAUTHBEARER: gs2-header %x01 *(key "=" value %x01) %x01
//	             e.g. "n,a=user@example.com,\x01host=h\x01port=143\x01auth=Bearer T\x01\x01"
//	XOAUTH2:     "user=" user %x01 "auth=Bearer " token %x01 %x01
//
// On failure the server sends the error JSON as a challenge (RFC 7628
// §3.2.2) and the client answers with a single %x01 (OAUTHBEARER, §3.2.3) or
// an empty response (XOAUTH2); the server then reports failure.

// OAuthOptions configures an OAUTHBEARER or XOAUTH2 client.
type OAuthOptions struct {
	// Username is the account (OAUTHBEARER "a=" authzid, XOAUTH2 "user=").
	// Required for XOAUTH2, optional for OAUTHBEARER.
	Username string
	// Token is the OAuth 2.0 access token (RFC 6750 bearer token).
	Token string
	// Host and Port are sent in OAUTHBEARER's "host" and "port" keys
	// (RFC 7628 §3.1) when set.
	Host string
	Port int
}

const kvsep = "\x01"

type oauthClient struct {
	irClient
	xoauth2 bool
	opts    OAuthOptions
	err     error // the server's error JSON, once received
}

// NewOAuthBearerClient returns an OAUTHBEARER client (RFC 7628).
func NewOAuthBearerClient(opts OAuthOptions) Client { return &oauthClient{opts: opts} }

// NewXOAuth2Client returns an XOAUTH2 client (Google's OAuth 2.0 mechanism
// for IMAP and SMTP).
func NewXOAuth2Client(opts OAuthOptions) Client { return &oauthClient{opts: opts, xoauth2: true} }

func (c *oauthClient) Start() (string, []byte, error) {
	var b strings.Builder
	mech := OAuthBearer
	if c.xoauth2 {
		mech = XOAuth2
		b.WriteString("user=" + c.opts.Username + kvsep + "auth=Bearer " + c.opts.Token + kvsep + kvsep)
	} else {
		b.WriteString("n,")
		if c.opts.Username != "" {
			b.WriteString("a=" + escapeSASLName(c.opts.Username))
		}
		b.WriteString("," + kvsep)
		if c.opts.Host != "" {
			b.WriteString("host=" + c.opts.Host + kvsep)
		}
		if c.opts.Port > 0 {
			b.WriteString("port=" + strconv.Itoa(c.opts.Port) + kvsep)
		}
		b.WriteString("auth=Bearer " + c.opts.Token + kvsep + kvsep)
	}
	ir := []byte(b.String())
	if strings.ContainsAny(c.opts.Username, kvsep) || strings.ContainsAny(c.opts.Token, kvsep+" \r\n") ||
		strings.ContainsAny(c.opts.Host, kvsep) {
		return "", nil, errors.New("sasl: OAuth token, user name or host contains forbidden characters")
	}
	if err := c.start(ir); err != nil {
		return "", nil, err
	}
	return mech, ir, nil
}

// Next answers the server's error JSON with the dummy response and keeps the
// error for Complete.
func (c *oauthClient) Next(challenge []byte) ([]byte, error) {
	if r, ok := c.firstChallenge(challenge); ok {
		return r, nil
	}
	if !c.started || c.err != nil {
		return nil, ErrUnexpectedMessage
	}
	e := new(OAuthError)
	if err := parseOAuthError(challenge, e); err != nil {
		name := OAuthBearer
		if c.xoauth2 {
			name = XOAuth2
		}
		c.err = protoErr(name, "bad error JSON")
		return nil, c.err
	}
	c.err = e
	if c.xoauth2 {
		return []byte{}, nil
	}
	return []byte(kvsep), nil // RFC 7628 §3.2.3
}

// Complete returns the *OAuthError the server sent, or nil.
func (c *oauthClient) Complete() error { return c.err }

type oauthJSON struct {
	Status  string `json:"status"`
	Schemes string `json:"schemes,omitempty"`
	Scope   string `json:"scope,omitempty"`
	OpenID  string `json:"openid-configuration,omitempty"`
}

func parseOAuthError(b []byte, e *OAuthError) error {
	var j oauthJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if j.Status == "" {
		return errors.New("missing status")
	}
	*e = OAuthError{Status: j.Status, Schemes: j.Schemes, Scope: j.Scope, OpenIDConfiguration: j.OpenID}
	return nil
}

// JSON returns the RFC 7628 §3.2.2 error JSON for e.
func (e *OAuthError) JSON() []byte {
	b, _ := json.Marshal(oauthJSON{Status: e.Status, Schemes: e.Schemes, Scope: e.Scope, OpenID: e.OpenIDConfiguration})
	return b
}

// oauthMsg is a parsed client message.
type oauthMsg struct {
	authzid, token, host, port string
}

// parseKVPairs parses *(key "=" value kvsep) kvsep, which must be all of s
// (RFC 7628 §3.1). utf8 allows UTF-8 in values (XOAUTH2 user names may be
// internationalised addresses, RFC 6531).
func parseKVPairs(s string, utf8ok bool, f func(k, v string)) error {
	for {
		kv, rest, ok := strings.Cut(s, kvsep)
		if !ok {
			return errors.New("missing final kvsep")
		}
		if kv == "" {
			if rest != "" {
				return errors.New("data after final kvsep")
			}
			return nil
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return errors.New("bad kvpair")
		}
		for i := 0; i < len(k); i++ {
			if !isAlpha(k[i]) {
				return errors.New("bad key")
			}
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; c < 0x20 && c != '\t' && c != '\r' && c != '\n' || c == 0x7f || c > 0x7f && !utf8ok {
				return errors.New("bad value")
			}
		}
		if utf8ok && !utf8.ValidString(v) {
			return errors.New("bad UTF-8 in value")
		}
		f(k, v)
		s = rest
	}
}

// ParseOAuthBearer parses an OAUTHBEARER client response (RFC 7628 §3.1).
func parseOAuthBearer(msg []byte) (oauthMsg, error) {
	var m oauthMsg
	gs2, rest, err := parseGS2Header(string(msg))
	if err != nil {
		return m, err
	}
	if gs2.flag == 'p' {
		return m, errors.New("channel binding not supported")
	}
	m.authzid = gs2.authzid
	if !strings.HasPrefix(rest, kvsep) {
		return m, errors.New("missing kvsep after gs2-header")
	}
	var auth string
	err = parseKVPairs(rest[1:], false, func(k, v string) {
		switch k {
		case "auth":
			auth = v
		case "host":
			m.host = v
		case "port":
			m.port = v
		}
	})
	if err != nil {
		return m, err
	}
	m.token = bearerToken(auth)
	return m, nil
}

// bearerToken extracts the token of an "Bearer <token>" authorization value
// (RFC 6750 §2.1; the scheme is case-insensitive); "" if it is not one.
func bearerToken(auth string) string {
	scheme, tok, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimLeft(tok, " ")
}

func parseXOAuth2(msg []byte) (oauthMsg, error) {
	var m oauthMsg
	var auth string
	seen := false
	err := parseKVPairs(string(msg), true, func(k, v string) {
		switch k {
		case "user":
			m.authzid, seen = v, true
		case "auth":
			auth = v
		}
	})
	if err != nil {
		return m, err
	}
	if !seen || m.authzid == "" {
		return m, errors.New("missing user")
	}
	m.token = bearerToken(auth)
	return m, nil
}

type oauthServerBase struct {
	serverBase
	xoauth2 bool
	pending error // failure reported after the error JSON was answered
}

type oauthBearerServer struct{ oauthServerBase }
type xoauth2Server struct{ oauthServerBase }

func (s *oauthServerBase) Next(ctx context.Context, resp []byte) ([]byte, bool, error) {
	ctx, err := s.begin(ctx, resp)
	if err != nil {
		return nil, false, err
	}
	if s.pending != nil {
		// RFC 7628 §3.2.3: the client's dummy answer to the error JSON.
		return nil, false, s.failWith(s.pending)
	}
	if resp == nil && s.step == 1 {
		return []byte{}, false, nil
	}
	if s.step > 2 {
		return nil, false, s.failWith(ErrUnexpectedMessage)
	}
	var m oauthMsg
	if s.xoauth2 {
		m, err = parseXOAuth2(resp)
	} else {
		if string(resp) == kvsep {
			// RFC 7628 §3.1: a lone kvsep is valid only after an error.
			return nil, false, s.failWith(ErrAuthFailed)
		}
		m, err = parseOAuthBearer(resp)
	}
	if err != nil {
		return nil, false, s.failWith(protoErr(s.mech, err.Error()))
	}
	if m.token == "" {
		return s.oauthFail(&OAuthError{Status: "invalid_request", Schemes: "bearer"})
	}
	// RFC 7628 §3.2: a host the client names must be ours.
	if m.host != "" && s.reg.Hostname != "" && !strings.EqualFold(m.host, s.reg.Hostname) {
		return s.oauthFail(&OAuthError{Status: "invalid_request", Schemes: "bearer"})
	}
	user, err := s.reg.Credentials.(TokenVerifier).VerifyToken(ctx, m.authzid, m.token)
	if err != nil {
		var oe *OAuthError
		switch {
		case errors.As(err, &oe):
			return s.oauthFail(oe)
		case errors.Is(err, ErrAuthFailed), errors.Is(err, ErrUnknownUser), errors.Is(err, ErrNotAuthorized):
			return s.oauthFail(&OAuthError{Status: "invalid_token", Schemes: "bearer"})
		}
		return nil, false, s.failWith(err)
	}
	if user == "" {
		return s.oauthFail(&OAuthError{Status: "invalid_token", Schemes: "bearer"})
	}
	return s.succeed(user, m.authzid, "")
}

// oauthFail sends the error JSON as a challenge; the next call fails.
func (s *oauthServerBase) oauthFail(e *OAuthError) ([]byte, bool, error) {
	s.pending = fmt.Errorf("%w: %w", ErrAuthFailed, e)
	if s.xoauth2 && e.Status == "invalid_token" {
		// Google answers with HTTP status codes.
		e = &OAuthError{Status: "401", Schemes: "Bearer", Scope: e.Scope}
	}
	return e.JSON(), false, nil
}
