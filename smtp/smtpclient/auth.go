package smtpclient

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp"
)

// Auth runs one SASL exchange with the mechanism sc (RFC 4954). A
// mechanism that sends the password or token itself (sasl.SendsSecret:
// PLAIN, LOGIN, OAUTHBEARER, XOAUTH2) is refused without TLS with
// sasl.ErrInsecureAuth unless Options.AllowInsecureAuth is set. Login picks
// the strongest mechanism the server offers.
func (c *Client) Auth(ctx context.Context, sc sasl.Client) error {
	if err := c.ensureHello(ctx); err != nil {
		return err
	}
	if _, ok := c.ext["AUTH"]; !ok {
		return ErrNoAuth
	}
	mech, ir, err := sc.Start()
	if err != nil {
		return err
	}
	if !isMechName(mech) {
		return errors.New("smtpclient: bad mechanism name")
	}
	if sasl.SendsSecret(mech) && !c.tls && !c.opts.AllowInsecureAuth {
		return sasl.ErrInsecureAuth
	}
	parts := []string{"AUTH ", mech}
	if ir != nil {
		if len(ir) == 0 {
			parts = append(parts, " =") // RFC 4954 §4
		} else {
			parts = append(parts, " ", base64.StdEncoding.EncodeToString(ir))
		}
	}
	r, err := c.authStep(ctx, parts...)
	for err == nil && r.Code == 334 {
		var chal []byte
		chal, err = base64.StdEncoding.DecodeString(r.Text())
		if err != nil {
			_, _ = c.authStep(ctx, "*")
			return errors.New("smtpclient: server sent invalid base64")
		}
		var resp []byte
		resp, err = sc.Next(chal)
		if err != nil {
			// Cancel the exchange (RFC 4954 §4) and report why.
			_, _ = c.authStep(ctx, "*")
			return err
		}
		r, err = c.authStep(ctx, base64.StdEncoding.EncodeToString(resp))
	}
	if err != nil {
		return err
	}
	if r.Code != 235 {
		return &smtp.Error{Code: r.Code, Enhanced: r.Enhanced, Message: r.Text()}
	}
	c.authed = true
	return nil
}

// authStep sends a line and returns the reply; 334 is not an error.
func (c *Client) authStep(ctx context.Context, parts ...string) (*smtp.Reply, error) {
	if c.broken != nil {
		return nil, ErrClosed
	}
	stop := c.watch(ctx)
	if err := c.writeLine(parts...); err != nil {
		stop()
		return nil, err
	}
	err := c.flush(ctx, c.to.Command)
	var r *smtp.Reply
	if err == nil {
		r, err = c.readReply(ctx, c.to.Command)
	}
	if err == nil && r.Code != 334 {
		err = r.Err()
	}
	return r, c.done(ctx, stop, err)
}

// ErrNoAuth is returned when the server offers no AUTH.
var ErrNoAuth = errors.New("smtpclient: server does not offer AUTH")

// Login authenticates with a user name and password, choosing the
// strongest mechanism the server offers (sasl.Choose: SCRAM-PLUS > SCRAM >
// PLAIN > LOGIN), with channel binding from the TLS connection. PLAIN and
// LOGIN are refused without TLS (sasl.ErrInsecureAuth) unless
// Options.AllowInsecureAuth is set.
func (c *Client) Login(ctx context.Context, username, password string) error {
	return c.loginWith(ctx, sasl.ClientOptions{Username: username, Password: password})
}

// loginWith is Login with the full choice of sasl.ClientOptions (tokens,
// an authorization identity, a narrower mechanism list); the connection
// fills in TLS and channel binding, and Options.AllowInsecureAuth decides
// about plaintext mechanisms.
func (c *Client) loginWith(ctx context.Context, opts sasl.ClientOptions) error {
	if err := c.ensureHello(ctx); err != nil {
		return err
	}
	offered, ok := c.ext["AUTH"]
	if !ok {
		return ErrNoAuth
	}
	opts.TLS = c.tls
	opts.AllowPlaintext = c.opts.AllowInsecureAuth
	if st, ok := c.TLSConnectionState(); ok {
		// One binding per connection, consumed by the first -PLUS
		// exchange, so a second attempt does not choose -PLUS again
		// (RFC 9266 §4.1).
		if c.cb == nil {
			c.cb = sasl.ChannelBindingFromTLS(&st)
		}
		opts.ChannelBinding = c.cb
	}
	if opts.Host == "" {
		opts.Host = c.serverName
	}
	sc, err := sasl.Choose(strings.Fields(offered), opts)
	if err != nil {
		if !c.tls && !c.opts.AllowInsecureAuth && hasSecretMech(strings.Fields(offered)) {
			// Only a plaintext mechanism would have served: say why.
			return fmt.Errorf("%w (%w)", sasl.ErrInsecureAuth, err)
		}
		return err
	}
	return c.Auth(ctx, sc)
}

func hasSecretMech(offered []string) bool {
	for _, m := range offered {
		if sasl.SendsSecret(m) {
			return true
		}
	}
	return false
}

func isMechName(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			return false
		}
	}
	return true
}
