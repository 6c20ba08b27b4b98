package mime

import (
	"encoding/base64"
	"io"
	"mime/quotedprintable"
)

// Transfer encodings the writers produce (RFC 2045 §6.1).
const (
	Encoding7Bit            = "7bit"
	EncodingQuotedPrintable = "quoted-printable"
	EncodingBase64          = "base64"
)

// NewTransferEncoder returns a writer that encodes what is written to it
// in the transfer encoding enc ("7bit", "8bit", "quoted-printable" or
// "base64") and writes the result to w. For text (isText) line ends are
// made CRLF first, as the canonical form requires (RFC 2045 §6.8, RFC 2049
// §4). Base64 lines are 76 characters; quoted-printable lines at most 76.
// Close flushes the encoder; it does not close w.
func NewTransferEncoder(w io.Writer, enc string, isText bool) io.WriteCloser {
	switch enc {
	case EncodingBase64:
		lb := &lineBreaker{w: w}
		var out io.WriteCloser = &base64Writer{enc: base64.NewEncoder(base64.StdEncoding, lb), lb: lb}
		if isText {
			out = &crlfWriter{w: out, closeInner: true}
		}
		return out
	case EncodingQuotedPrintable:
		qp := quotedprintable.NewWriter(w)
		qp.Binary = !isText
		return qp
	default:
		return &crlfWriter{w: nopWriteCloser{w}}
	}
}

// base64Writer encodes base64 in lines of 76 characters.
type base64Writer struct {
	enc io.WriteCloser
	lb  *lineBreaker
}

func (b *base64Writer) Write(p []byte) (int, error) { return b.enc.Write(p) }

func (b *base64Writer) Close() error {
	if err := b.enc.Close(); err != nil {
		return err
	}
	return b.lb.Close()
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// lineBreaker inserts CRLF after every 76 bytes (base64 output).
type lineBreaker struct {
	w   io.Writer
	col int
}

func (l *lineBreaker) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if l.col == 76 {
			if _, err := l.w.Write(crlf); err != nil {
				return n, err
			}
			l.col = 0
		}
		k := min(len(p), 76-l.col)
		m, err := l.w.Write(p[:k])
		n += m
		l.col += m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

// Close ends the last line.
func (l *lineBreaker) Close() error {
	if l.col > 0 {
		l.col = 0
		_, err := l.w.Write(crlf)
		return err
	}
	return nil
}

// crlfWriter turns LF, CR and CRLF line ends into CRLF.
type crlfWriter struct {
	w          io.WriteCloser
	cr         bool // the last byte written was CR
	closeInner bool
	buf        []byte
}

func (c *crlfWriter) Write(p []byte) (int, error) {
	c.buf = c.buf[:0]
	for _, b := range p {
		switch {
		case b == '\n' && c.cr:
			c.cr = false
			continue // CRLF already written
		case b == '\n':
			c.buf = append(c.buf, '\r', '\n')
		case b == '\r':
			c.buf = append(c.buf, '\r', '\n')
			c.cr = true
			continue
		default:
			c.buf = append(c.buf, b)
		}
		c.cr = false
	}
	if _, err := c.w.Write(c.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *crlfWriter) Close() error {
	if c.closeInner {
		return c.w.Close()
	}
	return nil
}
