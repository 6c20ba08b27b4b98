package sasl

import (
	"fmt"
	"slices"
	"strings"
)

// clientPreference is the order in which Choose considers mechanisms.
var clientPreference = [...]string{
	SCRAMSHA256Plus, SCRAMSHA256, SCRAMSHA1Plus, SCRAMSHA1,
	OAuthBearer, XOAuth2, External, Plain, Login, CRAMMD5, Anonymous,
}

// ClientPreference lists the order in which Choose considers mechanisms,
// strongest first: SCRAM with channel binding, SCRAM, bearer tokens,
// EXTERNAL, then the plaintext-password mechanisms, CRAM-MD5 and ANONYMOUS.
// It is a copy for reference: changing it has no effect.
var ClientPreference = slices.Clone(clientPreference[:])

// ClientOptions describes what a client may use; Choose picks a mechanism
// from it.
type ClientOptions struct {
	// Username and Password are the credentials for SCRAM, PLAIN, LOGIN
	// and CRAM-MD5 (and Username for OAuth).
	Username, Password string
	// AuthzID is the optional authorization identity (SCRAM, PLAIN,
	// EXTERNAL).
	AuthzID string
	// Token is an OAuth 2.0 access token for OAUTHBEARER and XOAUTH2.
	Token string
	// Host and Port are sent by OAUTHBEARER (RFC 7628 §3.1) when set.
	Host string
	Port int
	// Trace is the ANONYMOUS trace information.
	Trace string

	// TLS reports whether the connection is protected by TLS.
	TLS bool
	// ChannelBinding is the connection's channel binding (nil without
	// TLS); it enables the -PLUS mechanisms.
	ChannelBinding *ChannelBinding

	// Mechanisms lists the mechanisms the application allows; nil allows
	// all of ClientPreference except EXTERNAL, CRAM-MD5 and ANONYMOUS,
	// which must be listed to be used. The order is ignored: Choose
	// always prefers the strongest.
	Mechanisms []string
	// AllowPlaintext allows PLAIN, LOGIN, OAUTHBEARER and XOAUTH2 without
	// TLS. The default refuses to send a password or token in the clear.
	AllowPlaintext bool
	// MinIterations and MaxIterations bound the SCRAM iteration count
	// (see SCRAMOptions).
	MinIterations, MaxIterations int
}

func (o *ClientOptions) allowed(mech string) bool {
	if o.Mechanisms == nil {
		return mech != External && mech != CRAMMD5 && mech != Anonymous
	}
	return slices.ContainsFunc(o.Mechanisms, func(m string) bool { return strings.EqualFold(m, mech) })
}

// Choose returns a client for the strongest mechanism that the server
// offered (offered, e.g. from EHLO AUTH or CAPABILITY AUTH=; matched
// case-insensitively) and the options allow and can serve. It fails with
// ErrUnsupportedMechanism (wrapped) when there is none.
//
// -PLUS mechanisms need a usable opts.ChannelBinding. When the client has
// one but the server offered no -PLUS mechanism at all, SCRAM is run with
// the "y" flag, so that a server which did offer -PLUS (and had it stripped
// from its list by an attacker) fails the exchange (RFC 5802 §6).
func Choose(offered []string, opts ClientOptions) (Client, error) {
	has := func(m string) bool {
		return slices.ContainsFunc(offered, func(o string) bool { return strings.EqualFold(o, m) })
	}
	serverPlus := slices.ContainsFunc(offered, func(o string) bool {
		return strings.HasSuffix(strings.ToUpper(o), "-PLUS")
	})
	pw := opts.Username != "" && opts.Password != ""
	clearOK := opts.TLS || opts.AllowPlaintext
	for _, m := range clientPreference {
		if !has(m) || !opts.allowed(m) {
			continue
		}
		switch m {
		case SCRAMSHA256Plus, SCRAMSHA256, SCRAMSHA1Plus, SCRAMSHA1:
			if !pw {
				continue
			}
			h, plus, _ := scramMech(m)
			so := SCRAMOptions{Hash: h, Username: opts.Username, Password: opts.Password, AuthzID: opts.AuthzID,
				Plus: plus, MinIterations: opts.MinIterations, MaxIterations: opts.MaxIterations}
			if plus {
				if !opts.ChannelBinding.Usable() {
					continue
				}
				so.ChannelBinding = opts.ChannelBinding
			} else if !serverPlus && opts.allowsPlus() {
				so.ChannelBinding = opts.ChannelBinding // "y" when usable
			}
			return NewSCRAMClient(so)
		case OAuthBearer, XOAuth2:
			if opts.Token == "" || !clearOK || (m == XOAuth2 && opts.Username == "") {
				continue
			}
			oo := OAuthOptions{Username: opts.Username, Token: opts.Token, Host: opts.Host, Port: opts.Port}
			if m == XOAuth2 {
				return NewXOAuth2Client(oo), nil
			}
			return NewOAuthBearerClient(oo), nil
		case External:
			return NewExternalClient(opts.AuthzID), nil
		case Plain:
			if pw && clearOK {
				return NewPlainClient(opts.AuthzID, opts.Username, opts.Password), nil
			}
		case Login:
			if pw && clearOK && opts.AuthzID == "" {
				return NewLoginClient(opts.Username, opts.Password), nil
			}
		case CRAMMD5:
			if pw && opts.AuthzID == "" {
				return NewCRAMMD5Client(opts.Username, opts.Password), nil
			}
		case Anonymous:
			return NewAnonymousClient(opts.Trace), nil
		}
	}
	return nil, fmt.Errorf("%w: none of %v is usable", ErrUnsupportedMechanism, offered)
}

// allowsPlus reports whether the application allows some -PLUS mechanism,
// i.e. whether the client "supports channel binding" (RFC 5802 §6).
func (o *ClientOptions) allowsPlus() bool {
	return o.allowed(SCRAMSHA256Plus) || o.allowed(SCRAMSHA1Plus)
}

// SendsSecret reports whether mechanism mech sends the password or bearer
// token itself, readable by anyone who sees the exchange: PLAIN, LOGIN,
// OAUTHBEARER and XOAUTH2. Clients refuse these without TLS unless told
// otherwise (RFC 4616 §6, RFC 7628 §5.1). SCRAM and CRAM-MD5 send only
// proofs derived from the password.
func SendsSecret(mech string) bool {
	switch strings.ToUpper(mech) {
	case Plain, Login, OAuthBearer, XOAuth2:
		return true
	}
	return false
}
