package mime

import (
	"strings"
	"unicode/utf8"
)

// DecodeWords decodes the RFC 2047 encoded words in s and returns the text
// in UTF-8. It decodes B and Q, drops white space between adjacent encoded
// words (RFC 2047 §6.2), and tolerates what real mail does wrong: encoded
// words inside quoted strings or words with no space around them, bad
// base64 padding, and multibyte characters split across words (the bytes
// of adjacent words in one charset are joined before they are decoded).
//
// CR and LF inside encoded words decode to spaces, so a decoded value can
// never break a header line. The error is soft: DecodeWords always returns
// the best text it could. A
// word in a charset it does not know is kept as written and reported as
// *UnknownCharsetError; malformed words are kept as written.
func DecodeWords(s string) (string, error) {
	if !strings.Contains(s, "=?") {
		return s, nil
	}
	var (
		out      strings.Builder
		soft     error
		pending  []byte // decoded bytes of a run of words in one charset
		pendCS   string
		lastWord bool // the previous token was an encoded word
	)
	out.Grow(len(s))
	// Past the last "?=" no word can end.
	total, lastEnd := len(s), strings.LastIndex(s, "?=")
	flush := func() {
		if pendCS == "" && pending == nil {
			return
		}
		if isUTF8Label(pendCS) && utf8.Valid(pending) {
			writeNoEOL(&out, pending)
			pending, pendCS = pending[:0], ""
			return
		}
		txt, err := decodeCharset(pendCS, pending)
		if err != nil && soft == nil {
			soft = err
		}
		writeNoEOL(&out, []byte(txt))
		pending, pendCS = pending[:0], ""
	}
	for len(s) > 0 {
		i := strings.Index(s, "=?")
		if i < 0 {
			flush()
			out.WriteString(s)
			break
		}
		lit := s[:i]
		w, ok := parseWord(s[i:])
		if !ok && total-len(s)+i+2 > lastEnd {
			// No word can end after this point: the rest is text. This
			// also keeps hostile input ("=?" repeated) linear.
			flush()
			out.WriteString(s)
			break
		}
		if !ok {
			// Not an encoded word: keep "=?" as text.
			flush()
			out.WriteString(s[:i+2])
			s = s[i+2:]
			lastWord = false
			continue
		}
		if lit != "" && !(lastWord && isAllWSP(lit)) {
			flush()
			out.WriteString(lit)
		}
		s = s[i+len(w.raw):]
		if pendCS != "" && strings.EqualFold(pendCS, w.charset) {
			// same charset as the run: known to be valid
		} else if _, err := CharsetEncoding(w.charset); err != nil {
			flush()
			if soft == nil {
				soft = err
			}
			out.WriteString(w.raw)
			lastWord = false // kept as text, so is the space after it
			continue
		}
		if pendCS != "" && !strings.EqualFold(pendCS, w.charset) {
			flush()
		}
		pendCS = w.charset
		if w.b {
			pending = appendBase64(pending, w.text)
		} else {
			pending = appendQ(pending, w.text)
		}
		lastWord = true
	}
	flush()
	return out.String(), soft
}

// writeNoEOL writes decoded text with CR and LF turned into spaces: an
// encoded word may not hold them (RFC 2047 §5), and a decoded value must
// never carry a line break into a header someone writes later.
func writeNoEOL(out *strings.Builder, b []byte) {
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\r' && b[i] != '\n' {
			i++
		}
		out.Write(b[:i])
		if i < len(b) {
			out.WriteByte(' ')
			i++
		}
		b = b[i:]
	}
}

func isAllWSP(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isWSP(c) && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// maxWordScan bounds the length of an encoded word we look for.
const maxWordScan = 2048

type encodedWord struct {
	raw     string // the whole word, "=?" to "?="
	charset string // without any RFC 2231 language
	b       bool   // B encoding, else Q
	text    string
}

// parseWord parses the encoded word at the start of s (RFC 2047 §2):
// "=?" charset "?" encoding "?" encoded-text "?=".
func parseWord(s string) (encodedWord, bool) {
	var w encodedWord
	rest := s[2:]
	q := strings.IndexByte(rest, '?')
	if q <= 0 || q > 64 {
		return w, false
	}
	cs := rest[:q]
	if strings.ContainsAny(cs, " \t\r\n=") {
		return w, false
	}
	if star := strings.IndexByte(cs, '*'); star >= 0 { // RFC 2231 §5
		cs = cs[:star]
	}
	if cs == "" {
		return w, false
	}
	rest = rest[q+1:]
	if len(rest) < 2 || rest[1] != '?' {
		return w, false
	}
	switch rest[0] {
	case 'B', 'b':
		w.b = true
	case 'Q', 'q':
	default:
		return w, false
	}
	rest = rest[2:]
	// Look for the end within maxWordScan bytes: real words are short
	// (75), broken ones a little longer; this keeps scanning linear.
	end := strings.Index(rest[:min(len(rest), maxWordScan)], "?=")
	if end < 0 {
		return w, false
	}
	text := rest[:end]
	if strings.Contains(text, "=?") {
		return w, false // the "?=" ends a later word
	}
	// Encoded text has no white space (RFC 2047 §5); a run with white
	// space is probably not a word at all, unless a mailer emitted Q text
	// with raw spaces, which we accept when short.
	if strings.ContainsAny(text, "\r\n") || (strings.ContainsAny(text, " \t") && (w.b || len(text) > 200)) {
		return w, false
	}
	w.charset = cs
	w.text = text
	w.raw = s[:2+q+1+2+end+2]
	return w, true
}

// appendQ decodes RFC 2047 §4.2 Q text: "_" is a space, "=XX" a byte.
// A malformed "=" escape is kept as written.
func appendQ(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '_':
			b = append(b, ' ')
		case '=':
			if i+2 < len(s) {
				if h, l := hexDigit(s[i+1]), hexDigit(s[i+2]); h >= 0 && l >= 0 {
					b = append(b, byte(h<<4|l))
					i += 2
					continue
				}
			}
			b = append(b, c)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendBase64 decodes base64 leniently: characters outside the alphabet
// are skipped, padding is optional, and decoding stops at the first '='.
func appendBase64(b []byte, s string) []byte {
	var acc uint32
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '=' {
			break
		}
		v := b64val(c)
		if v < 0 {
			continue
		}
		acc = acc<<6 | uint32(v)
		n++
		if n == 4 {
			b = append(b, byte(acc>>16), byte(acc>>8), byte(acc))
			acc, n = 0, 0
		}
	}
	switch n {
	case 2:
		b = append(b, byte(acc>>4))
	case 3:
		b = append(b, byte(acc>>10), byte(acc>>2))
	}
	return b
}
