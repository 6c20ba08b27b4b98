package smtpclient

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp"
)

// Auth authenticates with a SASL client (RFC 4954). Use Login to pick the
// strongest mechanism the server offers.
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

// Login authenticates with the strongest mechanism the server offers that
// opts allow (SCRAM-PLUS > SCRAM > … > PLAIN), filling in the TLS state
// and channel binding. PLAIN and LOGIN are never used without TLS unless
// opts.AllowPlaintext is set.
func (c *Client) Login(ctx context.Context, opts sasl.ClientOptions) error {
	if err := c.ensureHello(ctx); err != nil {
		return err
	}
	offered, ok := c.ext["AUTH"]
	if !ok {
		return ErrNoAuth
	}
	opts.TLS = c.tls
	if st, ok := c.TLSConnectionState(); ok {
		opts.ChannelBinding = sasl.ChannelBindingFromTLS(&st)
	}
	if opts.Host == "" {
		opts.Host = c.serverName
	}
	sc, err := sasl.Choose(strings.Fields(offered), opts)
	if err != nil {
		return err
	}
	return c.Auth(ctx, sc)
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
