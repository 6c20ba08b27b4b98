package wiretrace

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzTracer feeds arbitrary bytes, in arbitrary chunks and directions,
// to a tracer of each protocol and side (a server's tracer reads what an
// attacker sends): nothing panics and no traced line grows past its
// bound. TestRedaction checks what is hidden.
func FuzzTracer(f *testing.F) {
	f.Add([]byte("C: T1 LOGIN {5}\r\n\x00S: + go\r\n\x00C: alice {7+}\r\nhunter2\r\n"), uint8(3))
	f.Add([]byte("C: AUTH PLAIN\r\n\x00S: 334 \r\n\x00C: AGFsaWNlAGh1bnRlcjI=\r\n\x00S: 235 ok\r\n"), uint8(1))
	f.Add([]byte("C: RETR 1\r\nPASS hunter2\r\n\x00S: +OK\r\n.\r\n-ERR\r\n"), uint8(7))
	f.Add([]byte("C: BDAT 99999999999999999999 LAST\r\n\x00S: * 1 FETCH (BODY[] {18446744073709551615}\r\n"), uint8(2))
	f.Add([]byte("S: "+strings.Repeat("x", 2000)+"{3}\r\nabc\r\n"), uint8(64))
	f.Fuzz(func(t *testing.T, script []byte, chunk uint8) {
		n := int(chunk%64) + 1
		for _, p := range []Protocol{SMTP, IMAP, POP3} {
			for _, server := range []bool{false, true} {
				var out bytes.Buffer
				tr := New(&out, p, server, "")
				for _, part := range bytes.Split(script, []byte{0}) {
					d := &tr.s2c
					if bytes.HasPrefix(part, []byte("C: ")) {
						d = &tr.c2s
					}
					part = bytes.TrimPrefix(bytes.TrimPrefix(part, []byte("C: ")), []byte("S: "))
					for len(part) > 0 {
						k := min(n, len(part))
						tr.feed(d, part[:k])
						part = part[k:]
					}
				}
				for _, line := range strings.Split(out.String(), "\n") {
					if len(line) > maxLine+64 {
						t.Fatalf("traced line of %d octets", len(line))
					}
				}
			}
		}
	})
}
