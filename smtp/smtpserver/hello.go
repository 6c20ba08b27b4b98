package smtpserver

import (
	"strconv"
	"strings"

	"github.com/posthorn/posthorn/smtp"
)

// cmdHello handles EHLO, HELO (RFC 5321 §4.1.1.1) and LHLO (RFC 2033 §4.1).
func (c *conn) cmdHello(verb, arg string) {
	lmtp := c.srv.Mode == ModeLMTP
	if lmtp != (verb == "LHLO") {
		// RFC 2033 §4.1: an LMTP server must not accept HELO or EHLO.
		c.reply(500, smtp.CodeBadCommand, verb+" not accepted here")
		c.errors++
		return
	}
	name := strings.TrimSpace(arg)
	if name == "" || strings.ContainsAny(name, " \t") && !strings.HasPrefix(name, "[") {
		c.reply(501, smtp.CodeBadSyntax, "Syntax: "+verb+" hostname")
		c.errors++
		return
	}
	if len(name) > 255 {
		c.reply(501, smtp.CodeBadSyntax, "Hostname too long")
		c.errors++
		return
	}
	// A new EHLO resets the transaction (§4.1.4).
	c.resetTx()
	c.helloKind = verb
	c.info.Hostname = name
	host := c.srv.hostname()
	if verb == "HELO" {
		c.reply(250, smtp.EnhancedCode{}, host+" Hello "+name)
		return
	}
	c.reply(250, smtp.EnhancedCode{}, c.capabilities(host+" Hello "+name)...)
}

// capabilities lists the EHLO keywords offered in the current state.
func (c *conn) capabilities(first string) []string {
	caps := []string{first}
	for _, ext := range []string{"PIPELINING", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING", "BINARYMIME", "DSN"} {
		if !c.srv.disabled(ext) {
			caps = append(caps, ext)
		}
	}
	switch {
	case c.srv.disabled("SIZE"):
	case c.lim.MaxMessageSize > 0:
		caps = append(caps, "SIZE "+strconv.FormatInt(c.lim.MaxMessageSize, 10))
	default:
		caps = append(caps, "SIZE")
	}
	if c.srv.TLSConfig != nil && !c.tls {
		caps = append(caps, "STARTTLS")
	}
	if c.tls && !c.srv.disabled("REQUIRETLS") {
		// RFC 8689 §4.1: offered only on a TLS session.
		caps = append(caps, "REQUIRETLS")
	}
	if mechs := c.offeredMechs(); len(mechs) > 0 && !c.authed {
		caps = append(caps, "AUTH "+strings.Join(mechs, " "))
	}
	// RFC 9422 LIMITS.
	var lim []string
	if c.lim.MaxRecipients > 0 {
		lim = append(lim, "RCPTMAX="+strconv.Itoa(c.lim.MaxRecipients))
	}
	if c.lim.MaxMessages > 0 {
		lim = append(lim, "MAILMAX="+strconv.Itoa(c.lim.MaxMessages))
	}
	if len(lim) > 0 && !c.srv.disabled("LIMITS") {
		caps = append(caps, "LIMITS "+strings.Join(lim, " "))
	}
	if c.xclientAllowed() {
		caps = append(caps, "XCLIENT NAME ADDR PORT PROTO HELO LOGIN DESTADDR DESTPORT")
	}
	caps = append(caps, "HELP")
	return caps
}

func (c *conn) offeredMechs() []string {
	if c.srv.registry == nil {
		return nil
	}
	return c.srv.registry.Offer(c.connState())
}
