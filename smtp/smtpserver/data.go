package smtpserver

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/lineio"
	"github.com/posthorn/posthorn/smtp"
)

var (
	errTempData  = smtp.NewError(451, smtp.CodeTempLocal, "Temporary failure, try again later")
	errBareEOL   = smtp.NewError(550, smtp.EnhancedCode{5, 6, 0}, "Message contains bare CR or LF (RFC 5321 section 2.3.8)")
	errTooBig    = smtp.NewError(552, smtp.CodeTooBig, "Message size exceeds fixed maximum message size")
	errLoop      = smtp.NewError(554, smtp.CodeLoop, "Too many Received header fields, mail loop?")
	errLineLong  = smtp.NewError(550, smtp.EnhancedCode{5, 6, 0}, "Message line too long")
	errNoRcpts   = smtp.NewError(554, smtp.EnhancedCode{5, 5, 1}, "No valid recipients")
	errNeedMail  = smtp.NewError(503, smtp.CodeBadSequence, "Need MAIL command")
	errBadSeqDat = smtp.NewError(503, smtp.CodeBadSequence, "BINARYMIME requires BDAT, not DATA")
)

// checkReadyForData returns why DATA/BDAT cannot start now, or nil.
func (c *conn) checkReadyForData() *smtp.Error {
	switch {
	case !c.inTx:
		return errNeedMail
	case len(c.rcpts) == 0:
		// RFC 5321 §3.3: 554 (or 503) when no recipient was accepted.
		return errNoRcpts
	}
	return nil
}

// cmdData handles DATA (RFC 5321 §4.1.1.4).
func (c *conn) cmdData(arg string) {
	if arg != "" {
		c.reply(501, smtp.CodeBadSyntax, "DATA takes no argument")
		c.errors++
		return
	}
	if c.bdat != nil {
		c.reply(503, smtp.CodeBadSequence, "DATA not allowed during BDAT")
		c.errors++
		return
	}
	if e := c.checkReadyForData(); e != nil {
		c.replyErr(e, e)
		return
	}
	if c.mailOpts.Body == smtp.BodyBinaryMIME {
		// RFC 3030 §3.
		c.replyErr(errBadSeqDat, errBadSeqDat)
		return
	}
	c.reply(354, smtp.EnhancedCode{}, "Start mail input; end with <CRLF>.<CRLF>")

	c.startDataTimeouts()
	policy := lineio.RejectBareEOL
	if c.srv.BareEOL == NormalizeBareEOL {
		policy = lineio.NormalizeBareEOL
	}
	dr := lineio.NewDotReader(c.br, lineio.DotOptions{Policy: policy, MaxSize: c.lim.MaxMessageSize})
	c.loop = loopReader{r: dr, max: c.lim.MaxReceived, lineStart: true, inHeader: true}
	lr := &c.loop
	results := c.deliver(lr)
	// Whatever the backend did, read up to the real <CRLF>.<CRLF> before
	// answering, so nothing of the body can run as a command.
	bodyErr := dr.Close()
	c.endDataTimeouts()
	if bodyErr != nil {
		var be *lineio.BareEOLError
		var te *lineio.TooLargeError
		var le *lineio.LineTooLongError
		switch {
		case errors.As(bodyErr, &be):
			results = c.uniform(errBareEOL)
		case errors.As(bodyErr, &te):
			results = c.uniform(errTooBig)
		case errors.As(bodyErr, &le):
			results = c.uniform(errLineLong)
		default:
			// I/O error: the connection is gone or out of step.
			c.log.Info("connection lost during DATA", "err", bodyErr)
			c.dataTimeoutReply(bodyErr)
			c.quit = true
			c.resetTx()
			return
		}
	} else if lr.count > lr.max && lr.max > 0 {
		results = c.uniform(errLoop)
	}
	c.finishMessage(results, lr.n)
}

// uniform returns the same result for every recipient.
func (c *conn) uniform(err error) []error {
	n := 1
	if c.srv.Mode == ModeLMTP {
		n = len(c.rcpts)
	}
	out := make([]error, n)
	for i := range out {
		out[i] = err
	}
	return out
}

