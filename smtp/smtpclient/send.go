package smtpclient

import (
	"context"
	"errors"
	"io"
	"strconv"

	"github.com/posthorn/posthorn/internal/lineio"
	"github.com/posthorn/posthorn/smtp"
)

// Envelope is the sender, recipients and parameters of one message.
type Envelope struct {
	// From is the reverse-path; "" is the null path "<>".
	From string
	// To lists the recipients.
	To []string
	// MailOptions carries the DSN (Return, EnvelopeID), RequireTLS and
	// Auth parameters. Size, Body and SMTPUTF8 are set by Send from the
	// message and the server's extensions. DSN parameters are dropped when
	// the server does not offer DSN, Auth when it does not offer AUTH.
	MailOptions smtp.MailOptions
	// RcptOptions, when not nil, holds the DSN parameters of each
	// recipient, parallel to To.
	RcptOptions []smtp.RcptOptions
}

// Local failures of Send, reported per recipient and as the error. They
// are permanent: the message cannot go to this server as it is.
var (
	// ErrNeeds8BitMIME: the message has 8-bit data and the server lacks
	// 8BITMIME (RFC 6152 §3). Encode it as quoted-printable or base64.
	ErrNeeds8BitMIME = errors.New("smtpclient: message has 8-bit data and the server does not offer 8BITMIME")
	// ErrNeedsSMTPUTF8: the envelope or header has UTF-8 and the server
	// lacks SMTPUTF8 (RFC 6531 §3.2).
	ErrNeedsSMTPUTF8 = errors.New("smtpclient: message needs SMTPUTF8, which the server does not offer")
	// ErrTooLarge: the message exceeds the server's SIZE (RFC 1870).
	ErrTooLarge = errors.New("smtpclient: message exceeds the server's SIZE limit")
	// ErrRequireTLS: REQUIRETLS was asked for but the connection is not
	// verified TLS or the server does not offer REQUIRETLS (RFC 8689 §4.2.1).
	ErrRequireTLS = errors.New("smtpclient: REQUIRETLS cannot be honoured on this connection")
)

// inlineBDAT is the largest message sent as one pipelined BDAT chunk
// together with MAIL and RCPT.
const inlineBDAT = 256 * 1024

// bdatChunk is the chunk size for larger messages.
const bdatChunk = 1 << 20

