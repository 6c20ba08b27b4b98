package smtpserver

import (
	"bufio"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/posthorn/posthorn/internal/lineio"
	"github.com/posthorn/posthorn/smtp"
)

// bdatState is a message being received in BDAT chunks (RFC 3030). The
// backend reads the chunks as one stream from a pipe on its own goroutine.
type bdatState struct {
	pw   *io.PipeWriter
	done chan bdatResult
	size int64
	loop *loopReader
	eol  *lineio.EOLReader // nil for BINARYMIME
}

type bdatResult struct {
	errs     []error
	panicked any
}

var errBdatAborted = errors.New("smtpserver: transaction aborted")

func (b *bdatState) abort() {
	_ = b.pw.CloseWithError(errBdatAborted)
	<-b.done
}

// cmdBdat handles BDAT <size> [LAST] (RFC 3030 §2). The chunk is always
// consumed, whatever the reply, so a pipelining client stays in step.
func (c *conn) cmdBdat(arg string) {
	sizeStr, last, ok := parseBdatArg(arg)
	size, err := strconv.ParseInt(sizeStr, 10, 64)
	if !ok || err != nil || size < 0 {
		// Without a size the chunk cannot be skipped: close (RFC 3030 §2
		// leaves no way to resynchronise).
		c.reply(501, smtp.CodeBadSyntax, "Syntax: BDAT size [LAST]; closing connection")
		c.quit = true
		return
	}
	c.startDataTimeouts()
	defer c.endDataTimeouts()
	if c.srv.disabled("CHUNKING") {
		if c.discard(size) {
			c.reply(502, smtp.EnhancedCode{5, 5, 1}, "BDAT not available")
			c.errors++
		}
		return
	}

	if e := c.checkReadyForData(); e != nil {
		if !c.discard(size) {
			return
		}
		c.replyErr(e, e)
		return
	}
	if c.bdat == nil && last {
		// The whole message in one chunk (what smtpclient sends for small
		// messages): hand it to the backend directly, no pipe.
		c.bdatSingle(size)
		return
	}
	if c.bdat == nil {
		c.startBdat()
	}
	b := c.bdat
	b.size += size
	if c.lim.MaxMessageSize > 0 && b.size > c.lim.MaxMessageSize {
		if !c.discard(size) {
			return
		}
		c.failBdat(errTooBig)
		return
	}
	n, err := c.copyChunk(b.pw, size)
	if err != nil {
		if !errors.Is(err, io.ErrClosedPipe) {
			// The connection failed mid-chunk.
			c.dataTimeoutReply(err)
			c.quit = true
			c.resetTx()
			return
		}
		if !c.discard(size - n) {
			return
		}
		// The backend stopped reading early: its result is the reply.
		_ = b.pw.Close()
		res := <-b.done
		c.bdat = nil
		if res.panicked != nil {
			panic(res.panicked)
		}
		c.finishBdat(res.errs, b.loop.n)
		return
	}
	if !last {
		c.reply(250, smtp.CodeOK, strconv.FormatInt(size, 10)+" octets received")
		return
	}
	_ = b.pw.Close()
	res := <-b.done
	c.bdat = nil
	if res.panicked != nil {
		panic(res.panicked)
	}
	switch {
	case b.eol != nil && b.eol.Err() != nil:
		res.errs = c.uniform(errBareEOL)
	case b.loop.count > b.loop.max && b.loop.max > 0:
		res.errs = c.uniform(errLoop)
	}
	c.finishBdat(res.errs, b.loop.n)
}

// eolPolicy returns the bare CR/LF policy for the message body, and
// whether one applies: the same for BDAT as for DATA (RFC 5321 §2.3.8),
// except for BODY=BINARYMIME, whose content is any octets (RFC 3030 §3).
func (c *conn) eolPolicy() (lineio.BareEOLPolicy, bool) {
	if c.mailOpts.Body == smtp.BodyBinaryMIME {
		return 0, false
	}
	if c.srv.BareEOL == NormalizeBareEOL {
		return lineio.NormalizeBareEOL, true
	}
	return lineio.RejectBareEOL, true
}

