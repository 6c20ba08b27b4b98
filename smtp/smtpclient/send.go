package smtpclient

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"slices"
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
	// ErrNeeds8BitMIME: the message has 8-bit data, the server lacks
	// 8BITMIME, and the message cannot be converted to 7bit (8-bit octets
	// in a header or outside a MIME part; RFC 6152 §3).
	ErrNeeds8BitMIME = errors.New("smtpclient: message has 8-bit data that cannot be converted, and the server does not offer 8BITMIME")
	// ErrNeedsSMTPUTF8: the envelope or header has UTF-8 and the server
	// lacks SMTPUTF8 (RFC 6531 §3.2).
	ErrNeedsSMTPUTF8 = errors.New("smtpclient: message needs SMTPUTF8, which the server does not offer")
	// ErrTooLarge: the message exceeds the server's SIZE (RFC 1870).
	ErrTooLarge = errors.New("smtpclient: message exceeds the server's SIZE limit")
	// ErrRequireTLS: REQUIRETLS was asked for but the connection is not
	// verified TLS or the server does not offer REQUIRETLS (RFC 8689 §4.2.1).
	// Verified means crypto/tls verified the chain, or StartTLS's
	// configuration skipped that for a VerifyConnection of its own (DANE,
	// as smtpqueue does it) which passed.
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
// The result has one entry per recipient. The error is nil only when the
// message was accepted for every recipient. Otherwise it is one of:
//
//   - *PartialError (errors.Is(err, ErrPartial)): accepted for some
//     recipients, refused for the others, which it lists with their
//     replies. The message went out; do not send it again to the others.
//   - *smtp.Error: the server refused the transaction as a whole (MAIL,
//     DATA, or in SMTP the reply after the message).
//   - RecipientErrors: every recipient was refused at RCPT (or, in LMTP,
//     after the message), each with its own reply, even when there is
//     only one recipient.
//   - *smtp.AddressError: an address in env is malformed (nothing sent).
//   - ErrNeeds8BitMIME, ErrNeedsSMTPUTF8, ErrTooLarge, ErrRequireTLS, or
//     an error about env itself: nothing was sent.
//   - ErrClosed, a net.Error or a context error: the connection failed and
//     the Client is unusable.
//
// errors.As finds the server's *smtp.Error through each of these that
// carries one. Several messages may be sent on one Client, one after the
// other.
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
	fail := func(err error) ([]RecipientResult, error) { return failAll(env.To, err) }
	info, err := scanMessage(msg, size, c.scratchBuf(size))
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
			// RFC 6152 §3: convert to 7bit, or fail when that is impossible.
			if info.utf8Header || info.binary {
				return fail(ErrNeeds8BitMIME)
			}
			b, err := downgrade8bit(msg, size)
			if err != nil {
				return fail(ErrNeeds8BitMIME)
			}
			msg, size = bytes.NewReader(b), int64(len(b))
			if info, err = scanMessage(msg, size, c.scratchBuf(size)); err != nil || info.eightBit {
				return fail(ErrNeeds8BitMIME)
			}
		} else {
			mo.Body = smtp.Body8BitMIME
		}
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
		// RFC 8689 §4.2.1: a certificate verified by PKIX or by DANE
		// (a VerifyConnection in place of crypto/tls's check).
		if !offered || !isTLS || (len(st.VerifiedChains) == 0 && !c.authByCallback) {
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
	g, err := appendMail(c.group[:0], env.From, &mo)
	if err != nil {
		return fail(err)
	}
	ends := append(c.ends[:0], len(g))
	for i, to := range env.To {
		var ro *smtp.RcptOptions
		if env.RcptOptions != nil && dsn {
			ro = &env.RcptOptions[i]
		}
		if g, err = appendRcpt(g, to, ro); err != nil {
			return fail(err)
		}
		ends = append(ends, len(g))
	}
	c.group, c.ends = g, ends
	if c.needReset {
		if err := c.Reset(ctx); err != nil {
			return fail(err)
		}
		c.needReset = false
	}
	_, pipelining := c.ext["PIPELINING"]
	t := txn{c: c, ctx: ctx, env: env, msg: msg, size: size, useBdat: useBdat, group: g, ends: ends}
	if pipelining {
		return t.runPipelined()
	}
	return t.runLockstep()
}

// txn is one Send in progress.
type txn struct {
	// txErr is the server's refusal of the transaction as a whole (MAIL,
	// DATA, the SMTP verdict), which overall returns as it is.
	txErr   error
	c       *Client
	ctx     context.Context
	env     *Envelope
	msg     io.ReaderAt
	size    int64
	useBdat bool
	group   []byte // MAIL line then RCPT lines, CRLF-terminated
	ends    []int  // end of each line in group
	results []RecipientResult
}

// line returns line i of the group (0 = MAIL).
func (t *txn) line(i int) []byte {
	start := 0
	if i > 0 {
		start = t.ends[i-1]
	}
	return t.group[start:t.ends[i]]
}

