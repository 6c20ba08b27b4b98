package spf

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// maxExpansion bounds what one macro-string may expand to. Expansion never
// re-expands its output, so a record costs at most its length times the
// longest value; this bound keeps even that small.
const maxExpansion = 8192

var (
	errMacroSyntax = errors.New("macro syntax error")
	errMacroLong   = errors.New("macro expansion too long")
)

// macroValue returns the value of a macro letter (lower case).
type macroValue func(letter byte) (string, error)

// checkMacroString checks macro-string (or, with exp, explain-string)
// syntax without expanding anything (RFC 7208 §7.1).
func checkMacroString(s string, exp bool) error {
	_, err := expandMacros(s, exp, func(byte) (string, error) { return "", nil })
	return err
}

// expandMacros expands s (RFC 7208 §7.3). In exp text (explain-string)
// spaces are allowed and the letters c, r and t too.
func expandMacros(s string, exp bool, value macroValue) (string, error) {
	var out strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '%' {
			if c < 0x21 || c > 0x7e {
				if !(exp && c == ' ') {
					return "", errMacroSyntax
				}
			}
			out.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return "", errMacroSyntax
		}
		switch s[i+1] {
		case '%':
			out.WriteByte('%')
			i += 2
			continue
		case '_':
			out.WriteByte(' ')
			i += 2
			continue
		case '-':
			out.WriteString("%20")
			i += 2
			continue
		case '{':
		default:
			return "", errMacroSyntax
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", errMacroSyntax
		}
		body := s[i+2 : i+end]
		i += end + 1
		v, err := expandOne(body, exp, value)
		if err != nil {
			return "", err
		}
		if out.Len()+len(v) > maxExpansion {
			return "", errMacroLong
		}
		out.WriteString(v)
	}
	return out.String(), nil
}

// expandOne expands the inside of one %{...}: macro-letter transformers
// *delimiter.
func expandOne(body string, exp bool, value macroValue) (string, error) {
	if body == "" {
		return "", errMacroSyntax
	}
	letter := body[0]
	upper := letter >= 'A' && letter <= 'Z'
	letter |= 0x20
	switch letter {
	case 's', 'l', 'o', 'd', 'i', 'p', 'h', 'v':
	case 'c', 'r', 't':
		if !exp {
			// RFC 7208 §7.2: allowed only in "exp" text.
			return "", errMacroSyntax
		}
	default:
		return "", errMacroSyntax
	}
	rest := body[1:]
	digits, n := 0, 0
	for n < len(rest) && isDigit(rest[n]) {
		if digits < 1000 {
			digits = digits*10 + int(rest[n]-'0')
		}
		n++
	}
	if n > 0 && digits == 0 {
		// RFC 7208 §7.3: "If a DIGIT is specified, the value MUST be
		// nonzero."
		return "", errMacroSyntax
	}
	rest = rest[n:]
	reverse := false
	if rest != "" && (rest[0] == 'r' || rest[0] == 'R') {
		reverse = true
		rest = rest[1:]
	}
	delims := "."
	if rest != "" {
		for i := 0; i < len(rest); i++ {
			if !strings.ContainsRune(".-+,/_=", rune(rest[i])) {
				return "", errMacroSyntax
			}
		}
		delims = rest
	}
	v, err := value(letter)
	if err != nil {
		return "", err
	}
	if n > 0 || reverse || delims != "." {
		parts := splitAny(v, delims)
		if reverse {
			for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
				parts[i], parts[j] = parts[j], parts[i]
			}
		}
		if n > 0 && digits < len(parts) {
			parts = parts[len(parts)-digits:]
		}
		v = strings.Join(parts, ".")
	}
	if upper {
		v = urlEscape(v)
	}
	return v, nil
}

// splitAny splits s at every byte in delims, keeping empty parts
// (RFC 7208 §7.3: no special treatment of empty parts).
func splitAny(s, delims string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(delims, s[i]) >= 0 {
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// urlEscape escapes everything outside RFC 3986's unreserved set.
func urlEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlpha(c) || isDigit(c) || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

// truncateDomain removes labels from the left until the name fits in 253
// octets (RFC 7208 §7.3).
func truncateDomain(d string) string {
	for len(strings.TrimSuffix(d, ".")) > 253 {
		i := strings.IndexByte(d, '.')
		if i < 0 {
			return ""
		}
		d = d[i+1:]
	}
	return d
}

// macros returns the macro values for expansion at domain.
func (e *eval) macros(ctx context.Context, domain string, exp bool) macroValue {
	return func(letter byte) (string, error) {
		switch letter {
		case 's':
			e.personal = true
			return e.sender, nil
		case 'l':
			e.personal = true
			return e.local, nil
		case 'o':
			return e.senderDomain, nil
		case 'd':
			return domain, nil
		case 'i':
			return dottedIP(e.ip), nil
		case 'v':
			if e.ip.Is4() {
				return "in-addr", nil
			}
			return "ip6", nil
		case 'h':
			e.personal = true
			return e.helo, nil
		case 'c':
			return e.ip.String(), nil
		case 'r':
			if e.c.Receiver == "" {
				return "unknown", nil
			}
			return e.c.Receiver, nil
		case 't':
			e.personal = true
			now := time.Now
			if e.c.Now != nil {
				now = e.c.Now
			}
			return strconv.FormatInt(now().Unix(), 10), nil
		case 'p':
			return e.pMacro(ctx, domain), nil
		}
		return "", errMacroSyntax
	}
}

// pMacro is the %{p} value (RFC 7208 §7.3): domain itself if validated,
// else a validated subdomain of it, else any validated name, else
// "unknown".
func (e *eval) pMacro(ctx context.Context, domain string) string {
	names, err := e.validatedNames(ctx)
	if err != nil || len(names) == 0 {
		return "unknown"
	}
	d := strings.ToLower(domain)
	for _, n := range names {
		if n == d {
			return n
		}
	}
	for _, n := range names {
		if strings.HasSuffix(n, "."+d) {
			return n
		}
	}
	return names[0]
}

// dottedIP is the %{i} form: dotted quad, or dotted nibbles for IPv6
// (RFC 7208 §7.3).
func dottedIP(ip netip.Addr) string {
	if ip.Is4() {
		return ip.String()
	}
	const hex = "0123456789abcdef"
	a := ip.As16()
	b := make([]byte, 0, 63)
	for i, c := range a {
		if i > 0 {
			b = append(b, '.')
		}
		b = append(b, hex[c>>4], '.', hex[c&0xf])
	}
	return string(b)
}
