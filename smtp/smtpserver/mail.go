package smtpserver

import (
	"errors"

	"github.com/posthorn/posthorn/smtp"
)

var (
	errTempMail = smtp.NewError(451, smtp.CodeTempLocal, "Temporary failure, try again later")
)

// cmdMail handles MAIL FROM (RFC 5321 §4.1.1.2).
func (c *conn) cmdMail(arg string) {
	switch {
	case c.helloKind == "" && !c.srv.AllowMessageBeforeHello:
		c.reply(503, smtp.CodeBadSequence, "Send "+c.helloVerb()+" first")
		c.errors++
		return
	case c.inTx:
		c.reply(503, smtp.CodeBadSequence, "Nested MAIL command")
		c.errors++
		return
	case c.srv.Mode == ModeSubmission && !c.authed:
		// RFC 6409 §4.3 / RFC 4954 §6.
		c.reply(530, smtp.CodeAuthRequired, "Authentication required")
		c.errors++
		return
	case c.lim.MaxMessages > 0 && c.messages >= c.lim.MaxMessages:
		// RFC 9422 §4.2: MAILMAX reached.
		c.reply(421, smtp.EnhancedCode{4, 5, 3}, "Too many messages on this connection, closing")
		c.quit = true
		return
	}
	from, ps, err := smtp.ParseMailArg(arg, 16)
	if err != nil {
		c.replyParseErr(err, "Syntax: MAIL FROM:<address>")
		return
	}
	opts, err := smtp.ParseMailOptions(ps)
	if err != nil {
		c.reply(555, smtp.CodeBadParams, err.Error())
		c.errors++
		return
	}
	if e := c.checkDisabledParams(&opts); e != "" {
		c.reply(555, smtp.CodeBadParams, e+" not supported")
		c.errors++
		return
	}
	switch {
	case opts.Size > 0 && c.lim.MaxMessageSize > 0 && opts.Size > c.lim.MaxMessageSize:
		// RFC 1870 §6.
		c.reply(552, smtp.EnhancedCode{5, 3, 4}, "Message size exceeds fixed maximum message size")
		c.errors++
		return
	case opts.RequireTLS && !c.tls:
		// RFC 8689 §4.1: only on a TLS session.
		c.reply(530, smtp.CodeRequireTLS, "REQUIRETLS needs a TLS session")
		c.errors++
		return
	case !from.IsASCII() && !opts.SMTPUTF8:
		// RFC 6531 §3.4.
		c.reply(553, smtp.EnhancedCode{5, 6, 7}, "Non-ASCII address needs SMTPUTF8")
		c.errors++
		return
	}
	if err := c.sess.Mail(c.ctx, from, &opts); err != nil {
		c.replyErr(err, errTempMail)
		return
	}
	c.inTx = true
	c.from = from
	c.mailOpts = opts
	c.reply(250, smtp.CodeSenderOK, "OK")
}

// cmdRcpt handles RCPT TO (RFC 5321 §4.1.1.3).
func (c *conn) cmdRcpt(arg string) {
	if !c.inTx {
		c.reply(503, smtp.CodeBadSequence, "Need MAIL before RCPT")
		c.errors++
		return
	}
	if c.bdat != nil {
		c.reply(503, smtp.CodeBadSequence, "RCPT not allowed during BDAT")
		c.errors++
		return
	}
	if c.lim.MaxRecipients > 0 && len(c.rcpts) >= c.lim.MaxRecipients {
		// RFC 5321 §4.5.3.1.10 and RFC 9422 §4.1: 452 for too many.
		c.reply(452, smtp.CodeTooManyRcpts, "Too many recipients")
		return
	}
	to, ps, err := smtp.ParseRcptArg(arg, 16)
	if err != nil {
		c.replyParseErr(err, "Syntax: RCPT TO:<address>")
		return
	}
	opts, err := smtp.ParseRcptOptions(ps)
	if err != nil {
		c.reply(555, smtp.CodeBadParams, err.Error())
		c.errors++
		return
	}
	if !to.IsASCII() && !c.mailOpts.SMTPUTF8 {
		c.reply(553, smtp.EnhancedCode{5, 6, 7}, "Non-ASCII address needs SMTPUTF8")
		c.errors++
		return
	}
	if err := c.sess.Rcpt(c.ctx, to, &opts); err != nil {
		c.replyErr(err, errTempMail)
		return
	}
	c.rcpts = append(c.rcpts, to)
	c.reply(250, smtp.CodeRecipientOK, "OK")
}

func (c *conn) replyParseErr(err error, syntax string) {
	var ae *smtp.AddressError
	var pe *smtp.ParamError
	switch {
	case errors.As(err, &ae):
		c.reply(553, smtp.EnhancedCode{5, 1, 3}, "Bad address syntax")
	case errors.As(err, &pe):
		c.reply(555, smtp.CodeBadParams, pe.Error())
	default:
		c.reply(501, smtp.CodeBadSyntax, syntax)
	}
	c.errors++
}

func (c *conn) helloVerb() string {
	if c.srv.Mode == ModeLMTP {
		return "LHLO"
	}
	return "EHLO/HELO"
}

// checkDisabledParams names a MAIL parameter of an extension not offered.
func (c *conn) checkDisabledParams(o *smtp.MailOptions) string {
	switch {
	case o.Body == smtp.Body8BitMIME && c.srv.disabled("8BITMIME"):
		return "BODY=8BITMIME"
	case o.Body == smtp.BodyBinaryMIME && (c.srv.disabled("BINARYMIME") || c.srv.disabled("CHUNKING")):
		return "BODY=BINARYMIME"
	case o.SMTPUTF8 && c.srv.disabled("SMTPUTF8"):
		return "SMTPUTF8"
	case (o.Return != "" || o.EnvelopeID != "") && c.srv.disabled("DSN"):
		return "RET/ENVID"
	case o.Size > 0 && c.srv.disabled("SIZE"):
		return "SIZE"
	case o.RequireTLS && c.srv.disabled("REQUIRETLS"):
		return "REQUIRETLS"
	}
	return ""
}
