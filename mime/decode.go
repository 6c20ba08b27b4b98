package mime

import (
	"bytes"
	"encoding/base64"
	"io"
	"strings"
)

// chunkSource hands out raw bytes without copying them: each chunk is a
// view that stays valid until the next call. max bounds the chunk size
// (a hint, at least 1). Data and an error may come together.
type chunkSource interface {
	nextChunk(max int) ([]byte, error)
}

// readerSource adapts an io.Reader to chunkSource with one buffer.
type readerSource struct {
	r   io.Reader
	buf []byte
}

func (s *readerSource) nextChunk(max int) ([]byte, error) {
	if s.buf == nil {
		s.buf = make([]byte, 32<<10)
	}
	b := s.buf
	if max < len(b) {
		b = b[:max]
	}
	n, err := s.r.Read(b)
	return b[:n], err
}

// defectSink receives the defects a decoder tolerates; nil drops them.
// (An interface rather than a func, so that Reader passes itself without
// allocating a closure per part.)
type defectSink interface{ defect(DefectKind) }

// funcSink adapts a function to defectSink.
type funcSink func(DefectKind)

func (f funcSink) defect(k DefectKind) { f(k) }

// NewTransferDecoder returns a reader that undoes the Content-Transfer-Encoding
// cte (RFC 2045 §6) of the bytes read from r: base64 and quoted-printable
// are decoded tolerantly (see Reader); 7bit, 8bit, binary, the empty string
// and unknown encodings pass r through unchanged.
func NewTransferDecoder(cte string, r io.Reader) io.Reader {
	switch encodingOf(cte) {
	case encBase64:
		d := &base64Decoder{}
		d.reset(&readerSource{r: r}, nil)
		return d
	case encQP:
		d := &qpDecoder{}
		d.reset(&readerSource{r: r}, nil)
		return d
	}
	return r
}

type transferEncoding int

const (
	encIdentity transferEncoding = iota // 7bit, 8bit, binary, absent
	encBase64
	encQP
	encUnknown
)

// encodingOf classifies a Content-Transfer-Encoding value (case-insensitive,
// RFC 2045 §6.1).
func encodingOf(cte string) transferEncoding {
	cte = strings.TrimSpace(cte)
	switch {
	case cte == "", strings.EqualFold(cte, "7bit"), strings.EqualFold(cte, "8bit"), strings.EqualFold(cte, "binary"):
		return encIdentity
	case strings.EqualFold(cte, "base64"):
		return encBase64
	case strings.EqualFold(cte, "quoted-printable"):
		return encQP
	}
	return encUnknown
}

// b64class classifies bytes for the tolerant base64 decoder.
var b64class = func() (t [256]uint8) {
	for i := range t {
		t[i] = b64Bad
	}
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") {
		t[c] = b64Alpha
	}
	for _, c := range []byte(" \t\r\n") {
		t[c] = b64Space
	}
	t['='] = b64Pad
	return t
}()

const (
	b64Alpha = iota
	b64Space
	b64Pad
	b64Bad
)

// base64Decoder decodes base64 (RFC 2045 §6.8) tolerantly: line breaks and
// white space anywhere, characters outside the alphabet are skipped
// (DefectBase64Characters); "=" ends the current group early wherever it
// appears and decoding goes on after it; a missing final padding is
// supplied (DefectBase64Padding); a final lone character is dropped
// (DefectBase64Length). Python's email package decodes the same way.
type base64Decoder struct {
	src    chunkSource
	sink   defectSink
	quad   [4]byte // carried alphabet characters, not yet a whole group
	nq     int
	comp   []byte // compacted alphabet characters of the current chunk
	out    []byte // decoded bytes not yet returned (window of outBuf)
	outBuf []byte
	err    error
	wbuf   []byte // WriteTo's buffer
	padded bool   // the last group ended with "="
	bad    bool   // DefectBase64Characters reported
	pad    bool   // DefectBase64Padding reported
}

func (d *base64Decoder) reset(src chunkSource, sink defectSink) {
	d.src, d.sink = src, sink
	d.nq, d.out, d.err, d.bad, d.pad, d.padded = 0, nil, nil, false, false, false
}

func (d *base64Decoder) defect(k DefectKind) {
	switch k {
	case DefectBase64Characters:
		if d.bad {
			return
		}
		d.bad = true
	case DefectBase64Padding:
		if d.pad {
			return
		}
		d.pad = true
	}
	if d.sink != nil {
		d.sink.defect(k)
	}
}

