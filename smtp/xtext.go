package smtp

import "errors"

// EncodeXtext encodes s as xtext (RFC 3461 §4): "+" followed by two
// upper-case hex digits for '+', '=', and octets outside 33-126.
func EncodeXtext(s string) string {
	const hex = "0123456789ABCDEF"
	buf := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 33 || c > 126 || c == '+' || c == '=' {
			buf = append(buf, '+', hex[c>>4], hex[c&15])
			continue
		}
		buf = append(buf, c)
	}
	return string(buf)
}

// ErrBadXtext reports malformed xtext.
var ErrBadXtext = errors.New("smtp: malformed xtext")

// DecodeXtext decodes xtext (RFC 3461 §4). Octets outside 33-126 other
// than through "+XX", and a '=' anywhere, are rejected; lower-case hex
// digits are accepted.
func DecodeXtext(s string) (string, error) {
	buf := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			if i+2 >= len(s) {
				return "", ErrBadXtext
			}
			h, ok1 := unhex(s[i+1])
			l, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", ErrBadXtext
			}
			buf = append(buf, h<<4|l)
			i += 2
		case c < 33 || c > 126 || c == '=':
			return "", ErrBadXtext
		default:
			buf = append(buf, c)
		}
	}
	return string(buf), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
