package smtp

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// Param is one ESMTP parameter (RFC 5321 §4.1.2: esmtp-keyword
// ["=" esmtp-value]).
type Param struct {
	// Key is the keyword as sent; compare with strings.EqualFold.
	Key string
	// Value is the value; empty when the parameter had none.
	Value string
	// HasValue reports whether "=" was present.
	HasValue bool
}

// Params is a list of ESMTP parameters in wire order.
type Params []Param

// Get returns the value of the first parameter named key (case-insensitive).
func (ps Params) Get(key string) (value string, ok bool) {
	for _, p := range ps {
		if strings.EqualFold(p.Key, key) {
			return p.Value, true
		}
	}
	return "", false
}

// ParamError reports a malformed or unacceptable ESMTP parameter.
type ParamError struct {
	// Param is the offending text, truncated.
	Param string
	// Reason says what is wrong.
	Reason string
}

// Error implements error.
func (e *ParamError) Error() string {
	return "smtp: bad parameter " + quoteShort(e.Param) + ": " + e.Reason
}

// ParseParams parses SP-separated esmtp-params. At most max parameters are
// accepted (0 means 16). Values may contain UTF-8 (RFC 6531 §3.3).
func ParseParams(s string, max int) (Params, error) {
	if max <= 0 {
		max = 16
	}
	var ps Params
	if s != "" {
		ps = make(Params, 0, min(strings.Count(s, " ")+1, max))
	}
	for s != "" {
		var word string
		word, s, _ = strings.Cut(s, " ")
		if word == "" {
			continue // tolerate repeated spaces
		}
		if len(ps) >= max {
			return nil, &ParamError{Param: word, Reason: "too many parameters"}
		}
		key, value, hasValue := strings.Cut(word, "=")
		if !isKeyword(key) {
			return nil, &ParamError{Param: word, Reason: "bad keyword"}
		}
		if hasValue && !isParamValue(value) {
			return nil, &ParamError{Param: word, Reason: "bad value"}
		}
		ps = append(ps, Param{Key: key, Value: value, HasValue: hasValue})
	}
	return ps, nil
}

// Append appends " KEY[=VALUE]" for each parameter to buf, after checking
// that keys and values follow the grammar so none can add a parameter or a
// line to the command.
func (ps Params) Append(buf []byte) ([]byte, error) {
	for _, p := range ps {
		if !isKeyword(p.Key) {
			return buf, &ParamError{Param: p.Key, Reason: "bad keyword"}
		}
		buf = append(buf, ' ')
		buf = append(buf, p.Key...)
		if p.HasValue || p.Value != "" {
			if !isParamValue(p.Value) {
				return buf, &ParamError{Param: p.Key + "=" + p.Value, Reason: "bad value"}
			}
			buf = append(buf, '=')
			buf = append(buf, p.Value...)
		}
	}
	return buf, nil
}

// esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
func isKeyword(s string) bool {
	if s == "" || s[0] == '-' || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// esmtp-value = 1*(%d33-60 / %d62-126 / UTF8-non-ascii)
func isParamValue(s string) bool {
	if s == "" || len(s) > 512 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 33 || c == '=' || c == 127 {
			return false
		}
	}
	return utf8.ValidString(s)
}

// ErrBadCommand reports a command line that is not a command.
var ErrBadCommand = errors.New("smtp: malformed command line")

// ParseCommand splits a command line (without CRLF) into its verb, upper-
// cased, and argument (RFC 5321 §4.1.1). The verb is 1-16 letters or
// digits; a line with control characters or invalid UTF-8 is rejected.
func ParseCommand(line []byte) (verb, arg string, err error) {
	i := 0
	for i < len(line) && line[i] != ' ' {
		c := line[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return "", "", ErrBadCommand
		}
		i++
	}
	if i == 0 || i > 16 {
		return "", "", ErrBadCommand
	}
	for j := i; j < len(line); j++ {
		if c := line[j]; c < ' ' || c == 0x7f {
			return "", "", ErrBadCommand
		}
	}
	verb = upperVerb(line[:i])
	if i < len(line) {
		arg = string(line[i+1:])
		if !utf8.ValidString(arg) {
			return "", "", ErrBadCommand
		}
	}
	return verb, arg, nil
}

// upperVerb returns the upper-case verb, without allocating for the
// common commands.
func upperVerb(b []byte) string {
	var up [16]byte
	n := copy(up[:], b)
	for i := 0; i < n; i++ {
		if c := up[i]; c >= 'a' && c <= 'z' {
			up[i] = c - 32
		}
	}
	switch s := up[:n]; string(s) {
	case "MAIL":
		return "MAIL"
	case "RCPT":
		return "RCPT"
	case "DATA":
		return "DATA"
	case "BDAT":
		return "BDAT"
	case "EHLO":
		return "EHLO"
	case "HELO":
		return "HELO"
	case "LHLO":
		return "LHLO"
	case "RSET":
		return "RSET"
	case "NOOP":
		return "NOOP"
	case "QUIT":
		return "QUIT"
	case "AUTH":
		return "AUTH"
	case "STARTTLS":
		return "STARTTLS"
	default:
		return string(s)
	}
}

// cutPrefixFold removes prefix from s ignoring ASCII case.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// ParseMailArg parses the argument of MAIL: "FROM:<reverse-path> [params]"
// (RFC 5321 §4.1.1.2). One space after the colon is tolerated.
func ParseMailArg(arg string, maxParams int) (Mailbox, Params, error) {
	rest, ok := cutPrefixFold(arg, "FROM:")
	if !ok {
		return Mailbox{}, nil, ErrBadCommand
	}
	rest = strings.TrimPrefix(rest, " ")
	m, rest, err := ParsePath(rest, true, false)
	if err != nil {
		return Mailbox{}, nil, err
	}
	ps, err := splitParams(rest, maxParams)
	return m, ps, err
}

// ParseRcptArg parses the argument of RCPT: "TO:<forward-path> [params]"
// (RFC 5321 §4.1.1.3), accepting <Postmaster>.
func ParseRcptArg(arg string, maxParams int) (Mailbox, Params, error) {
	rest, ok := cutPrefixFold(arg, "TO:")
	if !ok {
		return Mailbox{}, nil, ErrBadCommand
	}
	rest = strings.TrimPrefix(rest, " ")
	m, rest, err := ParsePath(rest, false, true)
	if err != nil {
		return Mailbox{}, nil, err
	}
	ps, err := splitParams(rest, maxParams)
	return m, ps, err
}

func splitParams(rest string, maxParams int) (Params, error) {
	if rest == "" {
		return nil, nil
	}
	if rest[0] != ' ' {
		return nil, &ParamError{Param: rest, Reason: "missing space after path"}
	}
	return ParseParams(rest[1:], maxParams)
}
