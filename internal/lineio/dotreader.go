package lineio

import (
	"bufio"
	"bytes"
	"io"
	"math"
)

// BareEOLPolicy says what a [DotReader] does with a CR not followed by LF or
// an LF not preceded by CR.
type BareEOLPolicy int

const (
	// RejectBareEOL consumes the body up to its real end and then reports
	// a *[BareEOLError]. This is the zero value and the right choice for an
	// SMTP server (RFC 5321 §2.3.8: bare CR and LF must not be sent).
	RejectBareEOL BareEOLPolicy = iota
	// NormalizeBareEOL turns every bare CR and bare LF into CRLF and goes
	// on. A "." after a bare CR or LF is still content, never the start of
	// a terminator and never unstuffed. [DotReader.BareEOLs] counts them.
	NormalizeBareEOL
)

// DotOptions configures a [DotReader]. The zero value rejects bare CR and LF
// and sets no size or line limit.
type DotOptions struct {
	// Policy chooses between rejecting and normalising bare CR and LF.
	Policy BareEOLPolicy
	// MaxSize is the largest decoded body in bytes (CRLFs included, the
	// terminator and stuffing dots not). Zero means no limit. A larger
	// body is consumed to its end and reported as *[TooLargeError].
	MaxSize int64
	// MaxLine is the longest decoded line in bytes, not counting CRLF or
	// the stuffing dot (RFC 5321 §4.5.3.1.6 sets 998). Zero means no
	// limit. A longer line makes the reader consume the body to its end
	// and report *[LineTooLongError].
	MaxLine int
}

// DotReader decodes a dot-stuffed body (SMTP DATA, RFC 5321 §4.5.2; POP3
// multi-line responses, RFC 1939 §3) from a *bufio.Reader. Read returns the
// body with line terminators as CRLF and stuffing dots removed, and io.EOF
// after <CRLF>.<CRLF>. Bytes after the terminator stay in the bufio.Reader.
//
// Errors about the body (*[BareEOLError], *[TooLargeError],
// *[LineTooLongError]) are returned only after the whole body up to the
// real terminator has been consumed, so the caller can reply and read the
// next command in step with the peer. I/O errors, including
// io.ErrUnexpectedEOF when the input ends before the terminator, are
// returned at once.
//
// A DotReader is not safe for concurrent use.
type DotReader struct {
	br   *bufio.Reader
	opts DotOptions

	lineStart bool  // the next byte starts a line (after CRLF, or the first)
	pendLF    bool  // '\r' of a CRLF delivered, its '\n' not yet
	lineLen   int   // decoded bytes of the current line so far
	size      int64 // decoded bytes delivered
	raw       int64 // raw bytes consumed
	bare      int   // bare CR/LF normalised
	slowUntil int64 // raw offset before which the fast path is not tried

	sink    io.Writer // WriteTo's destination while it runs
	sinkErr error     // first error from sink

	draining bool  // consuming to the terminator after a body error
	done     bool  // terminator consumed
	closed   bool  // Close called
	err      error // body error, returned after the terminator
	ioErr    error // sticky I/O error
}

// NewDotReader returns a DotReader that decodes one body from br.
func NewDotReader(br *bufio.Reader, opts DotOptions) *DotReader {
	return &DotReader{br: br, opts: opts, lineStart: true}
}

// BareEOLs returns how many bare CRs and LFs were normalised so far.
func (d *DotReader) BareEOLs() int { return d.bare }

// RawSize returns how many bytes were consumed from the bufio.Reader so far,
// the terminator included once it has been read.
func (d *DotReader) RawSize() int64 { return d.raw }

// Read implements io.Reader.
func (d *DotReader) Read(p []byte) (int, error) {
	if d.closed {
		return 0, errClosed
	}
	if d.ioErr != nil {
		return 0, d.ioErr
	}
	n := 0
	if d.pendLF && len(p) > 0 {
		p[0] = '\n'
		d.pendLF = false
		n = 1
	}
	for n < len(p) && !d.done && !d.draining {
		m, err := d.step(p[n:])
		n += m
		if err != nil {
			d.ioErr = err
			return n, err
		}
	}
	if d.draining {
		if err := d.drain(); err != nil {
			return n, err
		}
	}
	if d.done && !d.pendLF {
		if d.err != nil {
			return n, d.err
		}
		return n, io.EOF
	}
	return n, nil
}

