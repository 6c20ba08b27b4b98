package sasl

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// scramServer is the server side of SCRAM-SHA-1/-256 and their -PLUS
// variants (RFC 5802 §5, RFC 7677).
type scramServer struct {
	serverBase
	hash     SCRAMHash
	plus     bool
	cbBound  bool // offered -PLUS on this connection, for the "y" check
	state    int  // 0 want client-first, 1 want client-final, 2 want empty answer to v=, 3 failing
	gs2      gs2Header
	user     string // prepared username
	bare     string // client-first-message-bare
	nonce    string // full nonce
	srvFirst string
	keys     SCRAMKeys
	simulate bool // unknown user: run the exchange and fail at the proof
	account  string
	pending  error // error to return after the "e=" challenge was answered

	fixedSNonce string // tests only: the RFC example server nonces
}

func newSCRAMServer(b serverBase) (Server, error) {
	h, plus, _ := scramMech(b.mech)
	s := &scramServer{serverBase: b, hash: h, plus: plus}
	if plus {
		// RFC 9266 §4.1: one use per connection.
		if !b.cs.ChannelBinding.use() {
			return nil, fmt.Errorf("%w: already used on this connection", ErrChannelBinding)
		}
	} else {
		s.cbBound = b.reg.offersPlus(b.cs)
	}
	return s, nil
}

// scramFail returns "e=code" as a challenge and makes the next call fail
// with a *SCRAMError (RFC 5802 §7 server-error, sent as the server-final
// message; RFC 4422 §5 item 9 for protocols without additional data with
// failure).
func (s *scramServer) scramFail(code string, cause error) ([]byte, bool, error) {
	s.state = 3
	err := fmt.Errorf("%w: %w", ErrAuthFailed, &SCRAMError{Code: code})
	if cause != nil {
		err = fmt.Errorf("%w: %w", err, cause)
	}
	s.pending = err
	return []byte("e=" + code), false, nil
}

func (s *scramServer) Next(ctx context.Context, resp []byte) ([]byte, bool, error) {
	ctx, err := s.begin(ctx, resp)
	if err != nil {
		return nil, false, err
	}
	switch s.state {
	case 0:
		if resp == nil && s.step == 1 {
			return []byte{}, false, nil // RFC 4422 §5 item 2
		}
		return s.clientFirst(ctx, string(resp))
	case 1:
		return s.clientFinal(ctx, string(resp))
	case 2:
		if len(resp) != 0 {
			return nil, false, s.failWith(protoErr(s.mech, "non-empty response to server-final message"))
		}
		return s.succeed(s.account, s.gs2.authzid, s.user)
	default:
		return nil, false, s.failWith(s.pending)
	}
}

func (s *scramServer) clientFirst(ctx context.Context, msg string) ([]byte, bool, error) {
	gs2, bare, err := parseGS2Header(msg)
	if err != nil {
		return nil, false, s.failWith(protoErr(s.mech, err.Error()))
	}
	s.gs2, s.bare = gs2, bare
	// RFC 5802 §6 channel-binding negotiation.
	switch {
	case s.plus && gs2.flag != 'p':
		return nil, false, s.failWith(fmt.Errorf("%w: %w", ErrAuthFailed, &SCRAMError{Code: SCRAMChannelBindingNotSupported}))
	case s.plus && gs2.cbName != s.cs.ChannelBinding.Type:
		return nil, false, s.failWith(fmt.Errorf("%w: %w", ErrAuthFailed, &SCRAMError{Code: SCRAMUnsupportedChannelBindingType}))
	case !s.plus && gs2.flag == 'p':
		return nil, false, s.failWith(fmt.Errorf("%w: %w", ErrAuthFailed, &SCRAMError{Code: SCRAMChannelBindingNotSupported}))
	case !s.plus && gs2.flag == 'y' && s.cbBound:
		// The client supports channel binding and believes we do not,
		// while we offered -PLUS: someone stripped it (downgrade).
		return nil, false, s.failWith(fmt.Errorf("%w: %w", ErrAuthFailed, &SCRAMError{Code: SCRAMServerDoesSupportCB}))
	}
	if strings.HasPrefix(bare, "m=") {
		return nil, false, s.failWith(fmt.Errorf("%w: %w", ErrAuthFailed, &SCRAMError{Code: SCRAMExtensionsNotSupported}))
	}
	name, rest, ok := expectAttr(bare, 'n')
	if !ok {
		return nil, false, s.failWith(protoErr(s.mech, "missing username"))
	}
	cnonce, rest, ok := expectAttr(rest, 'r')
	if !ok || !printableNonce(cnonce) || !validExtensions(rest) {
		return nil, false, s.failWith(protoErr(s.mech, "bad nonce or extensions"))
	}
	user, err := unescapeSASLName(name)
	if err == nil {
		user, err = SASLprepQuery(user)
	}
	if err != nil || user == "" {
		return nil, false, s.failWith(fmt.Errorf("%w: %w", ErrAuthFailed, &SCRAMError{Code: SCRAMInvalidUsernameEncoding}))
	}
	s.user = user
	s.id.AuthcID = user // the name tried, for Identity after a failure
	keys, err := s.reg.Credentials.(SCRAMLookup).LookupSCRAM(ctx, user, s.hash)
	switch {
	case err == nil:
		if keys.Iterations < 1 || len(keys.Salt) == 0 || len(keys.StoredKey) != s.hash.Size() || len(keys.ServerKey) != s.hash.Size() {
			return nil, false, s.failWith(fmt.Errorf("sasl: backend returned invalid %v SCRAM keys", s.hash))
		}
		s.keys = keys
	case errors.Is(err, ErrUnknownUser) || errors.Is(err, ErrAuthFailed):
		// RFC 5802 §5.1: do not reveal that the user does not exist;
		// answer with a salt that is stable per user name.
		s.simulate = true
		salt := hmacSum(SHA256, s.reg.fakeSaltKey(), []byte(s.hash.String()), []byte{0}, []byte(user))
		iter := s.reg.SCRAMIterations
		if iter <= 0 {
			iter = DefaultSCRAMIterations
		}
		s.keys = SCRAMKeys{Salt: salt[:DefaultSaltLen], Iterations: iter}
	default:
		return nil, false, s.failWith(err) // temporary backend failure
	}
	snonce, err := s.reg.randomBytes(18)
	if err != nil {
		return nil, false, s.failWith(err)
	}
	s.nonce = cnonce + b64.EncodeToString(snonce)
	if s.fixedSNonce != "" {
		s.nonce = cnonce + s.fixedSNonce
	}
	s.srvFirst = "r=" + s.nonce + ",s=" + b64.EncodeToString(s.keys.Salt) + ",i=" + strconv.Itoa(s.keys.Iterations)
	s.state = 1
	return []byte(s.srvFirst), false, nil
}

