package mime

import (
	"encoding/binary"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/transform"
)

// NewCharsetReader returns a reader that converts text in the named
// charset to UTF-8. UTF-8 and US-ASCII (and an empty name) pass through;
// ISO-8859-1 has a fast path; everything else goes through
// CharsetEncoding. ok is false for
// an unknown charset, and r is then returned unchanged.
func NewCharsetReader(charset string, r io.Reader) (rr io.Reader, ok bool) {
	switch charsetClass(charset) {
	case csUTF8:
		return r, true
	case csLatin1:
		return &latin1Reader{r: r}, true
	}
	enc, err := CharsetEncoding(charset)
	if err != nil {
		return r, false
	}
	return transform.NewReader(r, enc.NewDecoder()), true
}

const (
	csUTF8 = iota
	csLatin1
	csOther
)

func charsetClass(cs string) int {
	cs = strings.TrimSpace(cs)
	switch {
	case cs == "", strings.EqualFold(cs, "utf-8"), strings.EqualFold(cs, "us-ascii"), strings.EqualFold(cs, "utf8"), strings.EqualFold(cs, "ascii"):
		return csUTF8
	case strings.EqualFold(cs, "iso-8859-1"), strings.EqualFold(cs, "latin1"), strings.EqualFold(cs, "iso_8859-1"), strings.EqualFold(cs, "latin-1"), strings.EqualFold(cs, "l1"):
		return csLatin1
	}
	return csOther
}

// latin1Reader converts ISO-8859-1 to UTF-8: each byte ≥ 0x80 becomes two.
type latin1Reader struct {
	r   io.Reader
	in  []byte
	out []byte // converted bytes not yet returned
	buf []byte
}

func (l *latin1Reader) Read(p []byte) (int, error) {
	if len(l.out) > 0 {
		n := copy(p, l.out)
		l.out = l.out[n:]
		return n, nil
	}
	if len(p) == 0 {
		return 0, nil
	}
	// Read at most half of p, so the result always fits in p.
	want := len(p) / 2
	if want == 0 {
		want = 1
	}
	if cap(l.in) < want {
		l.in = make([]byte, want)
	}
	n, err := l.r.Read(l.in[:want])
	in := l.in[:n]
	if len(p) >= 2*n {
		return latin1To(p, in), err
	}
	if cap(l.buf) < 2*n {
		l.buf = make([]byte, 2*n)
	}
	l.out = l.buf[:latin1To(l.buf, in)]
	k := copy(p, l.out)
	l.out = l.out[k:]
	return k, err
}

// latin1To writes in as UTF-8 to dst (room for 2*len(in)) and returns
// the length written.
func latin1To(dst, in []byte) int {
	j := 0
	for len(in) > 0 {
		// Copy runs of ASCII eight bytes at a time.
		for len(in) >= 8 && binary.LittleEndian.Uint64(in)&0x8080808080808080 == 0 {
			copy(dst[j:j+8], in[:8])
			j += 8
			in = in[8:]
		}
		// Then up to 8 bytes one by one.
		k := min(8, len(in))
		for _, c := range in[:k] {
			if c < utf8.RuneSelf {
				dst[j] = c
				j++
			} else {
				dst[j], dst[j+1] = 0xC0|c>>6, 0x80|c&0x3F
				j += 2
			}
		}
		in = in[k:]
	}
	return j
}

// WriteTo converts the rest of the input to w (used by io.Copy), with
// buffers larger than io.Copy's.
func (l *latin1Reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	if len(l.out) > 0 {
		n, err := w.Write(l.out)
		total += int64(n)
		l.out = nil
		if err != nil {
			return total, err
		}
	}
	if len(l.in) < 512 {
		l.in = make([]byte, 4<<10)
	}
	in := l.in[:len(l.in)]
	if cap(l.buf) < 2*len(in) {
		l.buf = make([]byte, 2*len(in))
	}
	out := l.buf[:2*len(in)]
	for {
		n, err := l.r.Read(in)
		if n > 0 {
			m, werr := w.Write(out[:latin1To(out, in[:n])])
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