// WriteTo writes the decoded body to w until the terminator. It implements
// io.WriterTo, so io.Copy hands w runs of whole lines straight from the
// bufio.Reader's buffer, without an intermediate copy. It returns nil at a
// clean end, the body error after consuming the body to its end (as Read),
// a read error, or the first error from w; after a write error the body is
// not consumed further, so call Close to stay in step.
func (d *DotReader) WriteTo(w io.Writer) (int64, error) {
	if d.closed {
		return 0, errClosed
	}
	if d.ioErr != nil {
		return 0, d.ioErr
	}
	var total int64
	if d.pendLF {
		d.pendLF = false
		if _, err := w.Write(crlf[1:]); err != nil {
			return 0, err
		}
		total = 1
	}
	d.sink, d.sinkErr = w, nil
	defer func() { d.sink, d.sinkErr = nil, nil }()
	for !d.done && !d.draining {
		n, err := d.step(nil)
		total += int64(n)
		if err != nil {
			d.ioErr = err
			return total, err
		}
		if d.sinkErr != nil {
			return total, d.sinkErr
		}
	}
	if d.draining {
		if err := d.drain(); err != nil {
			return total, err
		}
	}
	return total, d.err
}

// Close consumes the rest of the body up to and including the terminator,
// without storing it. It returns the body error Read would have returned
// (nil for a clean body) or an I/O error. Reads after Close fail.
func (d *DotReader) Close() error {
	if d.closed {
		return d.closeErr()
	}
	d.closed = true
	if d.ioErr == nil && !d.done {
		d.draining = true
		if err := d.drain(); err != nil {
			return err
		}
	}
	return d.closeErr()
}

func (d *DotReader) closeErr() error {
	if d.ioErr != nil {
		return d.ioErr
	}
	return d.err
}

// fail records the first body error and switches to draining.
func (d *DotReader) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.draining = true
}

// drain consumes up to the terminator.
func (d *DotReader) drain() error {
	for !d.done {
		if _, err := d.step(nil); err != nil {
			d.ioErr = err
			return err
		}
	}
	return nil
}

