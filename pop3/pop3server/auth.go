package pop3server

import (
	"context"
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/posthorn/posthorn/pop3"
	"github.com/posthorn/posthorn/sasl"
)

// plaintextOK reports whether passwords may be sent in the clear on this
// connection (RFC 2595 §2.2, RFC 8314 §3).
func (c *conn) plaintextOK() bool {
	return c.tls || c.srv.AllowInsecureAuth
}

func (c *conn) connState() sasl.ConnState {
	return sasl.ConnState{TLS: c.tls, ChannelBinding: c.cb, RemoteAddr: c.nc.RemoteAddr()}
}

// mechanisms returns the SASL mechanisms offered now.
func (c *conn) mechanisms() []string {
	if c.srv.auth == nil {
		return nil
	}
	return c.srv.auth.Offer(c.connState())
}

// cmdUser handles USER (RFC 1939 §7).
func (c *conn) cmdUser(cmd pop3.Command) {
	c.user = ""
	if !c.plaintextOK() || c.srv.passwords() == nil {
		// RFC 2595 §4: "-ERR" when plaintext login is not allowed yet.
		c.reply("-ERR [AUTH] USER/PASS not available, use STLS or AUTH first")
		return
	}
	if len(cmd.Args) != 1 || !validName(cmd.Args[0]) {
		c.reply("-ERR USER takes one user name")
		return
	}
	// RFC 6856 §2.2 (UTF8 USER): the name is prepared with SASLprep as a
	// query string, so that every spelling SASLprep maps to one name
	// reaches the same maildrop and the same lock. A name it prohibits
	// is refused at PASS, like a wrong password, so USER reveals nothing.
	c.user = cmd.Args[0]
	c.reply("+OK send PASS")
}

// cmdPass handles PASS; it must follow a successful USER (RFC 1939 §7).
func (c *conn) cmdPass(cmd pop3.Command) {
	user := c.user
	c.user = ""
	if user == "" {
		c.reply("-ERR USER first")
		return
	}
	if len(cmd.Args) != 1 || !utf8.ValidString(cmd.Args[0]) {
		c.reply("-ERR PASS takes one password")
		return
	}
	user, err := prepareName(user)
	if err == nil {
		err = c.authWait(user)
	}
	if err == nil {
		err = c.srv.verifyPassword(c.ctx, user, cmd.Args[0])
	}
	c.finishAuth(sasl.Identity{Username: user, Mechanism: "USER", AuthcID: user}, err)
}

// cmdAPOP handles APOP name digest (RFC 1939 §7): digest is the MD5 of the
// greeting timestamp followed by the shared secret.
func (c *conn) cmdAPOP(cmd pop3.Command) {
	c.user = ""
	if len(cmd.Args) != 2 || !validName(cmd.Args[0]) || len(cmd.Args[1]) != 32 {
		c.reply("-ERR APOP takes a name and a 32-digit MD5 digest")
		return
	}
	digest := strings.ToLower(cmd.Args[1])
	// RFC 6856 §2.2: the APOP name is a SASLprep query string, the
	// password in the digest a stored string.
	user, err := prepareName(cmd.Args[0])
	if err == nil {
		err = c.authWait(user)
	}
	if err == nil {
		lookup, _ := c.srv.credentials().(sasl.SecretLookup)
		var secret string
		secret, err = lookup.LookupSecret(c.ctx, user)
		if err == nil {
			secret, err = apopSecret(secret)
		}
		if err == nil {
			sum := md5.Sum([]byte(c.apopStamp + secret))
			if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(digest)) != 1 {
				err = sasl.ErrAuthFailed
			}
		} else if errors.Is(err, sasl.ErrUnknownUser) {
			err = sasl.ErrAuthFailed
		}
	}
	c.finishAuth(sasl.Identity{Username: user, Mechanism: "APOP", AuthcID: user}, err)
}

