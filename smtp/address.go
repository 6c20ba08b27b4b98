package smtp

import (
	"errors"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// Length limits of RFC 5321 §4.5.3.1.
const (
	MaxLocalPartLength = 64
	MaxDomainLength    = 255
	MaxPathLength      = 256
)

// Mailbox is an RFC 5321 Mailbox (§4.1.2): a local part and a domain or
// address literal. The zero Mailbox is the null reverse-path "<>".
//
// Local holds the local part with quoting removed: the quoted form
// "a b"@example.org has Local `a b`. Domain holds a domain name (ASCII or,
// per RFC 6531, U-labels) or an address literal with its brackets
// ("[192.0.2.1]", "[IPv6:2001:db8::1]"). The special recipient
// <Postmaster> (§4.5.1) has Local "Postmaster" and an empty Domain.
type Mailbox struct {
	Local  string
	Domain string
}

// IsNull reports whether m is the null reverse-path "<>".
func (m Mailbox) IsNull() bool { return m.Local == "" && m.Domain == "" }

// IsPostmaster reports whether m is the domain-less <Postmaster>.
func (m Mailbox) IsPostmaster() bool {
	return m.Domain == "" && strings.EqualFold(m.Local, "postmaster")
}

// IsASCII reports whether m can be sent without SMTPUTF8 (RFC 6531 §3.2).
func (m Mailbox) IsASCII() bool { return isASCII(m.Local) && isASCII(m.Domain) }

// String formats m as it appears between angle brackets, quoting the local
// part when it is not a Dot-string. The null path formats as "". String
// does not validate; call [Mailbox.Check] before putting m on the wire.
func (m Mailbox) String() string {
	if m.IsNull() {
		return ""
	}
	if m.Domain != "" && isDotString(m.Local) {
		return m.Local + "@" + m.Domain
	}
	return string(m.AppendTo(nil))
}

// AppendTo appends the form [Mailbox.String] returns to b.
func (m Mailbox) AppendTo(b []byte) []byte {
	if m.IsNull() {
		return b
	}
	if isDotString(m.Local) {
		b = append(b, m.Local...)
	} else {
		b = append(b, '"')
		for i := 0; i < len(m.Local); i++ {
			c := m.Local[i]
			if c == '"' || c == '\\' {
				b = append(b, '\\')
			}
			b = append(b, c)
		}
		b = append(b, '"')
	}
	if m.Domain != "" {
		b = append(b, '@')
		b = append(b, m.Domain...)
	}
	return b
}

// Check reports whether m is a valid Mailbox: the null path, <Postmaster>,
// or a local part and domain that [Mailbox.String] formats into something
// [ParseMailbox] accepts. It is what keeps CR, LF, '>' and spaces outside
// quotes off the wire.
func (m Mailbox) Check() error {
	if m.IsNull() || (m.Domain == "" && m.IsPostmaster()) {
		return nil
	}
	s := m.String()
	if len(s)+2 > MaxPathLength {
		return &AddressError{Addr: s, Reason: "path longer than 256 octets"}
	}
	got, err := ParseMailbox(s)
	if err != nil {
		return err
	}
	if got != m {
		return &AddressError{Addr: s, Reason: "does not round-trip"}
	}
	return nil
}

// AddressError reports an address that does not follow the grammar.
type AddressError struct {
	// Addr is the offending input, truncated to 100 octets.
	Addr string
	// Reason says what is wrong.
	Reason string
}

// Error implements error.
func (e *AddressError) Error() string {
	return "smtp: invalid address " + quoteShort(e.Addr) + ": " + e.Reason
}

func quoteShort(s string) string {
	if len(s) > 100 {
		s = s[:100]
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r < ' ' || r == 0x7f || r == '"' || r == '\\' {
			b.WriteString(`\x`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&15])
			continue
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

func addrErr(s, reason string) error { return &AddressError{Addr: s, Reason: reason} }

// ParseMailbox parses an RFC 5321 Mailbox (without angle brackets), with
// the RFC 6531 extensions: UTF-8 in atoms, quoted strings and domain
// labels. Use [Mailbox.IsASCII] to learn whether SMTPUTF8 is needed.
func ParseMailbox(s string) (Mailbox, error) {
	if len(s) > MaxPathLength {
		return Mailbox{}, addrErr(s, "too long")
	}
	if !utf8.ValidString(s) {
		return Mailbox{}, addrErr(s, "invalid UTF-8")
	}
	local, rest, err := parseLocalPart(s)
	if err != nil {
		return Mailbox{}, err
	}
	if len(rest) == 0 || rest[0] != '@' {
		return Mailbox{}, addrErr(s, "missing @domain")
	}
	domain := rest[1:]
	if err := checkDomainOrLiteral(domain); err != nil {
		return Mailbox{}, addrErr(s, err.Error())
	}
	return Mailbox{Local: local, Domain: domain}, nil
}

// parseLocalPart parses Dot-string / Quoted-string at the start of s and
// returns the unquoted local part and what follows.
func parseLocalPart(s string) (string, string, error) {
	if s == "" {
		return "", "", addrErr(s, "empty local part")
	}
	var local string
	var rest string
	if s[0] == '"' {
		// Quoted-string = DQUOTE *QcontentSMTP DQUOTE (§4.1.2).
		var b strings.Builder
		i := 1
		closed := false
		for i < len(s) {
			c := s[i]
			switch {
			case c == '"':
				closed = true
			case c == '\\':
				// quoted-pairSMTP = %d92 %d32-126
				if i+1 >= len(s) || s[i+1] < 32 || s[i+1] > 126 {
					return "", "", addrErr(s, "bad quoted pair")
				}
				b.WriteByte(s[i+1])
				i += 2
				continue
			case c >= 32 && c <= 126:
				b.WriteByte(c)
			case c >= 0x80:
				b.WriteByte(c) // RFC 6531 §3.3: UTF8-non-ascii in qtextSMTP
			default:
				return "", "", addrErr(s, "control character in quoted string")
			}
			i++
			if closed {
				break
			}
		}
		if !closed {
			return "", "", addrErr(s, "unterminated quoted string")
		}
		local, rest = b.String(), s[i:]
	} else {
		i := 0
		for i < len(s) && (isAtext(s[i]) || s[i] == '.') {
			i++
		}
		local, rest = s[:i], s[i:]
		if !isDotString(local) {
			return "", "", addrErr(s, "bad local part")
		}
	}
	if len(local) > MaxLocalPartLength {
		return "", "", addrErr(s, "local part longer than 64 octets")
	}
	return local, rest, nil
}

func checkDomainOrLiteral(d string) error {
	if d == "" {
		return errors.New("empty domain")
	}
	if d[0] == '[' {
		return checkAddressLiteral(d)
	}
	return CheckDomain(d)
}

// CheckDomain reports whether d is an RFC 5321 Domain (§4.1.2), allowing
// U-labels (RFC 6531 §3.3) but no trailing dot.
func CheckDomain(d string) error {
	if len(d) == 0 || len(d) > MaxDomainLength {
		return errors.New("bad domain length")
	}
	for label := range strings.SplitSeq(d, ".") {
		if len(label) == 0 || len(label) > 63 {
			return errors.New("bad domain label")
		}
		// sub-domain = Let-dig [Ldh-str]: no leading or trailing hyphen.
		if label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("hyphen at label edge")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c >= 0x80) {
				return errors.New("bad character in domain")
			}
		}
	}
	if !utf8.ValidString(d) {
		return errors.New("invalid UTF-8 in domain")
	}
	return nil
}

// checkAddressLiteral validates "[IPv4]", "[IPv6:...]" or a
// General-address-literal "[tag:content]" (§4.1.3).
func checkAddressLiteral(d string) error {
	if len(d) < 3 || d[len(d)-1] != ']' {
		return errors.New("bad address literal")
	}
	in := d[1 : len(d)-1]
	if tag, rest, ok := strings.Cut(in, ":"); ok {
		if strings.EqualFold(tag, "IPv6") {
			a, err := netip.ParseAddr(rest)
			if err != nil || !a.Is6() || a.Zone() != "" {
				return errors.New("bad IPv6 address literal")
			}
			return nil
		}
		// Standardized-tag = Ldh-str; dcontent = %d33-90 / %d94-126.
		if tag == "" || tag[len(tag)-1] == '-' {
			return errors.New("bad address literal tag")
		}
		for i := 0; i < len(tag); i++ {
			c := tag[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return errors.New("bad address literal tag")
			}
		}
		if rest == "" {
			return errors.New("empty address literal")
		}
		for i := 0; i < len(rest); i++ {
			c := rest[i]
			if c < 33 || c > 126 || (c >= 91 && c <= 93) {
				return errors.New("bad address literal content")
			}
		}
		return nil
	}
	a, err := netip.ParseAddr(in)
	if err != nil || !a.Is4() {
		return errors.New("bad IPv4 address literal")
	}
	return nil
}

// ParsePath parses a Reverse-path or Forward-path at the start of s:
// "<>" (only when allowNull), "<Postmaster>" (only when allowPostmaster),
// or "<[A-d-l:]Mailbox>". It returns the mailbox and the text after '>'.
// A source route (A-d-l, §4.1.2) is accepted and dropped (§4.1.1.3, C.).
func ParsePath(s string, allowNull, allowPostmaster bool) (Mailbox, string, error) {
	if s == "" || s[0] != '<' {
		return Mailbox{}, "", addrErr(s, "path must start with '<'")
	}
	// The path ends at the first '>' outside a quoted string.
	end := -1
	inQuote := false
	limit := min(len(s), MaxPathLength+1)
	for i := 1; i < limit; i++ {
		c := s[i]
		if inQuote {
			if c == '\\' {
				i++
			} else if c == '"' {
				inQuote = false
			}
			continue
		}
		if c == '"' {
			inQuote = true
		} else if c == '>' {
			end = i
			break
		}
	}
	if end < 0 {
		return Mailbox{}, "", addrErr(s, "missing '>' or path too long")
	}
	inner, rest := s[1:end], s[end+1:]
	if inner == "" {
		if !allowNull {
			return Mailbox{}, "", addrErr(s, "null path not allowed here")
		}
		return Mailbox{}, rest, nil
	}
	if inner[0] == '@' {
		colon := strings.IndexByte(inner, ':')
		if colon < 0 {
			return Mailbox{}, "", addrErr(s, "bad source route")
		}
		for hop := range strings.SplitSeq(inner[:colon], ",") {
			if len(hop) < 2 || hop[0] != '@' || CheckDomain(hop[1:]) != nil {
				return Mailbox{}, "", addrErr(s, "bad source route")
			}
		}
		inner = inner[colon+1:]
	}
	if allowPostmaster && strings.EqualFold(inner, "postmaster") {
		return Mailbox{Local: inner}, rest, nil
	}
	m, err := ParseMailbox(inner)
	if err != nil {
		return Mailbox{}, "", err
	}
	return m, rest, nil
}

// atext (RFC 5322 §3.2.3) plus UTF8-non-ascii (RFC 6531 §3.3).
func isAtext(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80 {
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// isDotString reports whether s is Atom *("." Atom).
func isDotString(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	prevDot := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if prevDot {
				return false
			}
			prevDot = true
			continue
		}
		prevDot = false
		if !isAtext(c) {
			return false
		}
	}
	return utf8.ValidString(s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
