package mime

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// maxWordLength is the longest encoded word allowed (RFC 2047 §2).
const maxWordLength = 75

// EncodeWords returns s ready for an unstructured header field such as
// Subject (RFC 2047 §5(1)): unchanged if it is printable ASCII that could
// not be mistaken for encoded words, otherwise with the stretch from the
// first to the last word that needs it written as UTF-8 encoded words, Q or
// B, whichever is shorter. Each encoded word is at most 75 characters and
// never splits a UTF-8 sequence; the words are separated by spaces, where
// Header.Add folds the line. CR and LF become spaces.
func EncodeWords(s string) string {
	return encodeWords(s, maxWordLength)
}

// encodeWords is EncodeWords with the first encoded word limited to first
// characters (at least 20), so that it fits on the line after a field name.
func encodeWords(s string, first int) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	// Find the first and last whitespace-separated words that need encoding.
	start, end := -1, -1
	for i := 0; i < len(s); {
		for i < len(s) && isWSP(s[i]) {
			i++
		}
		j := i
		for j < len(s) && !isWSP(s[j]) {
			j++
		}
		if j > i && wordNeedsEncoding(s[i:j]) {
			if start < 0 {
				start = i
			}
			end = j
		}
		i = j
	}
	if start < 0 {
		return s
	}
	var b strings.Builder
	b.WriteString(s[:start])
	if start > 0 {
		first = maxWordLength
	}
	appendEncodedWords(&b, s[start:end], first)
	b.WriteString(s[end:])
	return b.String()
}

func wordNeedsEncoding(w string) bool {
	if strings.Contains(w, "=?") {
		return true // could start an encoded word when read back
	}
	for i := 0; i < len(w); i++ {
		if c := w[i]; c < 0x20 || c >= 0x7f {
			return true
		}
	}
	return false
}

// qSafe reports whether c may appear literally in Q text anywhere, even in
// a phrase (RFC 2047 §5(3)).
func qSafe(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '!' || c == '*' || c == '+' || c == '-' || c == '/'
}

func qLen(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if qSafe(s[i]) || s[i] == ' ' {
			n++
		} else {
			n += 3
		}
	}
	return n
}

// appendEncodedWords writes s (valid UTF-8 assumed; invalid bytes become
// U+FFFD) as space-separated "=?utf-8?q?...?=" or "=?utf-8?b?...?=" words.
func appendEncodedWords(b *strings.Builder, s string, first int) {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	useB := base64.StdEncoding.EncodedLen(len(s)) < qLen(s)
	const overhead = len("=?utf-8?q??=")
	limit := max(first, 20) - overhead
	written := 0
	for len(s) > 0 {
		// Take as many whole runes as fit in this word.
		n, size := 0, 0
		for n < len(s) {
			_, rl := utf8.DecodeRuneInString(s[n:])
			var add int
			if useB {
				add = base64.StdEncoding.EncodedLen(n+rl) - size
			} else {
				add = qLen(s[n : n+rl])
			}
			if size+add > limit && n > 0 {
				break
			}
			n += rl
			size += add
		}
		if written > 0 {
			b.WriteByte(' ')
		}
		chunk := s[:n]
		if useB {
			b.WriteString("=?utf-8?b?")
			b.WriteString(base64.StdEncoding.EncodeToString([]byte(chunk)))
		} else {
			b.WriteString("=?utf-8?q?")
			for i := 0; i < len(chunk); i++ {
				c := chunk[i]
				switch {
				case c == ' ':
					b.WriteByte('_')
				case qSafe(c):
					b.WriteByte(c)
				default:
					b.WriteByte('=')
					b.WriteByte("0123456789ABCDEF"[c>>4])
					b.WriteByte("0123456789ABCDEF"[c&15])
				}
			}
		}
		b.WriteString("?=")
		written++
		s = s[n:]
		limit = maxWordLength - overhead
	}
}
