package lineio

import (
	"bytes"
	"errors"
	"io"
)

// DotWriter encodes a dot-stuffed body (RFC 5321 §4.5.2, RFC 1939 §3) onto
// an io.Writer. It doubles every "." at the start of a line, the first line
// included, and writes every bare CR and every bare LF as CRLF, so the
// output never contains <CRLF>.<CRLF> before Close writes it. A CRLF split
// across two Write calls is still one line end.
//
// DotWriter does not buffer: give it a *bufio.Writer for a network
// connection. Close does not flush or close the underlying writer.
//
// A DotWriter is not safe for concurrent use.
type DotWriter struct {
	w         io.Writer
	lineStart bool // next byte starts a line
	skipLF    bool // a CR was written as CRLF; swallow an LF right after it
	closed    bool
	err       error
	buf       []byte // ReadFrom's, kept across Reset
}

// NewDotWriter returns a DotWriter that writes to w.
func NewDotWriter(w io.Writer) *DotWriter {
	return &DotWriter{w: w, lineStart: true}
}

// Reset makes d encode a new body onto w, keeping the buffer ReadFrom
// allocated, so that a connection that sends many bodies reuses one.
func (d *DotWriter) Reset(w io.Writer) {
	*d = DotWriter{w: w, lineStart: true, buf: d.buf}
}

// readFromBufSize is the size of ReadFrom's buffer: half of io.Copy's,
// since the bytes go on to a buffered writer anyway.
const readFromBufSize = 16 << 10

// ReadFrom encodes everything r returns up to io.EOF. It implements
// io.ReaderFrom, so io.Copy into a DotWriter (from a reader that is not an
// io.WriterTo, or from an *os.File, whose WriteTo falls back to io.Copy
// for anything but a socket) reads into the DotWriter's own buffer instead
// of allocating 32 KiB per body; the buffer is kept across Reset.
func (d *DotWriter) ReadFrom(r io.Reader) (int64, error) {
	if d.buf == nil {
		d.buf = make([]byte, readFromBufSize)
	}
	var total int64
	for {
		n, err := r.Read(d.buf)
		if n > 0 {
			total += int64(n)
			if _, werr := d.Write(d.buf[:n]); werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

var (
	crlf      = []byte("\r\n")
	dot       = []byte(".")
	endOfData = []byte(".\r\n")

	errWriterClosed = errors.New("lineio: write after Close")
)

// Write encodes p. It returns len(p) unless the underlying writer fails.
func (d *DotWriter) Write(p []byte) (int, error) {
	if d.closed {
		return 0, errWriterClosed
	}
	if d.err != nil {
		return 0, d.err
	}
	n := 0
	for n < len(p) {
		if d.skipLF {
			d.skipLF = false
			if p[n] == '\n' {
				n++
				continue
			}
		}
		if d.lineStart && p[n] == '.' {
			// RFC 5321 §4.5.2: add a period before a line starting with one.
			if err := d.write(dot); err != nil {
				return n, err
			}
		}
		d.lineStart = false
		// Find a run that goes out verbatim: whole CRLF lines not followed
		// by a dot, ending before the first bare CR/LF or a dot-led line.
		run, stop := scanRun(p[n:])
		if run > 0 {
			if err := d.write(p[n : n+run]); err != nil {
				return n, err
			}
			n += run
			if p[n-1] == '\n' {
				d.lineStart = true
			}
		}
		if !stop {
			continue
		}
		// p[n] is a CR or LF that is not part of an in-buffer CRLF.
		c := p[n]
		n++
		if err := d.write(crlf); err != nil {
			return n, err
		}
		d.lineStart = true
		d.skipLF = c == '\r'
	}
	return n, nil
}

// scanRun returns the length of the verbatim run at the head of p, and
// whether it stopped at a CR or LF that needs rewriting (a bare one, or a
// CR at the end of p whose LF may come in the next Write).
//
// Mail is mostly CRLF lines without a leading dot, so it looks for the
// LFs only (one vectorised search per line), checks that each follows a
// CR, and then that p held no other CR (one vectorised count of the run);
// only a run with a bare CR is scanned again byte class by byte class.
func scanRun(p []byte) (int, bool) {
	end := len(p)
	if end > 0 && p[end-1] == '\r' {
		end-- // its LF may come with the next Write
	}
	lfs, pos := 0, 0
	for pos < end {
		j := bytes.IndexByte(p[pos:end], '\n')
		if j < 0 {
			pos = end
			break
		}
		k := pos + j
		if k == 0 || p[k-1] != '\r' {
			// A bare LF: the run ends there, unless a bare CR came first.
			if bytes.Count(p[:k], crByte) == lfs {
				return k, true
			}
			return scanRunSlow(p)
		}
		lfs++
		pos = k + 1
		if pos < len(p) && p[pos] == '.' {
			break // a dot-led line: the caller stuffs it
		}
	}
	if bytes.Count(p[:pos], crByte) != lfs {
		return scanRunSlow(p) // a bare CR
	}
	return pos, pos < len(p) && pos == end
}

var crByte = []byte{'\r'}

// scanRunSlow is scanRun for a p with a bare CR: it stops at the first
// CR or LF that is not part of an in-buffer CRLF.
func scanRunSlow(p []byte) (int, bool) {
	pos := 0
	for pos < len(p) {
		rest := p[pos:]
		i := indexEOL(rest)
		if i < 0 {
			return len(p), false
		}
		if rest[i] == '\r' && i+1 < len(rest) && rest[i+1] == '\n' {
			pos += i + 2
			if pos < len(p) && p[pos] == '.' {
				return pos, false
			}
			continue
		}
		return pos + i, true
	}
	return pos, false
}

// Close ends the body: it writes CRLF if the body did not end with a line
// terminator, then ".CRLF". It does not close the underlying writer.
func (d *DotWriter) Close() error {
	if d.closed {
		return d.err
	}
	d.closed = true
	if d.err != nil {
		return d.err
	}
	if !d.lineStart {
		if err := d.write(crlf); err != nil {
			return err
		}
	}
	return d.write(endOfData)
}

func (d *DotWriter) write(b []byte) error {
	if _, err := d.w.Write(b); err != nil {
		d.err = err
		return err
	}
	return nil
}