// cmdAuth handles AUTH (RFC 5034 §4). Without an argument it lists the
// mechanisms, as RFC 1734 clients expect.
func (c *conn) cmdAuth(cmd pop3.Command) {
	mechs := c.mechanisms()
	if len(cmd.Args) == 0 {
		c.reply("+OK")
		for _, m := range mechs {
			c.reply(m)
		}
		c.reply(".")
		return
	}
	if len(cmd.Args) > 2 {
		c.reply("-ERR AUTH takes a mechanism and an optional initial response")
		return
	}
	mech := strings.ToUpper(cmd.Args[0])
	c.log.Debug("pop3 command", "cmd", "AUTH", "mechanism", mech)
	if !c.srv.auth.Offers(mech, c.connState()) {
		c.reply("-ERR unsupported authentication mechanism")
		return
	}
	srv, err := c.srv.auth.NewServer(mech, c.connState())
	if err != nil {
		c.reply("-ERR unsupported authentication mechanism")
		return
	}
	var resp []byte
	if len(cmd.Args) == 2 {
		// RFC 5034 §4: "=" is an empty initial response.
		if resp, err = decodeB64(cmd.Args[1]); err != nil {
			c.reply("-ERR invalid base64 in initial response")
			return
		}
	}
	if err := c.authWait(""); err != nil {
		c.finishAuth(sasl.Identity{Mechanism: mech}, err)
		return
	}
	for {
		challenge, done, err := srv.Next(c.ctx, resp)
		if err != nil {
			var pe *sasl.ProtocolError
			if errors.As(err, &pe) {
				c.reply("-ERR malformed SASL response")
				c.authFails++
				return
			}
			c.finishAuth(saslIdentity(srv, mech), err)
			return
		}
		if done {
			c.finishAuth(saslIdentity(srv, mech), nil)
			return
		}
		c.reply("+ " + base64.StdEncoding.EncodeToString(challenge))
		if err := c.flush(); err != nil {
			c.closing = true
			return
		}
		line, err := c.readLine()
		if err != nil {
			c.closing = true
			c.readFailed(err)
			return
		}
		if string(line) == "*" {
			// RFC 5034 §4: the client cancelled.
			c.reply("-ERR authentication cancelled")
			return
		}
		if resp, err = decodeB64(string(line)); err != nil {
			c.reply("-ERR invalid base64 in response")
			return
		}
	}
}

// saslIdentity is the identity a SASL exchange established (or, after a
// failure, what it learnt), with the mechanism name as the client gave it.
func saslIdentity(srv sasl.Server, mech string) sasl.Identity {
	id := srv.Identity()
	id.Mechanism = mech
	if id.Username == "" {
		id.Username = id.AuthcID // after a failure: the name tried
	}
	return id
}

// decodeB64 decodes a strict Base64 client response (RFC 5034 §4).
func decodeB64(s string) ([]byte, error) {
	if s == "=" {
		return []byte{}, nil
	}
	return base64.StdEncoding.Strict().DecodeString(s)
}

// prepareName prepares a USER or APOP name with SASLprep as a query
// string (RFC 6856 §2.2, RFC 4013). A prohibited name fails like a wrong
// password.
func prepareName(name string) (string, error) {
	u, err := sasl.SASLprepQuery(name)
	if err != nil || u == "" {
		return name, sasl.ErrAuthFailed
	}
	return u, nil
}

// apopSecret prepares the shared secret of APOP with SASLprep as a stored
// string (RFC 6856 §2.2). ASCII secrets without controls are unchanged,
// so digests computed by RFC 1939 clients still match.
func apopSecret(secret string) (string, error) {
	p, err := sasl.SASLprep(secret)
	if err != nil {
		return "", sasl.ErrAuthFailed
	}
	return p, nil
}

