package lineio

import (
	"bytes"
	"io"
)

// EOLReader applies a [BareEOLPolicy] to a message that is not
// dot-stuffed: SMTP BDAT chunks (RFC 3030), which must follow the same
// line-end rules as DATA unless the message is BINARYMIME, so that a
// message refused over DATA is not accepted over BDAT.
//
// With [RejectBareEOL] the bytes pass unchanged until the first bare CR
// or LF; from then on the reader consumes the rest of its input without
// returning it and, at its end, returns a *[BareEOLError] instead of
// io.EOF. A CR that ends the input is bare. With [NormalizeBareEOL] each
// bare CR and LF becomes CRLF.
//
// The zero value is not usable; call [EOLReader.Reset].
type EOLReader struct {
	r      io.Reader
	policy BareEOLPolicy

	pendCR bool  // the last byte seen was a CR (reject: delivered; normalize: held)
	off    int64 // raw bytes consumed
	bare   int   // bare CR/LF found
	bad    error // the *BareEOLError under RejectBareEOL
	eof    bool  // r returned io.EOF

	// Normalize only: input buffer, and the LF owed after a CR emitted
	// into the last byte of p.
	buf        []byte
	start, end int
	rerr       error
	owedLF     bool
}

// NewEOLReader returns an EOLReader over r.
func NewEOLReader(r io.Reader, policy BareEOLPolicy) *EOLReader {
	e := &EOLReader{}
	e.Reset(r, policy)
	return e
}

// Reset makes e read from r afresh, keeping its buffer.
func (e *EOLReader) Reset(r io.Reader, policy BareEOLPolicy) {
	*e = EOLReader{r: r, policy: policy, buf: e.buf}
}

// BareEOLs returns the number of bare CRs and LFs seen so far: under
// RejectBareEOL 0 or 1, since checking stops at the first.
func (e *EOLReader) BareEOLs() int { return e.bare }

// Err returns the *BareEOLError found, or nil.
func (e *EOLReader) Err() error { return e.bad }

// Done reports whether the input was read to its end.
func (e *EOLReader) Done() bool { return e.eof }

// Read implements io.Reader.
func (e *EOLReader) Read(p []byte) (int, error) {
	if e.policy == NormalizeBareEOL {
		return e.readNormalize(p)
	}
	if e.bad != nil {
		return 0, e.drain(p)
	}
	n, err := e.r.Read(p)
	e.check(p[:n])
	if err == io.EOF {
		e.eof = true
		if e.pendCR && e.bad == nil {
			e.fail('\r', e.off-1)
		}
		if e.bad != nil {
			return n, e.bad
		}
	}
	return n, err
}

// drain consumes the rest of the input through p after a bare CR or LF,
// and returns the error to report at its end.
func (e *EOLReader) drain(p []byte) error {
	if len(p) == 0 {
		p = make([]byte, 512)
	}
	for !e.eof {
		_, err := e.r.Read(p)
		if err == io.EOF {
			e.eof = true
			break
		}
		if err != nil {
			return err
		}
	}
	return e.bad
}

func (e *EOLReader) fail(c byte, off int64) {
	e.bare++
	e.bad = &BareEOLError{Char: c, Offset: off}
}

// check looks for the first bare CR or LF in b, the next input bytes.
func (e *EOLReader) check(b []byte) {
	base := e.off
	e.off += int64(len(b))
	if e.bad != nil || len(b) == 0 {
		return
	}
	i := 0
	if e.pendCR {
		if b[0] != '\n' {
			e.fail('\r', base-1)
			return
		}
		i = 1
	}
	e.pendCR = false
	rest := b[i:]
	if len(rest) > 0 && rest[len(rest)-1] == '\r' {
		// Its LF may come with the next read.
		e.pendCR = true
		rest = rest[:len(rest)-1]
	}
	// Fast path: every LF follows a CR (one vectorised search per line)
	// and there are no other CRs (a vectorised count).
	if CRLFOnly(rest) {
		return
	}
	for j, c := range rest {
		switch c {
		case '\r':
			if j+1 == len(rest) || rest[j+1] != '\n' {
				e.fail('\r', base+int64(i+j))
				return
			}
		case '\n':
			if j == 0 || rest[j-1] != '\r' {
				e.fail('\n', base+int64(i+j))
				return
			}
		}
	}
}

// CRLFOnly reports whether every CR and every LF in b is part of a CRLF:
// one vectorised search per line and one vectorised count, several times
// faster than counting "\r\n" with bytes.Count.
func CRLFOnly(b []byte) bool {
	lfs := 0
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			break
		}
		if i+j == 0 || b[i+j-1] != '\r' {
			return false
		}
		lfs++
		i += j + 1
	}
	return bytes.Count(b, cr) == lfs
}

// readNormalize copies input to p with each bare CR and LF made CRLF.
func (e *EOLReader) readNormalize(p []byte) (int, error) {
	if e.buf == nil {
		e.buf = make([]byte, 4096)
	}
	n := 0
	for n < len(p) {
		if e.owedLF {
			p[n] = '\n'
			n++
			e.owedLF = false
			continue
		}
		if e.start == e.end {
			if e.rerr != nil {
				if e.rerr == io.EOF && e.pendCR {
					e.pendCR = false
					e.bare++
					n += e.emitCRLF(p[n:])
					continue
				}
				break
			}
			if n > 0 {
				break // do not block with something to return
			}
			m, err := e.r.Read(e.buf)
			e.start, e.end, e.rerr = 0, m, err
			e.off += int64(m)
			if err == io.EOF {
				e.eof = true
			}
			continue
		}
		in := e.buf[e.start:e.end]
		if e.pendCR {
			e.pendCR = false
			if in[0] == '\n' {
				e.start++
			} else {
				e.bare++
			}
			n += e.emitCRLF(p[n:])
			continue
		}
		k := bytes.IndexAny(in, "\r\n")
		if k < 0 {
			k = len(in)
		}
		if k > 0 {
			c := copy(p[n:], in[:k])
			n += c
			e.start += c
			continue
		}
		e.start++
		if in[0] == '\r' {
			e.pendCR = true // decided by the next byte
			continue
		}
		e.bare++ // a bare LF
		n += e.emitCRLF(p[n:])
	}
	if n == 0 && e.start == e.end && e.rerr != nil && !e.pendCR && !e.owedLF {
		return 0, e.rerr
	}
	if n == 0 && len(p) == 0 {
		return 0, nil
	}
	return n, nil
}

// emitCRLF writes CRLF to p (not empty), owing the LF when only one byte
// fits.
func (e *EOLReader) emitCRLF(p []byte) int {
	p[0] = '\r'
	if len(p) < 2 {
		e.owedLF = true
		return 1
	}
	p[1] = '\n'
	return 2
}
