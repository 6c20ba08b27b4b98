package mime

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParamError is a soft error from ParseMediaType: something in the value
// was malformed and skipped or repaired. The results returned with it are
// still usable.
type ParamError struct {
	Value  string // the header value, at most 200 bytes
	Reason string
}

func (e *ParamError) Error() string {
	return fmt.Sprintf("mime: malformed parameters (%s) in %q", e.Reason, e.Value)
}

// ErrNoMediaType is returned by ParseMediaType for a value with no media
// type (or disposition type) before its parameters.
var ErrNoMediaType = errors.New("mime: no media type")

// ParseMediaType parses a Content-Type or Content-Disposition value
// (RFC 2045 §5.1, RFC 2183) into its lower-case type and its parameters,
// with lower-case names and decoded values.
//
// RFC 2231 parameters are joined and decoded: continuations (name*0,
// name*1*, …) in any order, charset and language (the language is
// dropped), percent-encoding; a name* value wins over a plain one. Values
// that hold RFC 2047 encoded words, a common violation, are decoded too.
//
// Parsing is lenient, as real mail needs: unquoted values may contain
// specials and run to the next ';', a missing ';' or unterminated quote
// is repaired, a duplicate keeps the first value, and a name without a
// value is skipped. Each such repair is reported as a *ParamError (the
// first one only), and the results are usable whenever mediatype is not
// empty. An unknown RFC 2231 charset yields *UnknownCharsetError with the
// value left as its percent-decoded bytes.
func ParseMediaType(v string) (mediatype string, params map[string]string, err error) {
	var soft error
	note := func(reason string) {
		if soft == nil {
			if len(v) > 200 {
				soft = &ParamError{Value: v[:200], Reason: reason}
			} else {
				soft = &ParamError{Value: v, Reason: reason}
			}
		}
	}
	s := v
	i := strings.IndexByte(s, ';')
	if i < 0 {
		i = len(s)
	}
	mediatype = strings.ToLower(strings.TrimSpace(stripComments(s[:i])))
	if strings.ContainsAny(mediatype, " \t") { // "text / plain"
		mediatype = strings.Join(strings.FieldsFunc(mediatype, func(r rune) bool { return r == ' ' || r == '\t' }), "")
	}
	s = s[i:]

	type segment struct {
		n       int
		encoded bool
		value   string
	}
	params = make(map[string]string)
	var ext map[string][]segment
	for {
		s = skipCFWS(s)
		if s == "" {
			break
		}
		if s[0] == ';' {
			s = s[1:]
			continue
		}
		// attribute
		j := 0
		for j < len(s) && s[j] != '=' && s[j] != ';' {
			j++
		}
		name := strings.ToLower(strings.TrimSpace(s[:j]))
		if j == len(s) || s[j] == ';' {
			if name != "" {
				note("parameter without value")
			}
			s = s[j:]
			continue
		}
		s = skipWSP(s[j+1:])
		var value string
		if s != "" && s[0] == '"' {
			var ok bool
			value, s, ok = quotedString(s)
			if !ok {
				note("unterminated quoted string")
			}
			// Text after the closing quote up to ';' is dropped.
			if k := strings.IndexByte(s, ';'); k > 0 && strings.TrimSpace(stripComments(s[:k])) != "" {
				note("text after quoted string")
				s = s[k:]
			} else if k < 0 && strings.TrimSpace(stripComments(s)) != "" {
				note("text after quoted string")
				s = ""
			}
		} else {
			k := strings.IndexByte(s, ';')
			if k < 0 {
				k = len(s)
			}
			value = strings.TrimSpace(stripComments(s[:k]))
			next := s[k:]
			if !isToken(value) && !strings.HasSuffix(name, "*") {
				if nv, rest, ok := splitMissingSemicolon(value); ok {
					note("missing ';'")
					value = nv
					next = ";" + rest + next
				} else if strings.ContainsAny(value, "()<>@,;:\\\"[]?=") {
					note("unquoted special in value")
				}
			}
			s = next
		}
		if name == "" {
			note("empty parameter name")
			continue
		}
		// RFC 2231 §3, §4: name*, name*N, name*N*.
		if star := strings.IndexByte(name, '*'); star >= 0 {
			base, rest := name[:star], name[star+1:]
			seg := segment{}
			switch {
			case rest == "":
				seg.encoded = true
			default:
				enc := strings.HasSuffix(rest, "*")
				num := strings.TrimSuffix(rest, "*")
				n, err := strconv.Atoi(num)
				if err != nil || n < 0 || n > 999 || (len(num) > 1 && num[0] == '0') {
					note("bad RFC 2231 section number")
					continue
				}
				seg.n, seg.encoded = n, enc
			}
			seg.value = value
			if ext == nil {
				ext = make(map[string][]segment)
			}
			dup := false
			for _, o := range ext[base] {
				if o.n == seg.n {
					dup = true
				}
			}
			if dup {
				note("duplicate parameter")
				continue
			}
			ext[base] = append(ext[base], seg)
			continue
		}
		if _, dup := params[name]; dup {
			note("duplicate parameter")
			continue
		}
		if strings.Contains(value, "=?") {
			if d, err := DecodeWords(value); err == nil {
				value = d
			}
		}
		params[name] = value
	}
	for base, segs := range ext {
		sort.Slice(segs, func(a, b int) bool { return segs[a].n < segs[b].n })
		var raw []byte
		charset := ""
		for idx, sg := range segs {
			if sg.n != idx {
				note("missing RFC 2231 section")
				break
			}
			val := sg.value
			if sg.encoded {
				if idx == 0 {
					// charset'language'value (RFC 2231 §4)
					if q1 := strings.IndexByte(val, '\''); q1 >= 0 {
						if q2 := strings.IndexByte(val[q1+1:], '\''); q2 >= 0 {
							charset = val[:q1]
							val = val[q1+1+q2+1:]
						}
					}
				}
				raw = appendPercentDecoded(raw, val)
			} else {
				raw = append(raw, val...)
			}
		}
		value, err := decodeCharset(charset, raw)
		if err != nil && soft == nil {
			soft = err
		}
		params[base] = value
	}
	if mediatype == "" {
		return "", params, ErrNoMediaType
	}
	return mediatype, params, soft
}