// deliver hands the message to the backend: one result, or one per
// recipient in LMTP mode.
func (c *conn) deliver(body io.Reader) []error {
	var r io.Reader = body
	if tt := c.traceTaker; tt != nil {
		var trace []byte
		if !c.srv.DisableReceived {
			trace = c.receivedField()
		}
		tt.takeTrace(trace)
	} else if !c.srv.DisableReceived {
		// Not io.MultiReader: its WriteTo allocates 32 KiB per message.
		c.prefix = prefixReader{prefix: c.receivedField(), r: body}
		r = &c.prefix
	}
	if c.srv.Mode == ModeLMTP {
		if ls, ok := c.sess.(LMTPSession); ok {
			res := ls.LMTPData(c.ctx, r)
			out := make([]error, len(c.rcpts))
			for i := range out {
				switch {
				case i < len(res):
					out[i] = res[i]
				case len(res) > 0:
					out[i] = res[len(res)-1]
				default:
					out[i] = errTempData
				}
			}
			return out
		}
		return c.uniform(c.sess.Data(c.ctx, r))
	}
	return []error{c.sess.Data(c.ctx, r)}
}

// traceTaker is implemented by a Session that hands the server's
// Received: field to its store at commit, as header lines to prepend,
// instead of reading it at the head of the message (NewStoreBackend's):
// a store that streams the body into a file can then still put fields
// computed from the body (Authentication-Results:) above it.
type traceTaker interface {
	takeTrace(field []byte)
}

// finishMessage answers the end of a message: one reply (SMTP) or one per
// recipient (LMTP, RFC 2033 §4.2), and ends the transaction. size is
// the number of message octets read.
func (c *conn) finishMessage(results []error, size int64) {
	ok := 0
	for i, err := range results {
		if err == nil {
			ok++
			if c.srv.Mode == ModeLMTP {
				c.reply(250, smtp.CodeDeliveredOK, "<"+c.rcpts[i].String()+"> delivered")
			} else {
				c.reply(250, smtp.CodeOK, "OK message accepted")
			}
			continue
		}
		c.replyErr(err, errTempData)
	}
	c.messages++
	if h := c.srv.Hooks.Message; h != nil {
		accepted := ok
		if c.srv.Mode != ModeLMTP && ok > 0 {
			accepted = len(c.rcpts) // one reply for all recipients
		}
		h(MessageEvent{Remote: c.ip, From: c.from, Recipients: len(c.rcpts), Accepted: accepted, Size: size})
	}
	if c.log.Enabled(c.ctx, slog.LevelInfo) {
		c.log.Info("message", "from", c.from.String(), "rcpts", len(c.rcpts), "accepted", ok, "of", len(results))
	}
	c.resetTx()
}

func (c *conn) startDataTimeouts() {
	c.fr.dataMode = true
	c.fr.idle = c.lim.DataIdleTimeout
	c.fr.lastSet = time.Time{}
	if c.lim.DataTimeout > 0 {
		c.fr.hard = time.Now().Add(c.lim.DataTimeout)
	} else {
		c.fr.hard = time.Time{}
	}
}

func (c *conn) endDataTimeouts() { c.fr.dataMode = false }

// dataTimeoutReply answers 421 when message data stopped arriving (RFC
// 5321 §4.5.3.2.5) before the connection is closed.
func (c *conn) dataTimeoutReply(err error) {
	var ne net.Error
	if c.Aborted() {
		// Shutdown's deadline cut the transfer short: 421 all the same
		// (RFC 5321 §3.8).
		c.sayShutdown()
		return
	}
	if errors.As(err, &ne) && ne.Timeout() {
		c.reply(421, smtp.CodeTimeout, c.srv.hostname()+" timeout during message transfer, closing connection")
		_ = c.flush()
	}
}

