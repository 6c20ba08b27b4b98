package pop3server

import (
	"strconv"
	"strings"

	"github.com/posthorn/posthorn/pop3"
)

// dispatch runs one command and reports whether the session is over.
func (c *conn) dispatch(cmd pop3.Command) (done bool) {
	switch cmd.Name {
	case "PASS", "APOP", "USER":
		// Never the password or digest; the user name is logged with the
		// outcome of the login.
		c.log.Debug("pop3 command", "cmd", cmd.Name)
	case "AUTH":
		// Logged by cmdAuth with the mechanism only.
	default:
		c.log.Debug("pop3 command", "cmd", cmd.Name, "args", cmd.Args)
	}
	if f := c.srv.CommandFilter; f != nil && !c.unfiltered(cmd.Name) {
		ci := CommandInfo{Name: cmd.Name, Conn: &c.info}
		if c.state == stateTransaction {
			ci.Username = c.user
		}
		if err := f(c.ctx, ci); err != nil {
			if _, ok := pop3.AsError(err); !ok {
				err = &pop3.Error{Text: "command refused"}
			}
			c.replyErr(cmd.Name, err)
			return false
		}
	}
	// Commands valid in every state.
	switch cmd.Name {
	case "QUIT":
		return c.cmdQuit(cmd)
	case "CAPA":
		// RFC 2449 §5: valid in AUTHORIZATION and TRANSACTION.
		c.cmdCapa()
		return false
	case "LANG":
		// RFC 6856 §3.1: valid in AUTHORIZATION and TRANSACTION.
		c.cmdLang(cmd)
		c.badCmds = 0
		return false
	case "NOOP":
		if c.state == stateTransaction {
			c.badCmds = 0
			c.reply("+OK")
			return false
		}
	}
	var known bool
	switch c.state {
	case stateAuthorization:
		known = c.dispatchAuthorization(cmd)
	case stateTransaction:
		known = c.dispatchTransaction(cmd)
	}
	if c.closing {
		return true
	}
	if !known {
		return !c.bad("-ERR unknown command or wrong state: %s", c.textOut(cmd.Name))
	}
	c.badCmds = 0
	return false
}

func (c *conn) dispatchAuthorization(cmd pop3.Command) bool {
	switch cmd.Name {
	case "USER":
		c.cmdUser(cmd)
	case "PASS":
		c.cmdPass(cmd)
	case "APOP":
		if !c.srv.apopOffered() {
			return false
		}
		c.cmdAPOP(cmd)
	case "AUTH":
		c.cmdAuth(cmd)
	case "STLS":
		c.cmdSTLS(cmd)
	case "UTF8":
		c.cmdUTF8(cmd)
	default:
		return false
	}
	return true
}

func (c *conn) dispatchTransaction(cmd pop3.Command) bool {
	switch cmd.Name {
	case "STAT":
		c.cmdStat(cmd)
	case "LIST":
		c.cmdList(cmd, false)
	case "UIDL":
		c.cmdList(cmd, true)
	case "RETR":
		c.cmdRetr(cmd)
	case "TOP":
		c.cmdTop(cmd)
	case "DELE":
		c.cmdDele(cmd)
	case "RSET":
		c.cmdRset(cmd)
	default:
		return false
	}
	return true
}

// unfiltered lists the commands CommandFilter is not asked about: the way
// out, the capability list, and the steps of a login already begun.
func (c *conn) unfiltered(name string) bool {
	return name == "QUIT" || name == "CAPA" || name == "PASS" || name == "AUTH"
}

// cmdCapa answers CAPA (RFC 2449 §5) for the current state.
func (c *conn) cmdCapa() {
	s := c.srv
	caps := []string{"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"} // AUTH-RESP-CODE: RFC 3206 §5
	if c.state == stateAuthorization {
		if c.plaintextOK() && s.passwords() != nil {
			caps = append(caps, "USER")
		}
		if mechs := c.mechanisms(); len(mechs) > 0 {
			caps = append(caps, "SASL "+strings.Join(mechs, " "))
		}
		if s.tlsConfig != nil && !c.tls && !c.utf8 {
			caps = append(caps, "STLS")
		}
	}
	if s.Expire != "" {
		caps = append(caps, "EXPIRE "+s.Expire)
	}
	if s.LoginDelay > 0 {
		caps = append(caps, "LOGIN-DELAY "+strconv.Itoa(s.LoginDelay))
	}
	// RFC 6856 §2.2: USER/PASS and APOP take UTF-8 names and passwords,
	// prepared with SASLprep; §3: LANG.
	caps = append(caps, "UTF8 USER", "LANG")
	if s.Implementation != "" {
		caps = append(caps, "IMPLEMENTATION "+s.Implementation)
	}
	if s.CapabilityFilter != nil {
		caps = s.CapabilityFilter(caps)
	}
	c.reply("+OK capability list follows")
	for _, l := range caps {
		c.reply(l)
	}
	c.reply(".")
}

// cmdQuit ends the session; in TRANSACTION it enters UPDATE and removes
// the messages marked deleted (RFC 1939 §6).
func (c *conn) cmdQuit(cmd pop3.Command) bool {
	if len(cmd.Args) != 0 {
		c.reply("-ERR QUIT takes no argument")
		return false
	}
	if c.state != stateTransaction {
		c.reply("+OK bye")
		c.flush()
		return true
	}
	c.state = stateUpdate
	err := c.update()
	// Release the lock before the reply, so that a client reconnecting as
	// soon as it reads "+OK" is not told [IN-USE].
	c.releaseMaildrop()
	if err != nil {
		// RFC 1939 §6: "-ERR some deleted messages not removed".
		if pe, ok := pop3.AsError(err); ok && pe.Code != "" {
			c.bw.WriteString("-ERR [" + pe.Code + "] " + c.translate("some deleted messages not removed") + ": " + c.sanitize(pe.Text) + "\r\n")
		} else {
			c.log.Warn("pop3 update failed", "user", c.user, "err", err)
			c.reply("-ERR [SYS/TEMP] some deleted messages not removed")
		}
	} else {
		c.reply("+OK bye")
	}
	c.flush()
	return true
}

func (c *conn) update() error {
	var uids []string
	for i, d := range c.deleted {
		if d {
			uids = append(uids, c.msgs[i].UID)
		}
	}
	if len(uids) == 0 {
		return nil
	}
	if err := c.drop.Delete(c.ctx, uids); err != nil {
		return err
	}
	c.log.Info("pop3 messages deleted", "user", c.user, "count", len(uids))
	if h := c.srv.Hooks.Deleted; h != nil {
		h(DeleteEvent{Remote: c.remote, Username: c.user, Count: len(uids)})
	}
	return nil
}