func (s *scramServer) clientFinal(ctx context.Context, msg string) ([]byte, bool, error) {
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return nil, false, s.failWith(protoErr(s.mech, "missing proof"))
	}
	withoutProof, proofB64 := msg[:i], msg[i+3:]
	cb, rest, ok := expectAttr(withoutProof, 'c')
	if !ok {
		return nil, false, s.failWith(protoErr(s.mech, "missing channel binding"))
	}
	nonce, rest, ok := expectAttr(rest, 'r')
	if !ok || !validExtensions(rest) {
		return nil, false, s.failWith(protoErr(s.mech, "missing nonce"))
	}
	proof, err := b64.DecodeString(proofB64)
	if err != nil || len(proof) != s.hash.Size() {
		return nil, false, s.failWith(protoErr(s.mech, "bad proof"))
	}
	cbInput, err := b64.DecodeString(cb)
	if err != nil {
		return nil, false, s.failWith(protoErr(s.mech, "bad channel-binding encoding"))
	}
	if nonce != s.nonce {
		return s.scramFail(SCRAMOtherError, errors.New("nonce mismatch"))
	}
	// RFC 5802 §6: c= must be the gs2-header, followed by the channel
	// binding data for "p".
	want := []byte(s.gs2.raw)
	if s.gs2.flag == 'p' {
		want = append(want, s.cs.ChannelBinding.Data...)
	}
	if subtle.ConstantTimeCompare(cbInput, want) != 1 {
		return s.scramFail(SCRAMChannelBindingsDontMatch, nil)
	}
	authMsg := s.bare + "," + s.srvFirst + "," + withoutProof
	if s.simulate {
		return s.scramFail(SCRAMInvalidProof, ErrUnknownUser)
	}
	// RFC 5802 §3: ClientKey = ClientProof XOR ClientSignature, and
	// H(ClientKey) must equal StoredKey.
	clientSig := hmacSum(s.hash, s.keys.StoredKey, []byte(authMsg))
	clientKey := make([]byte, len(proof))
	xorBytes(clientKey, proof, clientSig)
	if subtle.ConstantTimeCompare(hashSum(s.hash, clientKey), s.keys.StoredKey) != 1 {
		return s.scramFail(SCRAMInvalidProof, nil)
	}
	account, err := s.authorize(ctx, s.user, s.gs2.authzid)
	if err != nil {
		if errors.Is(err, ErrAuthFailed) {
			return s.scramFail(SCRAMOtherError, err)
		}
		return nil, false, s.failWith(err)
	}
	s.account = account
	s.state = 2
	serverSig := hmacSum(s.hash, s.keys.ServerKey, []byte(authMsg))
	return []byte("v=" + b64.EncodeToString(serverSig)), false, nil
}