// decodeCharset converts raw from charset to UTF-8. An empty charset means
// UTF-8 if the bytes are valid, Windows-1252 otherwise.
func decodeCharset(charset string, raw []byte) (string, error) {
	if charset == "" || isUTF8Label(charset) {
		if utf8.Valid(raw) {
			return string(raw), nil
		}
		charset = "us-ascii"
	}
	dec, err := CharsetDecoder(charset)
	if err != nil {
		return string(raw), err
	}
	out, err := dec.Bytes(raw)
	if err != nil {
		return string(raw), err
	}
	return string(out), nil
}

func isUTF8Label(c string) bool {
	return strings.EqualFold(c, "utf-8") || strings.EqualFold(c, "utf8") || strings.EqualFold(c, "us-ascii")
}

func appendPercentDecoded(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if h, l := hexDigit(s[i+1]), hexDigit(s[i+2]); h >= 0 && l >= 0 {
				b = append(b, byte(h<<4|l))
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return b
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// splitMissingSemicolon finds "value name=..." where a ';' was left out:
// the value ends at white space followed by a token and '='.
func splitMissingSemicolon(v string) (value, rest string, ok bool) {
	i := strings.IndexAny(v, " \t")
	if i <= 0 || !isToken(v[:i]) {
		return "", "", false
	}
	j := i
	for j < len(v) && isWSP(v[j]) {
		j++
	}
	k := j
	for k < len(v) && isTokenChar(v[k]) {
		k++
	}
	if k > j && k < len(v) && v[k] == '=' {
		return v[:i], v[j:], true
	}
	return "", "", false
}

// quotedString parses a quoted-string at the start of s (RFC 5322 §3.2.4)
// and returns its content unescaped and the rest. ok is false if the
// closing quote is missing; the content then runs to the end of s.
func quotedString(s string) (value, rest string, ok bool) {
	if end := strings.IndexAny(s[1:], "\"\\\r\n"); end >= 0 && s[1+end] == '"' {
		return s[1 : 1+end], s[2+end:], true
	}
	var sb strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return sb.String(), s[i+1:], true
		case '\\':
			if i+1 < len(s) {
				i++
				if s[i] != '\r' && s[i] != '\n' {
					sb.WriteByte(s[i])
				}
			}
		case '\r', '\n':
			// folded line inside the quotes: unfold
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String(), "", false
}

// skipWSP skips spaces, tabs, CR and LF.
func skipWSP(s string) string {
	for len(s) > 0 && (isWSP(s[0]) || s[0] == '\r' || s[0] == '\n') {
		s = s[1:]
	}
	return s
}

// skipCFWS skips white space and comments (RFC 5322 §3.2.2).
func skipCFWS(s string) string {
	for {
		s = skipWSP(s)
		if s == "" || s[0] != '(' {
			return s
		}
		_, s = comment(s)
	}
}

// comment returns the comment at the start of s (which starts with '(')
// without its parentheses, and the rest. Nested comments are allowed; an
// unterminated comment runs to the end.
func comment(s string) (text, rest string) {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return s[1:i], s[i+1:]
			}
		}
	}
	if len(s) > 0 {
		return s[1:], ""
	}
	return "", ""
}

// stripComments removes comments outside quoted strings.
func stripComments(s string) string {
	if !strings.Contains(s, "(") {
		return s
	}
	var sb strings.Builder
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			sb.WriteByte(c)
			i++
			sb.WriteByte(s[i])
			continue
		case c == '"':
			inQuote = !inQuote
		case c == '(' && !inQuote:
			_, rest := comment(s[i:])
			i = len(s) - len(rest) - 1
			sb.WriteByte(' ')
			continue
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// isTokenChar reports whether c may appear in an RFC 2045 token.
func isTokenChar(c byte) bool {
	return c > 32 && c < 127 && !strings.ContainsRune("()<>@,;:\\\"/[]?=", rune(c))
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}
