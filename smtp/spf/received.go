package spf

import (
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
	var b strings.Builder
	receiver := o.Receiver
	if receiver == "" {
		receiver = "unknown"
	}
	b.WriteString("Received-SPF: ")
	b.WriteString(string(o.Result))
	b.WriteString(" (")
	b.WriteString(commentText(receiver))
	b.WriteString(": ")
	b.WriteString(commentText(o.comment()))
	b.WriteString(")")
	kv := func(k, v string) {
		b.WriteString("\r\n\t")
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(value(v))
		b.WriteByte(';')
	}
	kv("receiver", receiver)
	kv("client-ip", o.IP.String())
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
	return b.String()
}

func (o *Outcome) comment() string {
	who := "domain of " + o.Sender
	if o.Identity == IdentityHelo {
		who = "domain of " + o.Helo
	}
	ip := o.IP.String()
	switch o.Result {
	case Pass:
		return who + " designates " + ip + " as permitted sender"
	case Fail, SoftFail:
		return who + " does not designate " + ip + " as permitted sender"
	case Neutral:
		return ip + " is neither permitted nor denied by " + who
	case None:
		return who + " does not designate permitted sender hosts"
	case TempError:
		return "temporary error checking " + who
	}
	return "permanent error in the SPF record of " + o.Domain
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

// commentText escapes what a comment cannot hold bare (RFC 5322 §3.2.2).
func commentText(s string) string {
	s = clean(s)
	r := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`)
	return r.Replace(s)
}

// value writes a dot-atom as is and anything else as a quoted-string.
func value(s string) string {
	s = clean(s)
	if isDotAtom(s) {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
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