// Send sends one message: MAIL, RCPTs and DATA (or BDAT) pipelined when
// the server offers PIPELINING (RFC 2920), BDAT when it offers CHUNKING
// (RFC 3030), BODY and SMTPUTF8 chosen from the message. msg is read with
// ReadAt, so the same message can be sent again elsewhere.
//
// The result has one entry per recipient. The error is nil when the
// message was accepted for at least one recipient; otherwise it says why
// (an *smtp.Error, RecipientErrors, one of the Err values above, or an I/O
// error, after which the Client is unusable). Several messages may be
// sent on one Client, one after the other.
func (c *Client) Send(ctx context.Context, env *Envelope, msg io.ReaderAt, size int64) ([]RecipientResult, error) {
	if c.broken != nil {
		return nil, ErrClosed
	}
	if len(env.To) == 0 {
		return nil, errors.New("smtpclient: no recipients")
	}
	if env.RcptOptions != nil && len(env.RcptOptions) != len(env.To) {
		return nil, errors.New("smtpclient: RcptOptions must be parallel to To")
	}
	if err := c.ensureHello(ctx); err != nil {
		return nil, err
	}
	fail := func(err error) ([]RecipientResult, error) {
		rs := make([]RecipientResult, len(env.To))
		for i, to := range env.To {
			rs[i] = RecipientResult{Recipient: to, Err: err}
		}
		return rs, err
	}
	info, err := scanMessage(msg, size)
	if err != nil {
		return nil, err
	}
	mo := env.MailOptions
	_, chunking := c.ext["CHUNKING"]
	_, binarymime := c.ext["BINARYMIME"]
	_, eightbit := c.ext["8BITMIME"]
	useBdat := chunking
	mo.Body = ""
	switch {
	case info.binary && chunking && binarymime:
		mo.Body = smtp.BodyBinaryMIME
	case info.binary:
		// Without BINARYMIME the body goes through DATA, where bare CR
		// and LF become CRLF: never sent bare (RFC 5321 §2.3.8).
		useBdat = false
	}
	if info.eightBit && mo.Body == "" {
		if !eightbit {
			return fail(ErrNeeds8BitMIME)
		}
		mo.Body = smtp.Body8BitMIME
	}
	needUTF8 := mo.SMTPUTF8 || info.utf8Header || !isASCII(env.From)
	for _, to := range env.To {
		needUTF8 = needUTF8 || !isASCII(to)
	}
	mo.SMTPUTF8 = false
	if needUTF8 {
		if _, ok := c.ext["SMTPUTF8"]; !ok {
			return fail(ErrNeedsSMTPUTF8)
		}
		mo.SMTPUTF8 = true
	}
	mo.Size = 0
	if _, ok := c.ext["SIZE"]; ok {
		if max := c.MaxMessageSize(); max > 0 && size > max {
			return fail(ErrTooLarge)
		}
		mo.Size = size
	}
	if mo.RequireTLS {
		_, offered := c.ext["REQUIRETLS"]
		st, isTLS := c.TLSConnectionState()
		if !offered || !isTLS || len(st.VerifiedChains) == 0 {
			return fail(ErrRequireTLS)
		}
	}
	_, dsn := c.ext["DSN"]
	if !dsn {
		mo.Return, mo.EnvelopeID = "", ""
	}
	if _, ok := c.ext["AUTH"]; !ok {
		mo.Auth = ""
	}
	mailLine, err := c.mailLine(env.From, &mo)
	if err != nil {
		return fail(err)
	}
	rcptLines := make([]string, len(env.To))
	for i, to := range env.To {
		var ro *smtp.RcptOptions
		if env.RcptOptions != nil && dsn {
			ro = &env.RcptOptions[i]
		}
		if rcptLines[i], err = c.rcptLine(to, ro); err != nil {
			return fail(err)
		}
	}
	if c.needReset {
		if err := c.Reset(ctx); err != nil {
			return fail(err)
		}
		c.needReset = false
	}
	_, pipelining := c.ext["PIPELINING"]
	t := &txn{c: c, ctx: ctx, env: env, msg: msg, size: size, useBdat: useBdat, mailLine: mailLine, rcptLines: rcptLines}
	if pipelining {
		return t.runPipelined()
	}
	return t.runLockstep()
}

// txn is one Send in progress.
type txn struct {
	c         *Client
	ctx       context.Context
	env       *Envelope
	msg       io.ReaderAt
	size      int64
	useBdat   bool
	mailLine  string
	rcptLines []string
	results   []RecipientResult
}

func (t *txn) init() {
	t.results = make([]RecipientResult, len(t.env.To))
	for i, to := range t.env.To {
		t.results[i].Recipient = to
	}
	t.c.accepted = t.c.accepted[:0]
}

// finish fills the results of accepted recipients from the final replies
// and returns the overall error.
func (t *txn) finish(final []RecipientResult, rcptOK []int) ([]RecipientResult, error) {
	c := t.c
	if c.opts.LMTP {
		for j, i := range rcptOK {
			if j < len(final) {
				t.results[i].Err = final[j].Err
			}
		}
	} else {
		for _, i := range rcptOK {
			t.results[i].Err = final[0].Err
		}
	}
	return t.overall()
}

func (t *txn) overall() ([]RecipientResult, error) {
	for _, r := range t.results {
		if r.Err == nil {
			return t.results, nil
		}
	}
	if len(t.results) == 1 {
		return t.results, t.results[0].Err
	}
	first := t.results[0].Err
	same := true
	for _, r := range t.results[1:] {
		same = same && r.Err == first
	}
	if same {
		return t.results, first
	}
	return t.results, RecipientErrors(t.results)
}

