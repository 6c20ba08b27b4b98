package imapclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/posthorn/posthorn/internal/tlsutil"
	"github.com/posthorn/posthorn/sasl"
)

// StartTLS upgrades the connection with STARTTLS (RFC 9051 §6.2.1). A nil
// cfg verifies the certificate against the host dialled. Anything the
// server sent after its OK and before the handshake is discarded, and the
// capabilities are forgotten (RFC 9051 §6.2.1: they must be asked again).
// It is refused after a PREAUTH greeting (ErrPreauthStartTLS).
func (c *Client) StartTLS(ctx context.Context, cfg *tls.Config) error {
	c.mu.Lock()
	preauth, st := c.preauth, c.state
	conn := c.conn
	c.mu.Unlock()
	if preauth {
		return ErrPreauthStartTLS
	}
	if st != StateNotAuthenticated {
		return errors.New("imapclient: STARTTLS is only possible before authentication")
	}
	if _, ok := conn.(*tls.Conn); ok {
		return errors.New("imapclient: connection already uses TLS")
	}
	if cfg == nil {
		cfg = tlsConfigFor(&c.opts, conn.RemoteAddr().String())
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	cmd, err := c.sendPausing(ctx, "STARTTLS", "STARTTLS")
	if err != nil {
		return err
	}
	// The reader goroutine now waits on cmd.pause. What it buffered beyond
	// the OK arrived in plaintext and is dropped with the old reader
	// (the CVE-2011-0411 class of injection).
	if n := c.dec.Buffered(); n > 0 {
		c.log.Debug("imapclient: discarding plaintext sent before the TLS handshake", "bytes", n)
	}
	tc, err := tlsutil.ClientUpgrade(ctx, conn, cfg)
	if err != nil {
		c.fail(err)
		close(cmd.pause)
		return err
	}
	c.mu.Lock()
	c.conn = tc
	c.caps = nil
	c.mu.Unlock()
	c.bw.Reset(c.trace.Writer(tc))
	c.tr = c.trace.Reader(tc)
	c.br = bufio.NewReaderSize(c.tr, 32<<10)
	cmd.pause <- c.br
	return nil
}

// Auth runs one SASL exchange with the mechanism sc, the AUTHENTICATE
// command (RFC 9051 §6.2.2), sending the initial response inline when the
// server offers SASL-IR (RFC 4959). A mechanism that sends the password
// or token itself (sasl.SendsSecret: PLAIN, LOGIN, OAUTHBEARER, XOAUTH2)
// is refused without TLS with sasl.ErrInsecureAuth unless
// Options.AllowInsecureAuth is set. Login picks the strongest mechanism
// the server offers.
func (c *Client) Auth(ctx context.Context, sc sasl.Client) error {
	c.Has(ctx, "SASL-IR") // learn the capabilities before taking the write lock
	mech, ir, err := sc.Start()
	if err != nil {
		return err
	}
	if sasl.SendsSecret(mech) && !c.isTLS() && !c.opts.AllowInsecureAuth {
		return sasl.ErrInsecureAuth
	}
	line := "AUTHENTICATE " + mech
	if ir != nil && c.hasCap("SASL-IR") {
		if len(ir) == 0 {
			line += " ="
		} else {
			line += " " + base64.StdEncoding.EncodeToString(ir)
		}
		ir = nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	cmd, err := c.newCommand("AUTHENTICATE", nil)
	if err != nil {
		return err
	}
	undo := c.writeCtx(ctx)
	defer undo()
	w := c.bw
	w.WriteString(cmd.tag)
	w.WriteByte(' ')
	w.WriteString(line)
	w.WriteString("\r\n")
	var saslErr error
	for {
		ch := make(chan string, 1)
		c.mu.Lock()
		c.contWaiter = ch
		c.mu.Unlock()
		if err := w.Flush(); err != nil {
			return c.writeFailed(ctx, err)
		}
		var text string
		select {
		case text = <-ch:
		case <-cmd.done:
			c.mu.Lock()
			c.contWaiter = nil
			c.mu.Unlock()
			return c.finishAuth(cmd, sc, saslErr)
		case <-ctx.Done():
			// An exchange cut short leaves the server waiting for a
			// line; closing is the clean way out.
			c.fail(ctx.Err())
			return ctx.Err()
		}
		var resp []byte
		chal, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
		switch {
		case derr != nil:
			saslErr = fmt.Errorf("imapclient: bad SASL challenge: %w", derr)
		case ir != nil:
			// No SASL-IR: the initial response answers the first, empty
			// challenge (RFC 4422 §5).
			resp, ir = ir, nil
		default:
			resp, saslErr = sc.Next(chal)
		}
		if saslErr != nil {
			w.WriteString("*\r\n") // cancel the exchange (RFC 9051 §6.2.2)
			continue
		}
		w.WriteString(base64.StdEncoding.EncodeToString(resp))
		w.WriteString("\r\n")
	}
}

func (c *Client) finishAuth(cmd *command, sc sasl.Client, saslErr error) error {
	err := cmd.result()
	if cm, ok := sc.(sasl.Completer); ok {
		if cerr := cm.Complete(); cerr != nil {
			if err == nil {
				// The server did not prove itself (SCRAM): do not use the
				// session.
				c.fail(cerr)
				return cerr
			}
			return errors.Join(err, cerr)
		}
	}
	if saslErr != nil {
		if err != nil {
			return errors.Join(saslErr, err)
		}
		return saslErr
	}
	if err != nil {
		return err
	}
	c.afterAuth(cmd)
	return nil
}

// Login authenticates with a user name and password, the strongest way
// the server offers: a SASL mechanism from its AUTH= capabilities chosen
// by sasl.Choose (SCRAM-PLUS with the TLS channel binding, SCRAM, then
// PLAIN), else the LOGIN command (RFC 9051 §6.2.3) unless the server
// announces LOGINDISABLED. Without TLS, PLAIN and LOGIN fail with
// sasl.ErrInsecureAuth unless Options.AllowInsecureAuth is set: a man in
// the middle who strips STARTTLS and LOGINDISABLED from the capabilities
// must not get the password.
func (c *Client) Login(ctx context.Context, username, password string) error {
	caps := c.Caps()
	if caps == nil {
		var err error
		if caps, err = c.Capability(ctx); err != nil {
			return err
		}
	}
	var mechs []string
	for _, s := range caps {
		if m, ok := strings.CutPrefix(s, "AUTH="); ok {
			mechs = append(mechs, m)
		}
	}
	opts := sasl.ClientOptions{Username: username, Password: password, AllowPlaintext: c.opts.AllowInsecureAuth}
	if cs, ok := c.TLSConnectionState(); ok {
		opts.TLS = true
		opts.ChannelBinding = c.channelBinding(&cs)
	}
	if sc, err := sasl.Choose(mechs, opts); err == nil {
		return c.Auth(ctx, sc)
	}
	return c.loginCommand(ctx, username, password)
}

// loginCommand authenticates with the LOGIN command (RFC 9051 §6.2.3).
func (c *Client) loginCommand(ctx context.Context, username, password string) error {
	if !c.isTLS() && !c.opts.AllowInsecureAuth {
		return sasl.ErrInsecureAuth
	}
	if c.hasCap("LOGINDISABLED") {
		return errors.New("imapclient: server disabled LOGIN (LOGINDISABLED)")
	}
	// 8-bit credentials go as literals unless UTF-8 was enabled
	// (RFC 9051 §9: quoted strings are 7-bit in IMAP4rev1).
	u := c.utf8()
	b := newLine("LOGIN ")
	b.AString(username, u)
	b.SP()
	b.AString(password, u)
	cmd, err := c.do(ctx, "LOGIN", b)
	if err != nil {
		return err
	}
	c.afterAuth(cmd)
	return nil
}

func (c *Client) isTLS() bool {
	_, ok := c.TLSConnectionState()
	return ok
}

// channelBinding returns the connection's one channel binding, made at its
// first use: a failed -PLUS exchange consumes it, so that a second Login
// on the connection does not choose -PLUS again, which RFC 9266 §4.1
// forbids and our server refuses.
func (c *Client) channelBinding(cs *tls.ConnectionState) *sasl.ChannelBinding {
	c.cbMu.Lock()
	defer c.cbMu.Unlock()
	if c.cb == nil {
		c.cb = sasl.ChannelBindingFromTLS(cs)
	}
	return c.cb
}

// TLSConnectionState returns the state of the connection's TLS layer
// (after DialTLS or StartTLS), for certificate details or to build a
// channel binding with sasl.ChannelBindingFromTLS; ok is false without
// TLS.
func (c *Client) TLSConnectionState() (cs tls.ConnectionState, ok bool) {
	// COMPRESS layers above c.conn, which stays the *tls.Conn.
	tc, ok := c.currentConn().(*tls.Conn)
	if !ok {
		return cs, false
	}
	return tc.ConnectionState(), true
}