// window returns the buffered bytes, reading until at least k are buffered
// (k <= 3, well within any bufio.Reader). It never asks for more than the
// caller needs to decide, so it never waits for bytes past the terminator.
func (d *DotReader) window(k int) ([]byte, error) {
	if d.br.Buffered() < k {
		b, err := d.br.Peek(k)
		if len(b) < k {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	w, _ := d.br.Peek(d.br.Buffered())
	return w, nil
}

func (d *DotReader) consume(k int) {
	d.br.Discard(k) //nolint:errcheck // k bytes are buffered
	d.raw += int64(k)
}

// step decodes from the buffered bytes into dst, or into d.sink during
// WriteTo, and returns how many bytes it delivered. While draining it
// consumes and discards. Only read errors are returned; body errors go
// through fail, write errors into d.sinkErr.
func (d *DotReader) step(dst []byte) (int, error) {
	discard := d.draining
	if n, err := d.fast(dst); n > 0 || err != nil || d.done || d.draining != discard {
		return n, err
	}
	if d.lineStart {
		w, err := d.window(1)
		if err != nil {
			return 0, err
		}
		if w[0] == '.' {
			// Any conforming continuation has at least two more bytes, so
			// waiting for them cannot stall.
			if w, err = d.window(3); err != nil {
				return 0, err
			}
			if w[1] == '\r' && w[2] == '\n' {
				// RFC 5321 §4.5.2: <CRLF>.<CRLF> ends the data.
				d.consume(3)
				d.done = true
				return 0, nil
			}
			// RFC 5321 §4.5.2: delete the first character of a line
			// that is a period followed by more characters.
			d.consume(1)
		}
		d.lineStart = false
	}

	w, err := d.window(1)
	if err != nil {
		return 0, err
	}
	room := len(dst)
	if discard || d.sink != nil {
		room = math.MaxInt
	}

	// The careful path, one line or part of a line.
	pos, special, ended := d.carefulRun(w, room)
	tooLong := !discard && d.opts.MaxLine > 0 && d.lineLen > d.opts.MaxLine
	if ended {
		d.lineLen = 0
		d.lineStart = true
	}
	if pos > 0 {
		if !d.takeRun(dst, w, pos) {
			return 0, nil
		}
		if tooLong {
			// Delivered; what follows is consumed by drain.
			d.fail(&LineTooLongError{Limit: d.opts.MaxLine})
		}
		return pos, nil
	}
	if !special {
		return 0, nil
	}
	return d.eol(dst, w[0], room)
}

// fast delivers runs of whole, good CRLF lines straight from the
// bufio.Reader's buffer, removing stuffing dots and recognising the
// terminator on the way. When the buffer ends inside a line it reads more
// (the line must go on, so that cannot stall) rather than leave the piece
// to the careful path. It returns when the careful path must decide: a
// bare CR or LF, a line longer than the buffer or MaxLine, a line that does
// not fit in dst, or the continuation of a line begun by the careful path.
func (d *DotReader) fast(dst []byte) (n int, err error) {
	room := len(dst)
	maxLine := d.opts.MaxLine
	if d.draining || d.sink != nil {
		room = math.MaxInt
	}
	if d.draining {
		maxLine = 0
	}
	for d.lineLen == 0 && d.raw >= d.slowUntil && n < room {
		w, _ := d.br.Peek(d.br.Buffered())
		if d.lineStart {
			if len(w) < 3 {
				// Every line start has three more bytes coming, if only
				// the terminator.
				if _, err := d.br.Peek(3); err != nil {
					return n, eof(err)
				}
				w, _ = d.br.Peek(d.br.Buffered())
			}
			if w[0] == '.' {
				if w[1] == '\r' && w[2] == '\n' {
					// RFC 5321 §4.5.2: <CRLF>.<CRLF> ends the data.
					d.consume(3)
					d.done = true
					return n, nil
				}
				// RFC 5321 §4.5.2: drop the stuffing dot.
				d.consume(1)
				w = w[1:]
			}
			d.lineStart = false
		}
		pos, scanned, partial := fastRun(w, room-n, maxLine)
		switch {
		case pos > 0:
			d.lineStart = true
			var out []byte
			if dst != nil {
				out = dst[n:]
			}
			if !d.takeRun(out, w, pos) {
				return n, nil
			}
			if !d.draining {
				n += pos
			}
		case scanned > 0:
			// A bare CR somewhere in there: take these bytes the careful
			// way, so a hostile body cannot make us rescan the window
			// once per line.
			d.slowUntil = d.raw + int64(scanned)
			return n, nil
		case partial && len(w) < d.br.Size():
			// The buffer ends inside the line: read more of it.
			if _, err := d.br.Peek(len(w) + 1); err != nil {
				return n, eof(err)
			}
		default:
			return n, nil
		}
	}
	return n, nil
}

// eof turns io.EOF inside the body into io.ErrUnexpectedEOF.
func eof(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// carefulRun handles what the fast path leaves: a line that continues one
// started earlier, a bare CR or LF, a line that does not fit in room or is
// too long. It returns the length of the verbatim run at the head of w (at
// most one line), whether w[pos] is then a CR or LF that eol must decide on,
// and whether the run ends a line. It adds the line bytes to d.lineLen.
// w[0] is not a "." at the start of a line: step handled that.
func (d *DotReader) carefulRun(w []byte, room int) (pos int, special, ended bool) {
	d.lineStart = false
	i := bytes.IndexByte(w, '\n')
	switch {
	case i < 0:
		// A partial line, up to a CR whose follower is unknown or bare.
		pos = len(w)
		if c := bytes.IndexByte(w, '\r'); c >= 0 {
			pos, special = c, true
		}
	case i == 0 || w[i-1] != '\r' || bytes.IndexByte(w[:i-1], '\r') >= 0:
		// A bare CR or LF in this line: run up to it.
		pos, special = i, true
		if c := bytes.IndexByte(w[:i], '\r'); c >= 0 {
			pos = c
		}
	case i-1 > room-2:
		// A good line that does not fit whole: take what fits, never
		// splitting CRLF (the CR alone would later look bare). A lone
		// CRLF that does not fit goes through eol, which can leave the
		// LF pending.
		pos = i - 1
		special = pos == 0
	default:
		// A good line ending in CRLF.
		d.lineLen += i - 1
		return i + 1, false, true
	}
	if pos > room {
		pos, special = room, false
	}
	d.lineLen += pos
	return pos, special, false
}

// takeRun delivers w[:n] verbatim, honouring MaxSize. It reports false when
// the size limit was hit (nothing delivered, draining started).
func (d *DotReader) takeRun(dst, w []byte, n int) bool {
	if !d.draining {
		if d.opts.MaxSize > 0 && d.size+int64(n) > d.opts.MaxSize {
			d.fail(&TooLargeError{Limit: d.opts.MaxSize})
			return false
		}
		d.size += int64(n)
		if d.sink != nil {
			d.write(w[:n])
		} else {
			copy(dst, w[:n])
		}
	}
	d.consume(n)
	return true
}

// write passes b to the WriteTo sink, keeping the first error.
func (d *DotReader) write(b []byte) {
	if d.sinkErr == nil {
		if _, err := d.sink.Write(b); err != nil {
			d.sinkErr = err
		}
	}
}

// eol decides on the CR or LF c at the head of the buffer.
func (d *DotReader) eol(dst []byte, c byte, room int) (int, error) {
	if c == '\r' {
		w, err := d.window(2)
		if err != nil {
			return 0, err
		}
		if w[1] == '\n' {
			// A CRLF whose CR ended the previous window, or that did not
			// fit whole.
			d.consume(2)
			d.lineStart = true
			if d.draining {
				return 0, nil
			}
			if d.opts.MaxLine > 0 && d.lineLen > d.opts.MaxLine {
				d.fail(&LineTooLongError{Limit: d.opts.MaxLine})
				return 0, nil
			}
			d.lineLen = 0
			return d.emitCRLF(dst, room), nil
		}
	}
	// A bare CR or LF. Either way it does not start a line: a "." after
	// it is content (the SMTP smuggling variants).
	off := d.raw
	d.consume(1)
	if d.draining {
		return 0, nil
	}
	if d.opts.Policy != NormalizeBareEOL {
		d.fail(&BareEOLError{Char: c, Offset: off})
		return 0, nil
	}
	d.bare++
	if d.opts.MaxLine > 0 && d.lineLen > d.opts.MaxLine {
		d.fail(&LineTooLongError{Limit: d.opts.MaxLine})
		return 0, nil
	}
	d.lineLen = 0
	return d.emitCRLF(dst, room), nil
}

// emitCRLF writes CRLF to dst, leaving the LF pending if there is room for
// one byte only.
func (d *DotReader) emitCRLF(dst []byte, room int) int {
	if d.opts.MaxSize > 0 && d.size+2 > d.opts.MaxSize {
		d.fail(&TooLargeError{Limit: d.opts.MaxSize})
		return 0
	}
	d.size += 2
	if d.sink != nil {
		d.write(crlf)
		return 2
	}
	dst[0] = '\r'
	if room < 2 {
		d.pendLF = true
		return 1
	}
	dst[1] = '\n'
	return 2
}

var cr = []byte{'\r'}

// fastRun returns the length of the longest run at the head of w, at most
// limit bytes, made of whole lines that each end in CRLF, contain no other
// CR or LF, are not longer than maxLine (if > 0), and are not followed by a
// line starting with ".". It finds line ends with one bytes.IndexByte per
// line and checks for bare CRs with one bytes.Count over the whole run,
// since each good line holds exactly one CR. It returns 0 when the careful
// path must decide, with scanned > 0 if that is because of a bare CR in the
// first scanned bytes.
func fastRun(w []byte, limit, maxLine int) (pos, scanned int, partial bool) {
	if maxLine <= 0 {
		maxLine = math.MaxInt
	}
	lines := 0
	for {
		i := bytes.IndexByte(w[pos:], '\n')
		if i < 0 {
			partial = lines == 0
			break
		}
		lf := pos + i
		if i < 1 || i-1 > maxLine || lf >= limit || w[lf-1] != '\r' {
			break
		}
		pos = lf + 1
		lines++
		if pos < len(w) && w[pos] == '.' {
			break
		}
	}
	if lines == 0 {
		return 0, 0, partial
	}
	if bytes.Count(w[:pos], cr) != lines {
		return 0, pos, false
	}
	return pos, pos, false
}
