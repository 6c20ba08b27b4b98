package spf

import (
	"net/netip"
	"strings"
)

// maxFieldValue bounds each value written into Received-SPF, so a hostile
// HELO or sender cannot make the field excessively long (RFC 7208 §9.1).
const maxFieldValue = 200

// ReceivedSPF returns the Received-SPF header field for the outcome
// (RFC 7208 §9.1), folded, ending in CRLF, ready to prepend to the
// message above the Received field. Everything the client supplied (HELO
// name, sender) is quoted, stripped of control and non-ASCII characters
// and shortened, so it cannot inject header lines.
func (o *Outcome) ReceivedSPF() string {
	return string(o.AppendReceivedSPF(make([]byte, 0, 512)))
}

// AppendReceivedSPF appends the field ReceivedSPF returns to dst, without
// the intermediate string: a server that prepends it to every message
// reuses one buffer.
func (o *Outcome) AppendReceivedSPF(dst []byte) []byte {
	b := &appender{dst}
	receiver := o.Receiver
	if receiver == "" {
		receiver = "unknown"
	}
	b.WriteString("Received-SPF: ")
	b.WriteString(string(o.Result))
	b.WriteString(" (")
	writeComment(b, receiver)
	b.WriteString(": ")
	o.writeComment(b)
	b.WriteString(")")
	kv := func(k, v string) {
		b.WriteString("\r\n\t")
		b.WriteString(k)
		b.WriteByte('=')
		writeValue(b, v)
		b.WriteByte(';')
	}
	kv("receiver", receiver)
	b.WriteString("\r\n\tclient-ip=")
	writeIP(b, o.IP, true)
	b.WriteByte(';')
	if o.Identity == IdentityMailFrom {
		kv("envelope-from", o.Sender)
	}
	kv("helo", o.Helo)
	kv("identity", string(o.Identity))
	if o.Mechanism != "" {
		kv("mechanism", o.Mechanism)
	}
	if o.Problem != "" {
		kv("problem", o.Problem)
	}
	b.WriteString("\r\n")
	return b.b
}

// appender appends to a byte slice with the strings.Builder methods the
// field writers use.
type appender struct{ b []byte }

func (a *appender) WriteString(s string)   { a.b = append(a.b, s...) }
func (a *appender) WriteByte(c byte) error { a.b = append(a.b, c); return nil }

// writeIP writes the client address, without a string: as a value (a
// quoted-string unless it is a dot-atom, so IPv6 is quoted) or as
// comment text.
func writeIP(b *appender, ip netip.Addr, value bool) {
	if ip.Zone() != "" {
		// A zone is text from the socket: through the cleaning writers.
		if value {
			writeValue(b, ip.String())
		} else {
			writeComment(b, ip.String())
		}
		return
	}
	quote := value && ip.Is6()
	if quote {
		b.WriteByte('"')
	}
	b.b = ip.AppendTo(b.b)
	if quote {
		b.WriteByte('"')
	}
}

// writeComment writes the explanatory comment (RFC 7208 §9.1: "conveying
// supporting information for the result, such as <ip>, <sender>, and
// <domain>").
func (o *Outcome) writeComment(b *appender) {
	who, whose := "domain of ", o.Sender
	if o.Identity == IdentityHelo {
		whose = o.Helo
	}
	switch o.Result {
	case Pass, Fail, SoftFail:
		b.WriteString(who)
		writeComment(b, whose)
		if o.Result == Pass {
			b.WriteString(" designates ")
		} else {
			b.WriteString(" does not designate ")
		}
		writeIP(b, o.IP, false)
		b.WriteString(" as permitted sender")
	case Neutral:
		writeIP(b, o.IP, false)
		b.WriteString(" is neither permitted nor denied by ")
		b.WriteString(who)
		writeComment(b, whose)
	case None:
		b.WriteString(who)
		writeComment(b, whose)
		b.WriteString(" does not designate permitted sender hosts")
	case TempError:
		b.WriteString("temporary error checking ")
		b.WriteString(who)
		writeComment(b, whose)
	default:
		b.WriteString("permanent error in the SPF record of ")
		writeComment(b, o.Domain)
	}
}

// writeClean writes s shortened to maxFieldValue, with bytes outside
// printable ASCII as "?" and those in special as quoted-pairs
// (RFC 5322 §3.2.1).
func writeClean(b *appender, s, special string) {
	if len(s) > maxFieldValue {
		s = s[:maxFieldValue]
	}
	start := 0 // s[start:i] is written as it is
	for i := 0; i < len(s); i++ {
		c := s[i]
		// Every special character sorts at or below the backslash, so
		// letters skip the lookup.
		if c >= 0x20 && c < 0x7f && (c > '\\' || strings.IndexByte(special, c) < 0) {
			continue
		}
		b.WriteString(s[start:i])
		if c < 0x20 || c >= 0x7f {
			c = '?'
		} else {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
		start = i + 1
	}
	b.WriteString(s[start:])
}

// writeComment writes s as comment text (RFC 5322 §3.2.2).
func writeComment(b *appender, s string) { writeClean(b, s, `\()`) }

// writeValue writes a dot-atom as is and anything else as a
// quoted-string.
func writeValue(b *appender, s string) {
	if len(s) <= maxFieldValue && isDotAtom(s) {
		b.WriteString(s)
		return
	}
	b.WriteByte('"')
	writeClean(b, s, `\"`)
	b.WriteByte('"')
}

// clean keeps printable ASCII and shortens to maxFieldValue.
func clean(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < maxFieldValue; i++ {
		if c := s[i]; c >= 0x20 && c < 0x7f {
			b.WriteByte(c)
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}

func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlpha(c) || isDigit(c) || c == '.' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}