// runPipelined sends MAIL, all RCPTs and DATA in one write (RFC 2920
// §3.1), or with BDAT the whole small message too.
func (t *txn) runPipelined() (res []RecipientResult, err error) {
	c, ctx := t.c, t.ctx
	t.init()
	stop := c.watch(ctx)
	defer func() {
		if err != nil {
			var se *smtp.Error
			var re RecipientErrors
			if !errors.As(err, &se) && !errors.As(err, &re) && !isLocal(err) {
				err = c.done(ctx, stop, err)
				return
			}
		}
		stop()
	}()
	_ = c.writeLine(t.mailLine)
	for _, l := range t.rcptLines {
		_ = c.writeLine(l)
	}
	inline := t.useBdat && t.size <= inlineBDAT
	switch {
	case inline:
		_ = c.writeLine("BDAT " + strconv.FormatInt(t.size, 10) + " LAST")
		if err := t.copyRaw(0, t.size); err != nil {
			return nil, err
		}
	case !t.useBdat:
		_ = c.writeLine("DATA")
	}
	if err := c.flush(ctx, c.to.Mail); err != nil {
		return nil, err
	}
	r, err := c.readReply(ctx, c.to.Mail)
	if err != nil {
		return nil, err
	}
	mailErr := r.Err()
	if mailErr == nil {
		c.needReset = true
	}
	var rcptOK []int
	for i := range t.rcptLines {
		r, err := c.readReply(ctx, c.to.Rcpt)
		if err != nil {
			return nil, err
		}
		switch {
		case mailErr != nil:
			t.results[i].Err = mailErr
		case r.Err() != nil:
			t.results[i].Err = r.Err()
		default:
			rcptOK = append(rcptOK, i)
			c.accepted = append(c.accepted, t.env.To[i])
		}
	}
	ready := mailErr == nil && len(rcptOK) > 0
	switch {
	case inline:
		if !ready {
			// The BDAT was refused as a whole with one reply.
			if _, err := c.readReply(ctx, c.to.DataTerm); err != nil {
				return nil, err
			}
			return t.overall()
		}
		final, err := c.readFinal(ctx)
		if err != nil {
			return nil, err
		}
		c.needReset = false
		return t.finish(final, rcptOK)
	case !t.useBdat:
		r, err := c.readReply(ctx, c.to.DataInit)
		if err != nil {
			return nil, err
		}
		if r.Code != 354 {
			if ready {
				for _, i := range rcptOK {
					t.results[i].Err = r.Err()
				}
			}
			return t.overall()
		}
		if !ready {
			// RFC 2920 §3.1: DATA was accepted although no recipient was;
			// send an empty message so the server ends the command.
			_ = c.writeLine(".")
			if err := c.flush(ctx, c.to.DataBlock); err != nil {
				return nil, err
			}
			if _, err := c.readReply(ctx, c.to.DataTerm); err != nil {
				return nil, err
			}
			return t.overall()
		}
		if err := t.writeDotBody(); err != nil {
			return nil, err
		}
		final, err := c.readFinal(ctx)
		if err != nil {
			return nil, err
		}
		c.needReset = false
		return t.finish(final, rcptOK)
	default:
		if !ready {
			return t.overall()
		}
		final, err := t.sendChunks()
		if err != nil {
			return nil, err
		}
		c.needReset = false
		return t.finish(final, rcptOK)
	}
}

// runLockstep sends one command at a time for servers without PIPELINING.
func (t *txn) runLockstep() ([]RecipientResult, error) {
	c, ctx := t.c, t.ctx
	t.init()
	if _, err := c.cmd(ctx, c.to.Mail, t.mailLine); err != nil {
		for i := range t.results {
			t.results[i].Err = err
		}
		return t.overall()
	}
	c.needReset = true
	var rcptOK []int
	for i, l := range t.rcptLines {
		if _, err := c.cmd(ctx, c.to.Rcpt, l); err != nil {
			t.results[i].Err = err
			if c.broken != nil {
				return nil, err
			}
			continue
		}
		rcptOK = append(rcptOK, i)
		c.accepted = append(c.accepted, t.env.To[i])
	}
	if len(rcptOK) == 0 {
		return t.overall()
	}
	var final []RecipientResult
	stop := c.watch(ctx)
	var err error
	if t.useBdat {
		final, err = t.sendChunks()
	} else {
		var r *smtp.Reply
		_ = c.writeLine("DATA")
		if err = c.flush(ctx, c.to.DataInit); err == nil {
			r, err = c.readReply(ctx, c.to.DataInit)
		}
		if err == nil && r.Code != 354 {
			stop()
			for _, i := range rcptOK {
				t.results[i].Err = r.Err()
			}
			return t.overall()
		}
		if err == nil {
			err = t.writeDotBody()
		}
		if err == nil {
			final, err = c.readFinal(ctx)
		}
	}
	if err = c.done(ctx, stop, err); err != nil {
		return nil, err
	}
	c.needReset = false
	return t.finish(final, rcptOK)
}

