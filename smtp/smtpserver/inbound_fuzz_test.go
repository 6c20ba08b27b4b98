package smtpserver

import (
	"bytes"
	"strings"
	"testing"
)

// refFrom finds the From: fields of a header the plain way: split into
// lines, a field starts at a line not beginning with white space.
func refFrom(msg []byte) (count int) {
	for _, line := range strings.SplitAfter(string(msg), "\n") {
		if line == "" {
			break
		}
		if line[0] == '\r' || line[0] == '\n' {
			break // end of header
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue
		}
		name, _, ok := strings.Cut(line, ":")
		if ok && len(name) <= 16 && strings.EqualFold(strings.TrimRight(name, " \t"), "From") {
			count++
		}
	}
	return count
}

// FuzzFromScanner checks the streaming From: scanner against refFrom and
// against itself fed one byte at a time: the same count and value however
// the message is cut, and the value bounded.
func FuzzFromScanner(f *testing.F) {
	for _, s := range []string{
		"From: a@example.com\r\nTo: b@example.org\r\n\r\nFrom: body@example.net\r\n",
		"Subject: x\r\nfrom : \"A\"\r\n <a@example.com>\r\nFROM: b@example.com\r\n\r\n",
		"X-Very-Long-Header-Name-From: x\r\nFrom:\r\n\ta@b\r\n",
		" leading continuation\r\nFrom: a@b\r\n\r\n",
		"From a@b Mon Dec  7\r\nFrom: c@d\r\n\r\n",
	} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, msg []byte, step uint8) {
		var whole fromScanner
		whole.write(msg)
		var bytewise fromScanner
		n := int(step%16) + 1
		for rest := msg; len(rest) > 0; {
			k := min(n, len(rest))
			bytewise.write(rest[:k])
			rest = rest[k:]
		}
		if whole.count != bytewise.count || !bytes.Equal(whole.from, bytewise.from) {
			t.Fatalf("cut by %d: count %d %q, whole %d %q", n, bytewise.count, bytewise.from, whole.count, whole.from)
		}
		if len(whole.from) > maxFromField {
			t.Fatalf("value of %d bytes", len(whole.from))
		}
		if count := refFrom(msg); count != whole.count {
			t.Fatalf("count %d, reference %d", whole.count, count)
		}
	})
}
