package mime

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Address is a mailbox or a group from an address header field
// (RFC 5322 §3.4).
//
// For a mailbox, Name is the display name (decoded from RFC 2047, unquoted),
// Mailbox the local part (unquoted) and Host the domain as written (an
// internationalised address, RFC 6532, keeps its UTF-8). The split matches
// the IMAP ENVELOPE address structure (RFC 9051 §7.5.2).
//
// For a group, Group is true, Name is the group's display name and Members
// its mailboxes (possibly none, as in "undisclosed-recipients:;").
type Address struct {
	Name    string
	Mailbox string
	Host    string
	Group   bool
	Members []*Address
}

// AddressError reports an element of an address list that could not be
// parsed. ParseAddressList returns it together with the addresses that
// could be parsed.
type AddressError struct {
	Text   string // the element, at most 200 bytes
	Reason string
}

func (e *AddressError) Error() string {
	return fmt.Sprintf("mime: invalid address %q: %s", e.Text, e.Reason)
}

// Addr returns the addr-spec "local@domain", with the local part quoted
// if it is not a dot-atom (RFC 5322 §3.4.1).
func (a *Address) Addr() string {
	if a.Group {
		return ""
	}
	local := a.Mailbox
	if !isDotAtom(local) || strings.Contains(local, "=?") {
		var b strings.Builder
		quote(&b, local)
		local = b.String()
	}
	if a.Host == "" {
		return local
	}
	return local + "@" + a.Host
}

// HostUnicode returns Host with IDNA A-labels ("xn--...") converted to
// Unicode for display (RFC 5891), or Host unchanged if it is not a valid
// IDN.
func (a *Address) HostUnicode() string {
	if !strings.Contains(strings.ToLower(a.Host), "xn--") {
		return a.Host
	}
	if u, err := idna.Display.ToUnicode(a.Host); err == nil {
		return u
	}
	return a.Host
}

// HostASCII returns Host with Unicode labels converted to IDNA A-labels,
// as needed in SMTP without SMTPUTF8 and in DNS look-ups.
func (a *Address) HostASCII() (string, error) {
	if isASCII(a.Host) {
		return a.Host, nil
	}
	return idna.Lookup.ToASCII(a.Host)
}

// String formats the address for a header field: the display name as an
// atom phrase, a quoted string, or RFC 2047 encoded words when it is not
// ASCII; the local part quoted when needed; a Unicode domain converted to
// its ASCII form (IDNA A-labels) when that is possible. A non-ASCII local
// part stays in UTF-8 (RFC 6532), which needs SMTPUTF8 to be sent.
// A group formats as "Name: member, member;".
func (a *Address) String() string {
	var b strings.Builder
	if a.Group {
		writePhrase(&b, a.Name)
		b.WriteString(":")
		for i, m := range a.Members {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte(' ')
			b.WriteString(m.String())
		}
		b.WriteString(";")
		return b.String()
	}
	host := a.Host
	if !isASCII(host) {
		if h, err := idna.Lookup.ToASCII(host); err == nil {
			host = h
		}
	}
	addr := (&Address{Mailbox: a.Mailbox, Host: host}).Addr()
	if a.Name == "" {
		return addr
	}
	writePhrase(&b, a.Name)
	b.WriteString(" <")
	b.WriteString(addr)
	b.WriteString(">")
	return b.String()
}

// writePhrase writes a display name as atoms, a quoted string or encoded
// words (RFC 2047 §5(3)).
func writePhrase(b *strings.Builder, name string) {
	name = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == '\t' {
			return ' '
		}
		return r
	}, name)
	if !isASCII(name) || strings.Contains(name, "=?") {
		// The first word shares its line with the field name
		// ("Reply-To: " is the longest common one).
		appendEncodedWords(b, name, foldLength-len("Reply-To: "))
		return
	}
	atoms := name != ""
	for _, w := range strings.Split(name, " ") {
		if !isAtom(w) {
			atoms = false
			break
		}
	}
	if atoms {
		b.WriteString(name)
		return
	}
	quote(b, name)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// isAtext reports whether c is atext (RFC 5322 §3.2.3), extended by
// RFC 6532 §3.2 to every non-ASCII byte.
func isAtext(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c >= 0x80 || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

func isAtom(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAtext(s[i]) {
			return false
		}
	}
	return true
}

func isDotAtom(s string) bool {
	if s == "" {
		return false
	}
	for _, a := range strings.Split(s, ".") {
		if !isAtom(a) {
			return false
		}
	}
	return true
}

// FormatAddressList formats addresses for a header field, separated by
// ", " so that Header.Add can fold between them.
func FormatAddressList(list []*Address) string {
	var b strings.Builder
	for i, a := range list {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.String())
	}
	return b.String()
}
