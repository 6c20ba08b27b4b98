package lineio

import (
	"bufio"
	"io"
)

// DefaultMaxLine is the line limit a [Reader] uses when NewReader is given
// a limit of zero or less.
const DefaultMaxLine = 8192

// Reader reads CRLF (or bare LF) terminated lines from a *bufio.Reader with
// a hard limit on their length. Use [Reader.Read] for raw bytes (IMAP
// literals, SMTP BDAT chunks): it reads from the same bufio.Reader, so lines
// and raw bytes can be interleaved.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	br      *bufio.Reader
	max     int
	buf     []byte            // assembles lines longer than br's buffer; reused
	tooLong *LineTooLongError // immutable, so shared by every report
}

// NewReader returns a Reader that reads lines of at most maxLine bytes (not
// counting the line terminator) from br. A maxLine of zero or less means
// [DefaultMaxLine].
//
// Lines up to br's buffer size are returned without copying; choose a
// bufio.Reader at least maxLine+2 bytes large to read every line without an
// allocation.
func NewReader(br *bufio.Reader, maxLine int) *Reader {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	return &Reader{br: br, max: maxLine, tooLong: &LineTooLongError{Limit: maxLine}}
}

// Bufio returns the underlying bufio.Reader.
func (r *Reader) Bufio() *bufio.Reader { return r.br }

// Limit returns the maximum line length.
func (r *Reader) Limit() int { return r.max }

// Read reads raw bytes, bypassing line handling. It implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) { return r.br.Read(p) }

// ReadLine returns the next line without its CRLF or LF terminator. The
// slice is valid until the next call on r or on the bufio.Reader.
//
// A line longer than the limit is discarded up to and including its
// terminator, without being stored, and a *[LineTooLongError] is returned;
// the next call reads the following line. At the end of input ReadLine
// returns io.EOF if no bytes of a line were read and io.ErrUnexpectedEOF
// if the input ended inside a line.
func (r *Reader) ReadLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	switch err {
	case nil:
		line = trimEOL(line)
		if len(line) > r.max {
			return nil, r.tooLong
		}
		return line, nil
	case bufio.ErrBufferFull:
		return r.readLong(line)
	default:
		return nil, eofErr(len(line), err)
	}
}

// readLong assembles a line that does not fit in the bufio.Reader's buffer.
func (r *Reader) readLong(first []byte) ([]byte, error) {
	if len(first) > r.max+1 {
		return nil, r.discardLine()
	}
	r.buf = r.appendBounded(r.buf[:0], first)
	for {
		chunk, err := r.br.ReadSlice('\n')
		switch err {
		case nil:
			// The content is the whole minus LF and maybe CR; compare
			// before appending so r.buf never exceeds max+2.
			n := len(r.buf) + len(chunk) - 1
			if n > 0 && eolCR(r.buf, chunk) {
				n--
			}
			if n > r.max {
				return nil, r.tooLong
			}
			r.buf = r.appendBounded(r.buf, chunk)
			return trimEOL(r.buf), nil
		case bufio.ErrBufferFull:
			// Without an LF in sight, at most one trailing CR belongs to
			// the terminator.
			if len(r.buf)+len(chunk) > r.max+1 {
				return nil, r.discardLine()
			}
			r.buf = r.appendBounded(r.buf, chunk)
		default:
			return nil, eofErr(1, err)
		}
	}
}

// appendBounded appends chunk to buf, growing it at most to the limit plus
// CRLF so that the scratch buffer never holds more than one line's worth.
func (r *Reader) appendBounded(buf, chunk []byte) []byte {
	if n := len(buf) + len(chunk); n > cap(buf) {
		c := min(max(2*cap(buf), n, 64), r.max+2)
		nb := make([]byte, len(buf), max(c, n))
		copy(nb, buf)
		buf = nb
	}
	return append(buf, chunk...)
}

// eolCR reports whether the byte before the final LF of buf+chunk is CR.
func eolCR(buf, chunk []byte) bool {
	if len(chunk) >= 2 {
		return chunk[len(chunk)-2] == '\r'
	}
	return len(buf) > 0 && buf[len(buf)-1] == '\r'
}

// discardLine skips input up to and including the next LF.
func (r *Reader) discardLine() error {
	for {
		_, err := r.br.ReadSlice('\n')
		switch err {
		case nil:
			return r.tooLong
		case bufio.ErrBufferFull:
		default:
			return eofErr(1, err)
		}
	}
}

// eofErr turns io.EOF into io.ErrUnexpectedEOF when n bytes of a line were
// already read.
func eofErr(n int, err error) error {
	if err == io.EOF && n > 0 {
		return io.ErrUnexpectedEOF
	}
	return err
}

func trimEOL(line []byte) []byte {
	n := len(line)
	if n > 0 && line[n-1] == '\n' {
		n--
		if n > 0 && line[n-1] == '\r' {
			n--
		}
	}
	return line[:n]
}