func failAll(to []string, err error) ([]RecipientResult, error) {
	rs := make([]RecipientResult, len(to))
	for i, r := range to {
		rs[i] = RecipientResult{Recipient: r, Err: err}
	}
	return rs, err
}

func (t *txn) init() {
	t.results = make([]RecipientResult, len(t.env.To))
	for i, to := range t.env.To {
		t.results[i].Recipient = to
	}
	t.c.accepted = t.c.accepted[:0]
	t.c.mailReplied, t.c.endSent = false, false
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
		t.txErr = final[0].Err
	}
	return t.overall()
}

func (t *txn) overall() ([]RecipientResult, error) {
	if !slices.ContainsFunc(t.results, func(r RecipientResult) bool { return r.Err != nil }) {
		return t.results, nil
	}
	var accepted []string
	var refused RecipientErrors
	for _, r := range t.results {
		if r.Err == nil {
			accepted = append(accepted, r.Recipient)
		} else {
			refused = append(refused, r)
		}
	}
	switch {
	case len(refused) == 0:
		return t.results, nil
	case len(accepted) > 0:
		return t.results, &PartialError{Accepted: accepted, Refused: refused}
	case t.txErr != nil:
		return t.results, t.txErr
	}
	return t.results, refused
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
	_, _ = c.bw.Write(t.group)
	inline := t.useBdat && t.size <= inlineBDAT
	switch {
	case inline:
		_ = c.writeLine("BDAT " + strconv.FormatInt(t.size, 10) + " LAST")
		c.endSent = true
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
	c.mailReplied = true
	mailErr := r.Err()
	if mailErr == nil {
		c.needReset = true
		c.transactions++
	}
	t.txErr = mailErr
	if r.Code == 421 {
		// RFC 5321 §3.8: the server refused the transaction and closes
		// the channel (RFC 9422 §4.2, past LIMITS MAILMAX, say); the
		// replies to the commands pipelined behind MAIL never come.
		c.broken = mailErr
		_ = c.conn.Close()
		for i := range t.results {
			t.results[i].Err = mailErr
		}
		return t.overall()
	}
	var rcptOK []int
	for i := range t.env.To {
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
				t.txErr = r.Err()
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
	if _, err := c.cmdLine(ctx, c.to.Mail, t.line(0)); err != nil {
		if c.broken != nil {
			return nil, err
		}
		c.mailReplied = true
		for i := range t.results {
			t.results[i].Err = err
		}
		t.txErr = err
		return t.overall()
	}
	c.mailReplied = true
	c.needReset = true
	c.transactions++
	var rcptOK []int
	for i := range t.env.To {
		if _, err := c.cmdLine(ctx, c.to.Rcpt, t.line(i+1)); err != nil {
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
			t.txErr = r.Err()
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

// copyRaw sends msg[off:off+n] as it is (BDAT). Small pieces go through
// the write buffer; large ones are written to the socket in big writes.
func (t *txn) copyRaw(off, n int64) error {
	c := t.c
	buf := c.scratchBuf(n)
	direct := n > int64(c.bw.Available())
	if direct {
		if err := c.flush(t.ctx, c.to.DataBlock); err != nil {
			return err
		}
	}
	for end := off + n; off < end; {
		k := int(min(int64(len(buf)), end-off))
		m, err := t.msg.ReadAt(buf[:k], off)
		if m < k {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		off += int64(k)
		if direct {
			_ = c.conn.SetWriteDeadline(c.deadline(t.ctx, c.to.DataBlock))
			_, err = c.out.Write(buf[:k])
		} else {
			_, err = c.bw.Write(buf[:k])
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// writeDotBody sends the message dot-stuffed, then the end of data. The
// writers are the Client's, reused from message to message.
func (t *txn) writeDotBody() error {
	c := t.c
	if c.dw == nil {
		c.bw2 = &blockWriter{c: c}
		c.dw = lineio.NewDotWriter(c.bw2)
	} else {
		c.dw.Reset(c.bw2)
	}
	c.bw2.ctx = t.ctx
	dw := c.dw
	buf := c.scratchBuf(t.size)
	for off := int64(0); off < t.size; {
		n, err := t.msg.ReadAt(buf[:min(int64(len(buf)), t.size-off)], off)
		if n > 0 {
			if _, werr := dw.Write(buf[:n]); werr != nil {
				return werr
			}
			off += int64(n)
		}
		if err != nil && (err != io.EOF || off < t.size) {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	t.c.endSent = true
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
			c.endSent = true
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

// scratchBuf returns the client's reusable buffer for a message of size
// octets: at least 4 KiB, at most 256 KiB.
func (c *Client) scratchBuf(size int64) []byte {
	want := int(min(max(size, 4096), 256*1024))
	if len(c.scratch) < want {
		c.scratch = make([]byte, want)
	}
	return c.scratch
}

// scanMessage reads msg once to classify it, using buf.
func scanMessage(msg io.ReaderAt, size int64, buf []byte) (msgInfo, error) {
	sc := msgScanner{inHeader: true}
	for off := int64(0); off < size; {
		n := int(min(int64(len(buf)), size-off))
		m, err := msg.ReadAt(buf[:n], off)
		if m < n {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return sc.info, err
		}
		off += int64(n)
		sc.feed(buf[:n])
		if sc.info.binary && sc.info.eightBit && !sc.inHeader {
			return sc.info, nil // nothing more to learn
		}
	}
	if sc.prevCR {
		sc.info.binary = true // ends in a bare CR
	}
	return sc.info, nil
}

// msgScanner classifies a message fed in pieces, a line at a time with
// bytes.IndexByte and a word-wise 8-bit test, never byte by byte.
type msgScanner struct {
	info     msgInfo
	inHeader bool
	prevCR   bool // the last byte fed was CR
	lineLen  int  // octets of the current line so far, CR included
}

func (s *msgScanner) feed(p []byte) {
	for len(p) > 0 {
		if !s.inHeader {
			s.feedBody(p)
			return
		}
		i := bytes.IndexByte(p, '\n')
		seg := p
		if i >= 0 {
			seg = p[:i]
		}
		if len(seg) > 0 {
			if s.prevCR {
				s.info.binary = true // CR not followed by LF
			}
			body := seg
			if seg[len(seg)-1] == '\r' {
				body = seg[:len(seg)-1]
			}
			if !s.info.binary && (bytes.IndexByte(body, '\r') >= 0 || bytes.IndexByte(seg, 0) >= 0) {
				s.info.binary = true
			}
			if (!s.info.eightBit || s.inHeader && !s.info.utf8Header) && hasHighBit(seg) {
				s.info.eightBit = true
				if s.inHeader {
					s.info.utf8Header = true
				}
			}
			s.lineLen += len(seg)
			s.prevCR = seg[len(seg)-1] == '\r'
		}
		if i < 0 {
			return
		}
		// Line end.
		if !s.prevCR {
			s.info.binary = true // bare LF
		}
		content := s.lineLen
		if s.prevCR {
			content--
		}
		if content > 998 {
			s.info.binary = true // RFC 5322 §2.1.1
		}
		if content == 0 && s.inHeader {
			s.inHeader = false
		}
		s.lineLen, s.prevCR = 0, false
		p = p[i+1:]
	}
}

// feedBody classifies a piece of the body. The body is most of a
// message, so instead of three searches and an 8-bit test per line it
// tests the whole piece for 8-bit octets and NUL, looks for the LFs only
// (one search per line, checking the CR before each and the line's
// length), and counts the CRs once: any CR that no LF follows is bare.
func (s *msgScanner) feedBody(p []byte) {
	if !s.info.eightBit && hasHighBit(p) {
		s.info.eightBit = true
	}
	if s.info.binary || len(p) == 0 {
		return
	}
	if s.prevCR && p[0] != '\n' || bytes.IndexByte(p, 0) >= 0 {
		s.info.binary = true
		return
	}
	crs := 0 // CRs of p that an LF follows
	for pos := 0; ; {
		j := bytes.IndexByte(p[pos:], '\n')
		if j < 0 {
			s.lineLen += len(p) - pos
			break
		}
		k := pos + j
		switch {
		case k > 0 && p[k-1] == '\r':
			crs++
		case k == 0 && s.prevCR:
		default:
			s.info.binary = true // bare LF
			return
		}
		// The line's octets before its CRLF (RFC 5322 §2.1.1: 998 at most).
		if s.lineLen+k-pos-1 > 998 {
			s.info.binary = true
			return
		}
		s.lineLen, s.prevCR = 0, false
		pos = k + 1
	}
	s.prevCR = p[len(p)-1] == '\r'
	if s.prevCR {
		crs++ // its LF may come with the next piece
	}
	if bytes.Count(p, crOctet) != crs {
		s.info.binary = true // a CR not followed by LF
	}
}

var crOctet = []byte{'\r'}

// hasHighBit reports whether any octet of p is 0x80 or above.
func hasHighBit(p []byte) bool {
	for len(p) >= 32 {
		a := binary.LittleEndian.Uint64(p)
		b := binary.LittleEndian.Uint64(p[8:])
		c := binary.LittleEndian.Uint64(p[16:])
		d := binary.LittleEndian.Uint64(p[24:])
		if (a|b|c|d)&0x8080808080808080 != 0 {
			return true
		}
		p = p[32:]
	}
	for len(p) >= 8 {
		if binary.LittleEndian.Uint64(p)&0x8080808080808080 != 0 {
			return true
		}
		p = p[8:]
	}
	for _, b := range p {
		if b >= 0x80 {
			return true
		}
	}
	return false
}