// receivedField builds the trace field (RFC 5321 §4.4), with the
// protocol names of RFC 3848 and RFC 6531 §4.3, into c.recvBuf (reused:
// the previous message is done with it).
func (c *conn) receivedField() []byte {
	b := c.recvBuf[:0]
	b = append(b, "Received: from "...)
	b = appendSanitizedHelo(b, c.info.Hostname)
	b = append(b, " ("...)
	if ip := c.ip; ip.IsValid() {
		b = append(b, '[')
		if !ip.Is4() {
			b = append(b, "IPv6:"...)
		}
		b = ip.AppendTo(b)
		b = append(b, ']')
	} else {
		b = append(b, "unknown"...)
	}
	b = append(b, ")\r\n\tby "...)
	b = append(b, c.srv.hostname()...)
	b = append(b, " with "...)
	proto := "SMTP"
	switch {
	case c.srv.Mode == ModeLMTP:
		proto = "LMTP"
	case c.helloKind == "EHLO":
		proto = "ESMTP"
	}
	if c.mailOpts.SMTPUTF8 {
		b = append(b, "UTF8"...)
		proto = strings.TrimPrefix(proto, "E")
	}
	b = append(b, proto...)
	if c.tls {
		b = append(b, 'S')
	}
	if c.authed {
		b = append(b, 'A')
	}
	if c.info.TLS != nil {
		b = append(b, " ("...)
		b = append(b, tlsVersionName(c.info.TLS.Version)...)
		b = append(b, ')')
	}
	now := time.Now()
	b = append(b, " id "...)
	b = strconv.AppendInt(b, now.UnixNano(), 36)
	if len(c.rcpts) == 1 {
		b = append(b, "\r\n\tfor <"...)
		b = append(b, c.rcpts[0].String()...)
		b = append(b, '>')
	}
	b = append(b, ";\r\n\t"...)
	b = now.AppendFormat(b, time.RFC1123Z)
	b = append(b, "\r\n"...)
	c.recvBuf = b
	return b
}

func tlsVersionName(v uint16) string {
	switch v {
	case 0x0304:
		return "TLS1.3"
	case 0x0303:
		return "TLS1.2"
	}
	return "TLS"
}

// appendSanitizedHelo keeps the client's EHLO name from adding comments
// or non-ASCII to the header.
func appendSanitizedHelo(b []byte, s string) []byte {
	if s == "" {
		return append(b, "unknown"...)
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || strings.IndexByte(".-:[]_", ch) >= 0) {
			ch = '_'
		}
		b = append(b, ch)
	}
	return b
}

// loopReader counts Received: fields in the message header (RFC 5321
// §6.3) and fails the read once there are more than max.
type loopReader struct {
	r         io.Reader
	n         int64 // bytes read: the message size for Hooks
	max       int
	count     int
	inHeader  bool
	lineStart bool
	match     int // position in "received:" matched on this line; -1 none
	err       error
}

var errLoopDetected = errors.New("smtpserver: too many Received fields")

const receivedPrefix = "received:"

func (l *loopReader) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if !l.inHeader || l.max <= 0 {
		return n, err
	}
	for _, ch := range p[:n] {
		if l.lineStart {
			if ch == '\r' || ch == '\n' {
				l.inHeader = false // empty line: end of header
				break
			}
			l.lineStart = false
			l.match = 0
		}
		if ch == '\n' {
			l.lineStart = true
			continue
		}
		if l.match >= 0 {
			if ch|0x20 == receivedPrefix[l.match] || ch == receivedPrefix[l.match] {
				l.match++
				if l.match == len(receivedPrefix) {
					l.match = -1
					l.count++
					if l.count > l.max {
						l.err = errLoopDetected
						return n, l.err
					}
				}
			} else {
				l.match = -1
			}
		}
	}
	return n, err
}

// prefixReader returns prefix, then what r returns.
type prefixReader struct {
	prefix []byte
	off    int
	r      io.Reader
}

func (p *prefixReader) Read(b []byte) (int, error) {
	if p.off < len(p.prefix) {
		n := copy(b, p.prefix[p.off:])
		p.off += n
		return n, nil
	}
	return p.r.Read(b)
}
