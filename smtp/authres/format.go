package authres

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrInvalid is wrapped by the errors of String and Field when a part
// cannot be written without changing its meaning or injecting text.
var ErrInvalid = errors.New("authres: invalid value")

// Format returns the field value, unfolded: "mx.example.org; dkim=pass
// header.d=example.com". Every part is checked: methods, results and
// property names must be keywords; the authserv-id, reasons and values are
// quoted when they are not tokens; control characters (CR, LF, NUL...)
// are refused, so nothing can be injected into the header.
func (h *Header) Format() (string, error) {
	b, err := h.appendFieldValue(nil, " ")
	return string(b), err
}

// Field returns the whole header field, "Authentication-Results: " and
// the value folded with one result per line, ending in CRLF. Prepend it to
// the message (RFC 8601 §5: above the fields it describes).
func (h *Header) Field() (string, error) {
	b, err := h.AppendField(nil)
	return string(b), err
}

// AppendField appends the field Field returns to dst, without the
// intermediate string: a server that prepends it to every message it
// receives reuses one buffer. On error dst is returned unchanged.
func (h *Header) AppendField(dst []byte) ([]byte, error) {
	n := len(dst)
	b := append(dst, "Authentication-Results: "...)
	b, err := h.appendFieldValue(b, "\r\n\t")
	if err != nil {
		return dst[:n], err
	}
	return append(b, "\r\n"...), nil
}

// appendFieldValue appends "authserv-id [version];" and then each result, each
// after sep and each but the last ending in ";".
func (h *Header) appendFieldValue(b []byte, sep string) ([]byte, error) {
	if h.AuthServID == "" {
		return b, fmt.Errorf("%w: authserv-id %q", ErrInvalid, h.AuthServID)
	}
	b, err := appendValue(b, h.AuthServID)
	if err != nil {
		return b, fmt.Errorf("%w: authserv-id %q", ErrInvalid, h.AuthServID)
	}
	if h.Version > 0 {
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(h.Version), 10)
	}
	b = append(b, ';')
	if len(h.Results) == 0 {
		return append(b, " none"...), nil
	}
	for i := range h.Results {
		b = append(b, sep...)
		if b, err = h.Results[i].appendTo(b); err != nil {
			return b, err
		}
		if i < len(h.Results)-1 {
			b = append(b, ';')
		}
	}
	return b, nil
}

func (r *Result) appendTo(b []byte) ([]byte, error) {
	if !isKeyword(r.Method) || !isKeyword(r.Value) {
		return b, fmt.Errorf("%w: method %q result %q", ErrInvalid, r.Method, r.Value)
	}
	b = append(b, r.Method...)
	if r.MethodVersion > 0 {
		b = append(b, '/')
		b = strconv.AppendInt(b, int64(r.MethodVersion), 10)
	}
	b = append(b, '=')
	b = append(b, r.Value...)
	var err error
	if r.Reason != "" {
		b = append(b, " reason="...)
		if b, err = appendValue(b, r.Reason); err != nil {
			return b, err
		}
	}
	for _, p := range r.Props {
		if !isKeyword(p.Type) || !isKeyword(p.Name) {
			return b, fmt.Errorf("%w: property %q.%q", ErrInvalid, p.Type, p.Name)
		}
		b = append(b, ' ')
		b = append(b, p.Type...)
		b = append(b, '.')
		b = append(b, p.Name...)
		b = append(b, '=')
		if b, err = appendPValue(b, p.Value); err != nil {
			return b, err
		}
	}
	return b, nil
}

func isKeyword(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isKeywordChar(s[i]) {
			return false
		}
	}
	return true
}

// appendValue appends a value as a token when it is one, else as a
// quoted string. Control characters are refused.
func appendValue(b []byte, s string) ([]byte, error) {
	token := s != ""
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' && c != '\t' || c == 0x7f {
			return b, fmt.Errorf("%w: control character in %q", ErrInvalid, clip(s))
		}
		token = token && isTokenChar(c)
	}
	if token {
		return append(b, s...), nil
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || c == '"' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"'), nil
}

// appendPValue appends a property value: as is when it is a token or an
// address-like [local@]domain, else quoted.
func appendPValue(b []byte, s string) ([]byte, error) {
	plain := s != ""
	for i := 0; i < len(s) && plain; i++ {
		switch c := s[i]; c {
		case ' ', '\t', ';', '(', ')', '"', '\\':
			plain = false
		default:
			if c < ' ' || c == 0x7f {
				return b, fmt.Errorf("%w: control character in %q", ErrInvalid, clip(s))
			}
		}
	}
	if plain {
		return append(b, s...), nil
	}
	return appendValue(b, s)
}
