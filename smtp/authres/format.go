package authres

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
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
	parts, err := h.parts()
	if err != nil {
		return "", err
	}
	return strings.Join(parts, " "), nil
}

// Field returns the whole header field, "Authentication-Results: " and
// the value folded with one result per line, ending in CRLF. Prepend it to
// the message (RFC 8601 §5: above the fields it describes).
func (h *Header) Field() (string, error) {
	parts, err := h.parts()
	if err != nil {
		return "", err
	}
	return "Authentication-Results: " + strings.Join(parts, "\r\n\t") + "\r\n", nil
}

// parts returns "authserv-id [version];" and then each result (each but
// the last ending in ";").
func (h *Header) parts() ([]string, error) {
	id, err := quoteValue(h.AuthServID)
	if err != nil || h.AuthServID == "" {
		return nil, fmt.Errorf("%w: authserv-id %q", ErrInvalid, h.AuthServID)
	}
	first := id
	if h.Version > 0 {
		first += " " + strconv.Itoa(h.Version)
	}
	first += ";"
	if len(h.Results) == 0 {
		return []string{first + " none"}, nil
	}
	parts := []string{first}
	for i, r := range h.Results {
		s, err := r.format()
		if err != nil {
			return nil, err
		}
		if i < len(h.Results)-1 {
			s += ";"
		}
		parts = append(parts, s)
	}
	return parts, nil
}

func (r *Result) format() (string, error) {
	if !isKeyword(r.Method) || !isKeyword(r.Value) {
		return "", fmt.Errorf("%w: method %q result %q", ErrInvalid, r.Method, r.Value)
	}
	var b strings.Builder
	b.WriteString(r.Method)
	if r.MethodVersion > 0 {
		b.WriteString("/" + strconv.Itoa(r.MethodVersion))
	}
	b.WriteString("=" + r.Value)
	if r.Reason != "" {
		q, err := quoteValue(r.Reason)
		if err != nil {
			return "", err
		}
		b.WriteString(" reason=" + q)
	}
	for _, p := range r.Props {
		if !isKeyword(p.Type) || !isKeyword(p.Name) {
			return "", fmt.Errorf("%w: property %q.%q", ErrInvalid, p.Type, p.Name)
		}
		v, err := quotePValue(p.Value)
		if err != nil {
			return "", err
		}
		b.WriteString(" " + p.Type + "." + p.Name + "=" + v)
	}
	return b.String(), nil
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

// quoteValue writes a value as a token when it is one, else as a quoted
// string. Control characters are refused.
func quoteValue(s string) (string, error) {
	token := s != ""
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' && c != '\t' || c == 0x7f {
			return "", fmt.Errorf("%w: control character in %q", ErrInvalid, clip(s))
		}
		token = token && isTokenChar(c)
	}
	if token {
		return s, nil
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`, nil
}

// quotePValue writes a property value: as is when it is a token or an
// address-like [local@]domain, else quoted.
func quotePValue(s string) (string, error) {
	if s != "" && !strings.ContainsAny(s, " \t;()\"\\") {
		for i := 0; i < len(s); i++ {
			if s[i] < ' ' || s[i] == 0x7f {
				return "", fmt.Errorf("%w: control character in %q", ErrInvalid, clip(s))
			}
		}
		return s, nil
	}
	return quoteValue(s)
}