func (d *base64Decoder) Read(p []byte) (int, error) {
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
		// At most 4 KiB of raw input per chunk: d.comp, which holds a
		// chunk's characters, stays small however big p is.
		max := min(len(p)/3*4+4, 4<<10)
		if max < 512 {
			max = 512
		}
		chunk, err := d.src.nextChunk(max)
		if len(chunk) > 0 {
			n := d.decodeChunk(chunk, p)
			if err != nil {
				d.err = err
			}
			if n > 0 {
				return n, nil
			}
			continue
		}
		if err == nil {
			continue
		}
		d.err = err
		if err == io.EOF {
			d.finish()
		}
	}
}

// WriteTo decodes everything to w without an intermediate copy through
// the caller's buffer (io.Copy uses it).
func (d *base64Decoder) WriteTo(w io.Writer) (int64, error) {
	if d.wbuf == nil {
		d.wbuf = make([]byte, 16<<10)
	}
	buf := d.wbuf
	var total int64
	for {
		n, err := d.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
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

// finish flushes a final partial group at the end of the input.
func (d *base64Decoder) finish() {
	switch d.nq {
	case 0:
		return
	case 1:
		d.defect(DefectBase64Length)
		d.nq = 0
		return
	}
	d.defect(DefectBase64Padding)
	d.out = d.flushQuad(d.outBuf[:0])
}

// flushQuad decodes a partial group of 2 or 3 characters (as if padded)
// and appends the result to dst.
func (d *base64Decoder) flushQuad(dst []byte) []byte {
	var q [4]byte
	copy(q[:], d.quad[:d.nq])
	for i := d.nq; i < 4; i++ {
		q[i] = '='
	}
	var o [3]byte
	n, _ := base64.StdEncoding.Decode(o[:], q[:])
	d.nq = 0
	return append(dst, o[:n]...)
}

// decodeChunk decodes one raw chunk. Decoded bytes go into p when they
// fit, else into d.out; it returns how many went into p.
func (d *base64Decoder) decodeChunk(chunk, p []byte) int {
	// Fast path: copy the characters of each line, minus the line break,
	// behind the carried partial group; then decode the whole groups at
	// once. Anything unusual makes Decode fail and the slow path filter.
	need := d.nq + len(chunk)
	if cap(d.comp) < need {
		// Read asks for chunks of at most 4 KiB: one allocation fits
		// every later chunk, plus the carried partial group.
		d.comp = make([]byte, 0, max(need, 4<<10+4))
	}
	comp := append(d.comp[:0], d.quad[:d.nq]...)
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, '\n')
		var line []byte
		if i < 0 {
			line, chunk = chunk, nil
		} else {
			line, chunk = chunk[:i], chunk[i+1:]
		}
		for len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		comp = append(comp, line...)
	}
	d.comp = comp
	whole := len(comp) &^ 3
	dst := d.dst(p, whole/4*3+3)
	n, err := base64.StdEncoding.Decode(dst, comp[:whole])
	d.nq = 0
	if err != nil {
		// Slow path over the same characters.
		return d.place(p, d.slow(dst[:0], comp))
	}
	if n > 0 {
		d.padded = comp[whole-1] == '='
	}
	return d.place(p, d.slow(dst[:n], comp[whole:]))
}

// dst returns a buffer for up to n decoded bytes: p itself when it is big
// enough, else the decoder's own buffer.
func (d *base64Decoder) dst(p []byte, n int) []byte {
	if len(p) >= n {
		return p[:n]
	}
	if cap(d.outBuf) < n {
		d.outBuf = make([]byte, n)
	}
	return d.outBuf[:n]
}

// place records decoded bytes b: if they are in p (b aliases p's start)
// it returns len(b), else they are kept in d.out for later reads.
func (d *base64Decoder) place(p, b []byte) int {
	if len(b) == 0 {
		return 0
	}
	if len(p) > 0 && &b[0] == &p[0] {
		return len(b)
	}
	d.out = b
	return 0
}

// slow decodes comp byte by byte with the tolerant rules, appending to dst
// (which has room for len(comp)/4*3+3 bytes), and leaves a partial group
// in d.quad.
func (d *base64Decoder) slow(dst, comp []byte) []byte {
	for _, c := range comp {
		switch b64class[c] {
		case b64Alpha:
			d.padded = false
			d.quad[d.nq] = c
			d.nq++
			if d.nq == 4 {
				var o [3]byte
				base64.StdEncoding.Decode(o[:], d.quad[:])
				dst = append(dst, o[:]...)
				d.nq = 0
			}
		case b64Pad:
			// "=" completes a group of 2 or 3; anywhere else it is stray.
			switch {
			case d.nq >= 2:
				dst = d.flushQuad(dst)
				d.padded = true
			case d.nq == 1 || !d.padded:
				d.defect(DefectBase64Padding)
			}
		case b64Space:
		default:
			d.defect(DefectBase64Characters)
		}
	}
	return dst
}
