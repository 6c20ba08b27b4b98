package mime

import (
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/transform"
)

// asciiCompat decodes text labelled US-ASCII: valid UTF-8 passes through
// and any other byte is read as Windows-1252, the two things such text
// holds in practice.
var asciiCompat encoding.Encoding = asciiCompatEncoding{}

type asciiCompatEncoding struct{}

func (asciiCompatEncoding) NewDecoder() *encoding.Decoder {
	return &encoding.Decoder{Transformer: utf8OrCP1252{}}
}

func (asciiCompatEncoding) NewEncoder() *encoding.Encoder {
	return &encoding.Encoder{Transformer: encoding.UTF8Validator}
}

type utf8OrCP1252 struct{ transform.NopResetter }

func (utf8OrCP1252) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		c := src[nSrc]
		if c < utf8.RuneSelf {
			if nDst >= len(dst) {
				return nDst, nSrc, transform.ErrShortDst
			}
			dst[nDst] = c
			nDst++
			nSrc++
			continue
		}
		r, size := utf8.DecodeRune(src[nSrc:])
		if r == utf8.RuneError && size == 1 {
			if !atEOF && !utf8.FullRune(src[nSrc:]) {
				return nDst, nSrc, transform.ErrShortSrc
			}
			r = charmap.Windows1252.DecodeByte(c)
		}
		if nDst+utf8.RuneLen(r) > len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		nDst += utf8.EncodeRune(dst[nDst:], r)
		nSrc += size
	}
	return nDst, nSrc, nil
}

// utf7Encoding decodes UTF-7 (RFC 2152). Encoding to UTF-7 is not
// supported: its encoder only validates UTF-8.
type utf7Encoding struct{}

func (utf7Encoding) NewDecoder() *encoding.Decoder {
	return &encoding.Decoder{Transformer: &utf7Decoder{}}
}

func (utf7Encoding) NewEncoder() *encoding.Encoder {
	return &encoding.Encoder{Transformer: encoding.UTF8Validator}
}

type utf7Decoder struct {
	inB64 bool
	start bool // just after '+'
	bits  uint32
	nbits uint
	high  rune // pending high surrogate, or 0
}

func (d *utf7Decoder) Reset() { *d = utf7Decoder{} }

func b64val(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	}
	return -1
}

func (d *utf7Decoder) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	emit := func(r rune) {
		nDst += utf8.EncodeRune(dst[nDst:], r)
	}
	for nSrc < len(src) {
		if len(dst)-nDst < 8 {
			return nDst, nSrc, transform.ErrShortDst
		}
		c := src[nSrc]
		if !d.inB64 {
			if c == '+' {
				d.inB64, d.start, d.bits, d.nbits = true, true, 0, 0
			} else {
				emit(rune(c))
				if c >= utf8.RuneSelf {
					nDst -= utf8.RuneLen(rune(c))
					emit(utf8.RuneError)
				}
			}
			nSrc++
			continue
		}
		v := b64val(c)
		if v < 0 {
			// End of the base64 run; '-' is absorbed, "+-" is '+'.
			if d.start && c == '-' {
				emit('+')
			}
			if d.high != 0 {
				emit(utf8.RuneError)
				d.high = 0
			}
			d.inB64 = false
			if c != '-' {
				continue // reprocess as a direct character
			}
			nSrc++
			continue
		}
		d.start = false
		d.bits = d.bits<<6 | uint32(v)
		d.nbits += 6
		nSrc++
		if d.nbits >= 16 {
			d.nbits -= 16
			u := rune(d.bits >> d.nbits & 0xFFFF)
			d.bits &= 1<<d.nbits - 1
			switch {
			case u >= 0xD800 && u < 0xDC00:
				if d.high != 0 {
					emit(utf8.RuneError)
				}
				d.high = u
			case u >= 0xDC00 && u < 0xE000:
				if d.high != 0 {
					emit((d.high-0xD800)<<10 + (u - 0xDC00) + 0x10000)
					d.high = 0
				} else {
					emit(utf8.RuneError)
				}
			default:
				if d.high != 0 {
					emit(utf8.RuneError)
					d.high = 0
				}
				emit(u)
			}
		}
	}
	if atEOF && d.high != 0 {
		if len(dst)-nDst < 3 {
			return nDst, nSrc, transform.ErrShortDst
		}
		emit(utf8.RuneError)
		d.high = 0
	}
	return nDst, nSrc, nil
}
