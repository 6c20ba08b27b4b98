package smtpserver

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/lineio"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp"
)

// maxAuthLine bounds one base64 SASL response line (RFC 4954 §4 asks
// for at least 12288 octets).
const maxAuthLine = 16384

// cmdAuth handles AUTH (RFC 4954 §4).
func (c *conn) cmdAuth(arg string) {
	switch {
	case c.srv.registry == nil:
		c.reply(502, smtp.EnhancedCode{5, 5, 1}, "AUTH not available")
		c.errors++
		return
	case c.helloKind == "" || c.helloKind == "HELO":
		c.reply(503, smtp.CodeBadSequence, "Send EHLO first")
		c.errors++
		return
	case c.authed:
		// RFC 4954 §4: only one successful AUTH per session.
		c.reply(503, smtp.CodeBadSequence, "Already authenticated")
		c.errors++
		return
	case c.inTx:
		c.reply(503, smtp.CodeBadSequence, "AUTH not permitted during a mail transaction")
		c.errors++
		return
	}
	if al := c.srv.authLimiter(c.lim); al != nil {
		// Failures from this network on other connections slow it too.
		// The wait comes before the credentials are checked, whatever
		// they turn out to be.
		if err := al.Wait(c.ctx, c.ip, ""); err != nil {
			if c.ctx.Err() != nil {
				c.quit = true
				return
			}
			// Blocked: no credential check. RFC 4954 §6: 454 4.7.0.
			c.log.Warn("authentication refused", "err", err)
			if h := c.srv.Hooks.Auth; h != nil {
				h(AuthEvent{Remote: c.ip, Mechanism: strings.ToUpper(strings.SplitN(arg, " ", 2)[0]), Err: err})
			}
			c.reply(454, smtp.CodeTempAuthFailure, "Too many authentication failures; try again later")
			c.errors++
			return
		}
	}
	mech, ir, hasIR := strings.Cut(arg, " ")
	mech = strings.ToUpper(mech)
	cs := c.connState()
	if !slices.Contains(c.srv.registry.Offer(cs), mech) {
		if !c.tls && slices.Contains(c.srv.registry.Offer(sasl.ConnState{TLS: true}), mech) {
			// RFC 4954 §6: 538 for a mechanism that needs encryption.
			c.reply(538, smtp.CodeEncryptRequired, "Encryption required for requested authentication mechanism")
		} else {
			c.reply(504, smtp.EnhancedCode{5, 5, 4}, "Unrecognized authentication type")
		}
		c.errors++
		return
	}
	srv, err := c.srv.registry.NewServer(mech, cs)
	if err != nil {
		c.reply(504, smtp.EnhancedCode{5, 5, 4}, "Unrecognized authentication type")
		c.errors++
		return
	}
	var resp []byte
	if hasIR {
		if ir == "=" {
			resp = []byte{} // RFC 4954 §4: "=" is an empty initial response
		} else if resp, err = base64.StdEncoding.DecodeString(ir); err != nil {
			c.reply(501, smtp.EnhancedCode{5, 5, 2}, "Invalid base64 data")
			c.errors++
			return
		}
	}
	lr := lineio.NewReader(c.br, maxAuthLine)
	for {
		chal, done, err := srv.Next(c.ctx, resp)
		if err != nil {
			c.authFailed(mech, srv.Identity().AuthcID, err)
			return
		}
		if done {
			break
		}
		c.reply(334, smtp.EnhancedCode{}, base64.StdEncoding.EncodeToString(chal))
		_ = c.nc.SetReadDeadline(time.Now().Add(c.lim.CommandTimeout))
		line, err := lr.ReadLine()
		if err != nil {
			var tl *lineio.LineTooLongError
			if errors.As(err, &tl) {
				c.reply(500, smtp.EnhancedCode{5, 5, 6}, "Authentication line too long")
				c.errors++
				return
			}
			c.quit = true
			return
		}
		if len(line) == 1 && line[0] == '*' {
			c.reply(501, smtp.EnhancedCode{5, 0, 0}, "Authentication cancelled")
			c.errors++
			return
		}
		if resp, err = base64.StdEncoding.AppendDecode(nil, line); err != nil {
			c.reply(501, smtp.EnhancedCode{5, 5, 2}, "Invalid base64 data")
			c.errors++
			return
		}
	}
	id := srv.Identity()
	if as, ok := c.sess.(AuthSession); ok {
		if err := as.Authenticated(c.ctx, id); err != nil {
			c.authFailed(mech, id.AuthcID, err)
			return
		}
	}
	if al := c.srv.authLimiter(c.lim); al != nil {
		al.Success(c.ip, id.AuthcID)
	}
	c.authed = true
	if h := c.srv.Hooks.Auth; h != nil {
		h(AuthEvent{Remote: c.ip, Mechanism: mech, Username: id.Username})
	}
	c.info.Identity = &id
	c.log = c.log.With("user", id.Username)
	c.log.Info("authenticated", "mechanism", mech)
	c.reply(235, smtp.EnhancedCode{2, 7, 0}, "Authentication successful")
}

// authFailed answers a failed exchange after a delay that grows with each
// failure, and closes the connection after too many. user is the name
// the exchange learnt, if any.
func (c *conn) authFailed(mech, user string, err error) {
	if h := c.srv.Hooks.Auth; h != nil {
		h(AuthEvent{Remote: c.ip, Mechanism: mech, Username: user, Err: err})
	}
	var pe *sasl.ProtocolError
	var se *smtp.Error
	switch {
	case errors.As(err, &se):
		c.replyErr(se, se)
		return
	case errors.As(err, &pe) && !errors.Is(err, sasl.ErrAuthFailed):
		c.reply(501, smtp.EnhancedCode{5, 5, 2}, "Malformed authentication data")
		c.errors++
		return
	case errors.Is(err, sasl.ErrAborted):
		c.reply(501, smtp.EnhancedCode{5, 0, 0}, "Authentication cancelled")
		c.errors++
		return
	case !errors.Is(err, sasl.ErrAuthFailed) && !errors.Is(err, sasl.ErrUnknownUser) && !errors.Is(err, sasl.ErrChannelBinding):
		c.log.Warn("authentication backend error", "mechanism", mech, "err", err)
		c.reply(454, smtp.CodeTempAuthFailure, "Temporary authentication failure")
		c.errors++
		return
	}
	c.authFails++
	if al := c.srv.authLimiter(c.lim); al != nil {
		al.Failure(c.ip, user)
	}
	c.log.Info("authentication failed", "mechanism", mech, "failures", c.authFails)
	if d := c.lim.AuthFailureDelay; d > 0 {
		d <<= min(c.authFails-1, 4)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
		}
	}
	c.reply(535, smtp.CodeAuthFailed, "Authentication credentials invalid")
	if c.lim.MaxAuthFailures > 0 && c.authFails >= c.lim.MaxAuthFailures {
		c.reply(421, smtp.EnhancedCode{4, 7, 0}, c.srv.hostname()+" too many authentication failures, closing connection")
		c.quit = true
	}
}