func parseBdatArg(arg string) (size string, last bool, ok bool) {
	size, rest, _ := strings.Cut(arg, " ")
	if size == "" || len(size) > 18 {
		return "", false, false
	}
	for i := 0; i < len(size); i++ {
		if size[i] < '0' || size[i] > '9' {
			return "", false, false
		}
	}
	switch {
	case rest == "":
	case strings.EqualFold(rest, "LAST"):
		last = true
	default:
		return "", false, false
	}
	return size, last, true
}

// discard reads and drops n octets of chunk data; false when the
// connection failed.
func (c *conn) discard(n int64) bool {
	if _, err := c.br.Discard(int(min(n, 1<<62))); err != nil {
		c.dataTimeoutReply(err)
		c.quit = true
		c.resetTx()
		return false
	}
	return true
}

func (c *conn) startBdat() {
	pr, pw := io.Pipe()
	b := &bdatState{pw: pw, done: make(chan bdatResult, 1)}
	var body io.Reader = pr
	if policy, ok := c.eolPolicy(); ok {
		b.eol = lineio.NewEOLReader(pr, policy)
		body = b.eol
	}
	lr := &loopReader{r: body, max: c.lim.MaxReceived, lineStart: true, inHeader: true}
	b.loop = lr
	c.bdat = b
	go func() {
		var res bdatResult
		defer func() {
			if r := recover(); r != nil {
				res.panicked = r
			}
			_ = pr.CloseWithError(io.ErrClosedPipe)
			b.done <- res
		}()
		res.errs = c.deliver(lr)
	}()
}

// failBdat ends a BDAT transaction with err for every recipient.
func (c *conn) failBdat(err *smtp.Error) {
	b := c.bdat
	_ = b.pw.CloseWithError(errBdatAborted)
	res := <-b.done
	c.bdat = nil
	if res.panicked != nil {
		panic(res.panicked)
	}
	c.finishBdat(c.uniform(err), b.loop.n)
}

func (c *conn) finishBdat(results []error, size int64) {
	c.finishMessage(results, size)
}

// copyChunk copies n octets of chunk data from the connection to w
// straight out of the bufio.Reader's buffer, without a copy buffer.
func (c *conn) copyChunk(w io.Writer, n int64) (int64, error) {
	var done int64
	for done < n {
		if c.br.Buffered() == 0 {
			if _, err := c.br.Peek(1); err != nil {
				return done, err
			}
		}
		k := int(min(n-done, int64(c.br.Buffered())))
		buf, _ := c.br.Peek(k)
		m, err := w.Write(buf)
		_, _ = c.br.Discard(m)
		done += int64(m)
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// bdatSingle delivers a message sent as one BDAT LAST chunk, reading it
// straight from the connection.
func (c *conn) bdatSingle(size int64) {
	if c.lim.MaxMessageSize > 0 && size > c.lim.MaxMessageSize {
		if c.discard(size) {
			c.finishMessage(c.uniform(errTooBig), size)
		}
		return
	}
	c.chunk = chunkReader{br: c.br, left: size}
	var body io.Reader = &c.chunk
	policy, checkEOL := c.eolPolicy()
	if checkEOL {
		c.eol.Reset(&c.chunk, policy)
		body = &c.eol
	}
	c.loop = loopReader{r: body, max: c.lim.MaxReceived, lineStart: true, inHeader: true}
	results := c.deliver(&c.loop)
	if checkEOL && !c.eol.Done() && c.chunk.err == nil {
		// The backend stopped early: check the rest, as DATA does.
		_, _ = io.Copy(io.Discard, &c.eol)
	}
	if c.chunk.err != nil || !c.discard(c.chunk.left) {
		c.dataTimeoutReply(c.chunk.err)
		c.quit = true
		c.resetTx()
		return
	}
	switch {
	case checkEOL && c.eol.Err() != nil:
		results = c.uniform(errBareEOL)
	case c.loop.count > c.loop.max && c.loop.max > 0:
		results = c.uniform(errLoop)
	}
	c.finishMessage(results, c.loop.n)
}

// chunkReader reads the next left octets from br.
type chunkReader struct {
	br   *bufio.Reader
	left int64
	err  error
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if r.err != nil {
		return 0, r.err
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.br.Read(p)
	r.left -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		r.err = err
	}
	return n, err
}
