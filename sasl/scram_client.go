package sasl

import (
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Default bounds on the iteration count a SCRAM client accepts.
const (
	// DefaultMinIterations is RFC 7677 §4's minimum of 4096.
	DefaultMinIterations = 4096
	// DefaultMaxIterations stops a server from making the client spin.
	DefaultMaxIterations = 1_000_000
)

// ErrMutualAuth reports that a SCRAM server reported success without proving
// that it knows the user's keys (no valid "v=" server signature). A protocol
// client must treat the session as unauthenticated.
var ErrMutualAuth = errors.New("sasl: SCRAM server signature missing or wrong")

// IterationCountError reports a SCRAM iteration count outside the client's
// bounds (SCRAMOptions.MinIterations, MaxIterations).
type IterationCountError struct {
	Iterations, Min, Max int
}

// Error returns the count and the bounds.
func (e *IterationCountError) Error() string {
	return fmt.Sprintf("sasl: SCRAM iteration count %d outside [%d, %d]", e.Iterations, e.Min, e.Max)
}

// Completer is implemented by Clients that judge the outcome themselves. A
// protocol client calls Complete after the server reported the outcome:
//
//   - SCRAM: after success, a non-nil error (ErrMutualAuth) means the server
//     did not authenticate itself; fail the login. After failure, Complete
//     returns the server's *SCRAMError ("e=" in the server-final message)
//     if it sent one: the client answers "e=" with an empty response
//     rather than an error, so the server can report the failure.
//   - OAUTHBEARER, XOAUTH2: after failure, Complete returns the server's
//     *OAuthError (status, scope) to report with the protocol error.
type Completer interface {
	Complete() error
}

// SCRAMOptions configures a SCRAM client.
type SCRAMOptions struct {
	// Hash selects SCRAM-SHA-1 or SCRAM-SHA-256; 0 means SHA256.
	Hash SCRAMHash
	// Username and Password are the credentials; both are prepared with
	// SASLprep (RFC 5802 §5.1).
	Username, Password string
	// AuthzID is the optional authorization identity ("a=").
	AuthzID string
	// ChannelBinding is the connection's channel binding, if any. With Plus
	// it is used (and consumed, RFC 9266 §4.1). Without Plus, a usable
	// channel binding makes the client send the "y" flag (RFC 5802 §6): it
	// supports binding but believes the server does not, so a server that
	// did offer -PLUS detects the downgrade.
	ChannelBinding *ChannelBinding
	// Plus selects the -PLUS variant; ChannelBinding must be usable.
	Plus bool
	// MinIterations and MaxIterations bound the server's iteration count;
	// 0 means DefaultMinIterations and DefaultMaxIterations.
	MinIterations, MaxIterations int
	// Rand is the nonce source; nil means crypto/rand.
	Rand io.Reader
}

type scramClient struct {
	irClient
	opts        SCRAMOptions
	mech        string
	gs2         string
	bare        string
	cnonce      string
	password    string // prepared
	serverSig   []byte
	state       int // 0 before Start, 1 want server-first, 2 want server-final, 3 done
	verified    bool
	serverError error
}

// NewSCRAMClient returns a SCRAM client (RFC 5802, RFC 7677). It fails if the
// user name or password is prohibited by SASLprep or empty, or if Plus is
// requested without a usable channel binding.
func NewSCRAMClient(opts SCRAMOptions) (Client, error) {
	if opts.Hash == 0 {
		opts.Hash = SHA256
	}
	if !opts.Hash.valid() {
		return nil, fmt.Errorf("sasl: invalid SCRAM hash %v", opts.Hash)
	}
	if opts.MinIterations <= 0 {
		opts.MinIterations = DefaultMinIterations
	}
	if opts.MaxIterations <= 0 {
		opts.MaxIterations = DefaultMaxIterations
	}
	user, err := SASLprepQuery(opts.Username)
	if err != nil || user == "" {
		return nil, errors.Join(errors.New("sasl: SCRAM user name empty or prohibited by SASLprep"), err)
	}
	pass, err := SASLprepQuery(opts.Password)
	if err != nil || pass == "" {
		return nil, errors.Join(errors.New("sasl: SCRAM password empty or prohibited by SASLprep"), err)
	}
	c := &scramClient{opts: opts, password: pass, mech: scramMechName(opts.Hash, opts.Plus)}
	// RFC 5802 §6 gs2-cbind-flag.
	switch {
	case opts.Plus:
		if !opts.ChannelBinding.use() {
			return nil, fmt.Errorf("%w: SCRAM -PLUS needs an unused channel binding", ErrChannelBinding)
		}
		if !validCBName(opts.ChannelBinding.Type) {
			return nil, fmt.Errorf("%w: bad type %q", ErrChannelBinding, opts.ChannelBinding.Type)
		}
		c.gs2 = "p=" + opts.ChannelBinding.Type + ","
	case opts.ChannelBinding.Usable():
		c.gs2 = "y,"
	default:
		c.gs2 = "n,"
	}
	if opts.AuthzID != "" {
		c.gs2 += "a=" + escapeSASLName(opts.AuthzID)
	}
	c.gs2 += ","
	r := opts.Rand
	if r == nil {
		r = rand.Reader
	}
	nonce := make([]byte, 18) // 144 bits, 24 base64 characters
	if _, err := io.ReadFull(r, nonce); err != nil {
		return nil, fmt.Errorf("sasl: random source: %w", err)
	}
	c.cnonce = b64.EncodeToString(nonce)
	c.bare = "n=" + escapeSASLName(user) + ",r=" + c.cnonce
	return c, nil
}

func (c *scramClient) Start() (string, []byte, error) {
	ir := []byte(c.gs2 + c.bare)
	if err := c.start(ir); err != nil {
		return "", nil, err
	}
	c.state = 1
	return c.mech, ir, nil
}

func (c *scramClient) Next(challenge []byte) ([]byte, error) {
	if r, ok := c.firstChallenge(challenge); ok {
		return r, nil
	}
	msg := string(challenge)
	switch c.state {
	case 1:
		resp, err := c.serverFirst(msg)
		if err != nil {
			c.state = 3
			return nil, err
		}
		if c.state == 1 {
			c.state = 2
		}
		return resp, nil
	case 2:
		c.state = 3
		return c.serverFinal(msg)
	}
	return nil, ErrUnexpectedMessage
}

func (c *scramClient) serverFirst(msg string) ([]byte, error) {
	if code, ok := strings.CutPrefix(msg, "e="); ok {
		// Not in the RFC 5802 grammar for server-first, but sent by
		// some servers; report it as what it is.
		code, _, _ = strings.Cut(code, ",")
		c.serverError = &SCRAMError{Code: code}
		c.state = 3
		return []byte{}, nil
	}
	if strings.HasPrefix(msg, "m=") {
		return nil, protoErr(c.mech, "server requires an unsupported extension")
	}
	nonce, rest, ok := expectAttr(msg, 'r')
	if !ok || !printableNonce(nonce) || len(nonce) <= len(c.cnonce) || !strings.HasPrefix(nonce, c.cnonce) {
		// RFC 5802 §5.1: the nonce must start with ours and add to it.
		return nil, protoErr(c.mech, "bad server nonce")
	}
	saltB64, rest, ok := expectAttr(rest, 's')
	if !ok {
		return nil, protoErr(c.mech, "missing salt")
	}
	salt, err := b64.DecodeString(saltB64)
	if err != nil || len(salt) == 0 {
		return nil, protoErr(c.mech, "bad salt")
	}
	iterStr, rest, ok := expectAttr(rest, 'i')
	if !ok || !validExtensions(rest) {
		return nil, protoErr(c.mech, "missing iteration count")
	}
	iter, ok := parseIterations(iterStr)
	if !ok {
		if len(iterStr) > 9 && strings.Trim(iterStr, "0123456789") == "" {
			return nil, &IterationCountError{Iterations: -1, Min: c.opts.MinIterations, Max: c.opts.MaxIterations}
		}
		return nil, protoErr(c.mech, "bad iteration count")
	}
	if iter < c.opts.MinIterations || iter > c.opts.MaxIterations {
		return nil, &IterationCountError{Iterations: iter, Min: c.opts.MinIterations, Max: c.opts.MaxIterations}
	}
	h := c.opts.Hash
	salted, err := saltedPassword(h, c.password, salt, iter)
	if err != nil {
		return nil, err
	}
	cbInput := []byte(c.gs2)
	if c.opts.Plus {
		cbInput = append(cbInput, c.opts.ChannelBinding.Data...)
	}
	withoutProof := "c=" + b64.EncodeToString(cbInput) + ",r=" + nonce
	authMsg := []byte(c.bare + "," + msg + "," + withoutProof)
	clientKey := hmacSum(h, salted, []byte("Client Key"))
	storedKey := hashSum(h, clientKey)
	clientSig := hmacSum(h, storedKey, authMsg)
	proof := make([]byte, len(clientKey))
	xorBytes(proof, clientKey, clientSig)
	serverKey := hmacSum(h, salted, []byte("Server Key"))
	c.serverSig = hmacSum(h, serverKey, authMsg)
	return []byte(withoutProof + ",p=" + b64.EncodeToString(proof)), nil
}

func (c *scramClient) serverFinal(msg string) ([]byte, error) {
	if code, ok := strings.CutPrefix(msg, "e="); ok {
		// RFC 7628 §3.2.3 reasoning applies: failure cannot carry data
		// (RFC 4422 §3.6), so the error came as a challenge; answer it
		// emptily so the server can report the failure, and keep the
		// error for Complete.
		code, _, _ = strings.Cut(code, ",")
		c.serverError = &SCRAMError{Code: code}
		return []byte{}, nil
	}
	v, rest, ok := expectAttr(msg, 'v')
	if !ok || !validExtensions(rest) {
		return nil, protoErr(c.mech, "bad server-final message")
	}
	sig, err := b64.DecodeString(v)
	if err != nil || !hmac.Equal(sig, c.serverSig) {
		return nil, ErrMutualAuth
	}
	c.verified = true
	return []byte{}, nil // RFC 4422 §5 item 9: empty answer to the outcome data
}

// Complete returns nil once the server signature was verified, the
// *SCRAMError the server sent, or ErrMutualAuth.
func (c *scramClient) Complete() error {
	switch {
	case c.verified:
		return nil
	case c.serverError != nil:
		return c.serverError
	}
	return ErrMutualAuth
}