// copyRaw copies msg[off:off+n] into the write buffer.
func (t *txn) copyRaw(off, n int64) error {
	_, err := io.Copy(&blockWriter{c: t.c, ctx: t.ctx}, io.NewSectionReader(t.msg, off, n))
	return err
}

// writeDotBody sends the message dot-stuffed, then the end of data.
func (t *txn) writeDotBody() error {
	dw := lineio.NewDotWriter(&blockWriter{c: t.c, ctx: t.ctx})
	if _, err := io.Copy(dw, io.NewSectionReader(t.msg, 0, t.size)); err != nil {
		return err
	}
	if err := dw.Close(); err != nil {
		return err
	}
	return t.c.flush(t.ctx, t.c.to.DataBlock)
}

// sendChunks sends the message in BDAT chunks, pipelined, and reads the
// replies: one per chunk, the last being the verdict.
func (t *txn) sendChunks() ([]RecipientResult, error) {
	c := t.c
	var n int
	for off := int64(0); ; {
		size := min(int64(bdatChunk), t.size-off)
		last := off+size == t.size
		hdr := "BDAT " + strconv.FormatInt(size, 10)
		if last {
			hdr += " LAST"
		}
		_ = c.writeLine(hdr)
		if err := t.copyRaw(off, size); err != nil {
			return nil, err
		}
		n++
		off += size
		if last {
			break
		}
	}
	if err := c.flush(t.ctx, c.to.DataBlock); err != nil {
		return nil, err
	}
	var chunkErr error
	for i := 0; i < n-1; i++ {
		r, err := c.readReply(t.ctx, c.to.DataBlock)
		if err != nil {
			return nil, err
		}
		if chunkErr == nil {
			chunkErr = r.Err()
		}
	}
	if chunkErr != nil {
		// The server refused a chunk: it answers the rest, the last one
		// included, with a single error each.
		if _, err := c.readReply(t.ctx, c.to.DataTerm); err != nil {
			return nil, err
		}
		out := make([]RecipientResult, max(len(c.accepted), 1))
		for i := range out {
			out[i].Err = chunkErr
		}
		c.accepted = c.accepted[:0]
		return out, nil
	}
	return c.readFinal(t.ctx)
}

func isLocal(err error) bool {
	return errors.Is(err, ErrNeeds8BitMIME) || errors.Is(err, ErrNeedsSMTPUTF8) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrRequireTLS)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// msgInfo is what Send needs to know about a message.
type msgInfo struct {
	eightBit   bool // an octet ≥ 0x80 (needs 8BITMIME)
	binary     bool // NUL, bare CR or LF, or a line over 998 octets (needs BINARYMIME)
	utf8Header bool // non-ASCII in the header (an RFC 6532 message needs SMTPUTF8)
}

// scanMessage reads msg once to classify it.
func scanMessage(msg io.ReaderAt, size int64) (msgInfo, error) {
	var info msgInfo
	var buf [32 * 1024]byte
	inHeader, lineStart, prevCR := true, true, false
	lineLen := 0
	for off := int64(0); off < size; {
		n := int(min(int64(len(buf)), size-off))
		m, err := msg.ReadAt(buf[:n], off)
		if m < n {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return info, err
		}
		off += int64(n)
		for _, b := range buf[:n] {
			if prevCR && b != '\n' {
				info.binary = true
			}
			switch {
			case b == '\n':
				if !prevCR {
					info.binary = true
				}
				if lineStart && inHeader {
					inHeader = false
				}
				lineStart, lineLen = true, 0
				prevCR = false
				continue
			case b == '\r':
				prevCR = true
				continue
			case b == 0:
				info.binary = true
			case b >= 0x80:
				info.eightBit = true
				if inHeader {
					info.utf8Header = true
				}
			}
			prevCR = false
			lineStart = false
			lineLen++
			if lineLen > 998 {
				info.binary = true
			}
		}
	}
	if prevCR {
		info.binary = true
	}
	return info, nil
}
