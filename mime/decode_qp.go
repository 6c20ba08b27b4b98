package mime

import (
	"bytes"
	"io"
)

// qpDecoder decodes quoted-printable (RFC 2045 §6.7) tolerantly: "=XX"
// with upper- or lower-case hex digits, soft line breaks "=" CRLF or "=" LF
// (also with white space between "=" and the line break), trailing white
// space of every line removed (rule 3); a "=" not followed by two hex
// digits or a line break is kept literally (DefectQPEscape). Hard line
// breaks are passed through as they are.
type qpDecoder struct {
	src    chunkSource
	sink   defectSink
	carry  []byte // an incomplete last line of the previous chunk
	out    []byte // decoded bytes not yet returned (window of outBuf)
	outBuf []byte
	wbuf   []byte
	err    error
	bad    bool
}

// maxQPCarry bounds the incomplete line kept between chunks; a longer
// line is decoded in pieces.
const maxQPCarry = 16 << 10

func (d *qpDecoder) reset(src chunkSource, sink defectSink) {
	d.src, d.sink = src, sink
	d.carry, d.out, d.err, d.bad = d.carry[:0], nil, nil, false
}

func (d *qpDecoder) Read(p []byte) (int, error) {
	for {
		if len(d.out) > 0 {
			n := copy(p, d.out)
			d.out = d.out[n:]
			return n, nil
		}
		if d.err != nil {
			return 0, d.err
		}
		if len(p) == 0 {
			return 0, nil
		}
		// Decoding never grows the data: with the carried bytes a chunk
		// of this size decodes straight into p, with no buffer of our own.
		max := len(p) - len(d.carry)
		if max < 512 {
			max = 512
		}
		chunk, err := d.src.nextChunk(max)
		if err != nil {
			d.err = err
		}
		final := err != nil
		if len(chunk) == 0 && !final {
			continue
		}
		var dst []byte
		if len(p) >= len(d.carry)+len(chunk) {
			dst = p[:0]
		} else {
			if cap(d.outBuf) < len(d.carry)+len(chunk) {
				d.outBuf = make([]byte, 0, len(d.carry)+len(chunk)+512)
			}
			dst = d.outBuf[:0]
		}
		dst = d.decode(dst, chunk, final)
		if len(dst) == 0 {
			continue
		}
		if len(p) > 0 && &dst[0] == &p[0] {
			return len(dst), nil
		}
		d.out = dst
	}
}

// WriteTo decodes everything to w (used by io.Copy).
func (d *qpDecoder) WriteTo(w io.Writer) (int64, error) {
	if d.wbuf == nil {
		d.wbuf = make([]byte, 16<<10)
	}
	var total int64
	for {
		n, err := d.Read(d.wbuf)
		if n > 0 {
			m, werr := w.Write(d.wbuf[:n])
			total += int64(m)
			if werr != nil {
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

// decode decodes the complete lines of carry+chunk into dst (room for
// len(carry)+len(chunk) bytes); at final also the last incomplete line.
func (d *qpDecoder) decode(dst, chunk []byte, final bool) []byte {
	if len(d.carry) > 0 {
		// Complete the carried line first.
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 && !final && len(d.carry)+len(chunk) <= maxQPCarry {
			d.carry = append(d.carry, chunk...)
			return dst
		}
		if i < 0 {
			i = len(chunk) - 1
		}
		d.carry = append(d.carry, chunk[:i+1]...)
		chunk = chunk[i+1:]
		dst = d.line(dst, d.carry)
		d.carry = d.carry[:0]
	}
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			if final || len(chunk) > maxQPCarry {
				return d.line(dst, chunk)
			}
			d.carry = append(d.carry, chunk...)
			return dst
		}
		dst = d.line(dst, chunk[:i+1])
		chunk = chunk[i+1:]
	}
	return dst
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' || c >= 'a' && c <= 'f'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// line decodes one line (with its line break, if any) into dst.
func (d *qpDecoder) line(dst, l []byte) []byte {
	body, eol := l, l[len(l):]
	if n := len(l); n > 0 && l[n-1] == '\n' {
		k := n - 1
		if k > 0 && l[k-1] == '\r' {
			k--
		}
		body, eol = l[:k], l[k:]
	}
	// Rule 3: trailing white space is not part of the data.
	end := len(body)
	for end > 0 && (body[end-1] == ' ' || body[end-1] == '\t') {
		end--
	}
	body = body[:end]
	if len(eol) > 0 && end > 0 && body[end-1] == '=' {
		// Soft line break (rule 5).
		body, eol = body[:end-1], nil
	}
	for {
		i := bytes.IndexByte(body, '=')
		if i < 0 {
			dst = append(dst, body...)
			break
		}
		dst = append(dst, body[:i]...)
		if i+2 < len(body) && isHex(body[i+1]) && isHex(body[i+2]) {
			dst = append(dst, unhex(body[i+1])<<4|unhex(body[i+2]))
			body = body[i+3:]
			continue
		}
		if !d.bad {
			d.bad = true
			if d.sink != nil {
				d.sink.defect(DefectQPEscape)
			}
		}
		dst = append(dst, '=')
		body = body[i+1:]
	}
	return append(dst, eol...)
}