// validName accepts user names without controls, in valid UTF-8.
func validName(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// finishAuth completes USER/PASS, APOP or AUTH: on success it locks and
// opens the maildrop and enters TRANSACTION.
func (c *conn) finishAuth(id sasl.Identity, err error) {
	user, mech := id.Username, id.Mechanism
	if h := c.srv.Hooks.Auth; h != nil {
		h(AuthEvent{Remote: c.remote, Mechanism: mech, Username: user, Err: err})
	}
	var te *throttledError
	if errors.As(err, &te) {
		c.authFails++
		c.log.Warn("pop3 authentication refused", "user", user, "mechanism", mech, "err", te.err)
		// RFC 3206 §4: SYS/TEMP, a temporary failure; not AUTH, which
		// would send the user to their password.
		c.reply("-ERR [SYS/TEMP] too many authentication failures, try again later")
		if c.authFails >= c.srv.Limits.MaxAuthFailures {
			c.closing = true
		}
		return
	}
	if err != nil {
		c.authFails++
		if c.srv.authLim != nil {
			c.srv.authLim.Failure(c.remote, user)
		}
		c.log.Info("pop3 authentication failed", "user", user, "mechanism", mech, "failures", c.authFails)
		switch {
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			c.reply("-ERR [SYS/TEMP] authentication interrupted")
			c.closing = true
			return
		case errors.Is(err, sasl.ErrAborted):
			c.reply("-ERR authentication cancelled")
		case errors.Is(err, sasl.ErrAuthFailed), errors.Is(err, sasl.ErrUnknownUser):
			// RFC 3206 §5: [AUTH] means the credentials were wrong.
			c.reply("-ERR [AUTH] authentication failed")
		default:
			c.replyErr("authentication", err)
		}
		if c.authFails >= c.srv.Limits.MaxAuthFailures {
			c.reply("-ERR too many authentication failures, closing")
			c.closing = true
		}
		return
	}
	if c.srv.authLim != nil {
		c.srv.authLim.Success(c.remote, user)
	}
	if !c.srv.lock(user) {
		// RFC 2449 §8.1.2.
		c.reply("-ERR [IN-USE] maildrop already locked by another session")
		return
	}
	c.locked, c.user, c.id = true, user, id
	c.info = ConnInfo{RemoteAddr: c.nc.RemoteAddr(), LocalAddr: c.nc.LocalAddr(), Identity: &c.id, Service: "pop3"}
	if c.tls {
		c.info.TLS = &c.tlsState
	}
	drop, err := c.srv.Backend.OpenMaildrop(c.ctx, user, &c.info)
	if err == nil {
		c.drop = drop
		c.msgs, err = drop.Messages(c.ctx)
	}
	if err != nil {
		c.releaseMaildrop()
		c.replyErr("opening the maildrop", err)
		return
	}
	c.deleted = make([]bool, len(c.msgs))
	c.state = stateTransaction
	c.log.Info("pop3 login", "user", user, "mechanism", mech, "messages", len(c.msgs))
	var total int64
	for _, m := range c.msgs {
		total += m.Size
	}
	c.replyf("+OK %s has %d messages (%d octets)", c.textOut(user), len(c.msgs), total)
}

// authWait sleeps the auth-failure delay for this address and user,
// before the credentials are checked, whatever they turn out to be. An
// attempt the throttle refuses (a blocked address or user) comes back as
// a *throttledError.
func (c *conn) authWait(user string) error {
	if c.srv.authLim == nil {
		return nil
	}
	// Replies queued so far go out before the client waits.
	c.flush()
	err := c.srv.authLim.Wait(c.ctx, c.remote, user)
	if err != nil && c.ctx.Err() == nil {
		return &throttledError{err}
	}
	return err
}

// throttledError is an attempt AuthThrottle refused without a credential
// check.
type throttledError struct{ err error }

func (e *throttledError) Error() string { return e.err.Error() }
func (e *throttledError) Unwrap() error { return e.err }

// cmdSTLS upgrades the connection (RFC 2595 §4).
func (c *conn) cmdSTLS(cmd pop3.Command) {
	switch {
	case c.srv.tlsConfig == nil:
		c.reply("-ERR STLS not available")
		return
	case c.tls:
		c.reply("-ERR already using TLS")
		return
	case c.utf8:
		// RFC 6856 §2.1: servers may refuse STLS after UTF8.
		c.reply("-ERR STLS not allowed after UTF8")
		return
	case len(cmd.Args) != 0:
		c.reply("-ERR STLS takes no argument")
		return
	}
	c.user = ""
	c.reply("+OK begin TLS negotiation")
	if err := c.flush(); err != nil {
		c.closing = true
		return
	}
	tc, err := c.srv.upgrade(c.ctx, c.nc, c.br)
	if err != nil {
		// Plaintext pipelined behind STLS (tlsutil.ErrPipelinedAfterSTARTTLS)
		// or a failed handshake: the connection is unusable either way.
		c.log.Info("pop3 STLS failed", "err", err)
		c.closing = true
		return
	}
	c.setReaders(tc)
	c.setTLSState(tc)
	// A LANG sent before TLS may have been injected by a man in the middle
	// (RFC 6856 §7); like the capabilities (RFC 2595 §4), it is forgotten.
	c.lang, c.texts, c.utf8Text = "", nil, false
	c.log.Debug("pop3 STLS done", "version", c.tlsState.Version)
}

// cmdUTF8 enables UTF-8 mode (RFC 6856 §2.1).
func (c *conn) cmdUTF8(cmd pop3.Command) {
	if len(cmd.Args) != 0 {
		c.reply("-ERR UTF8 takes no argument")
		return
	}
	c.utf8, c.utf8Text = true, true
	c.reply("+OK UTF8 enabled")
}
