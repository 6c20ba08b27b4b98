package wiretrace

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
)

// replay feeds a session to a client-side tracer, each direction in
// chunks of the given size, and returns the trace.
func replay(p Protocol, chunk int, exchange []string) string {
	var out bytes.Buffer
	t := New(&out, p, false, "")
	for _, e := range exchange {
		d := &t.s2c
		if strings.HasPrefix(e, "C: ") {
			d = &t.c2s
		}
		b := []byte(e[3:])
		for len(b) > 0 {
			n := min(chunk, len(b))
			t.feed(d, b[:n])
			b = b[n:]
		}
	}
	return out.String()
}

var (
	plainIR = base64.StdEncoding.EncodeToString([]byte("\x00alice\x00hunter2"))
	b64pw   = base64.StdEncoding.EncodeToString([]byte("hunter2"))
	body    = "Subject: x\r\n\r\n1\r\n2\r\n3\r\n4\r\n5\r\nSECRET-BODY-LINE\r\n"
)

func TestRedaction(t *testing.T) {
	cases := []struct {
		name  string
		p     Protocol
		ex    []string
		wants []string
	}{
		{"smtp", SMTP, []string{
			"S: 220 hi\r\n", "C: EHLO x\r\n", "S: 250 AUTH PLAIN LOGIN\r\n",
			"C: AUTH PLAIN " + plainIR + "\r\n", "S: 535 no\r\n",
			"C: AUTH LOGIN\r\n", "S: 334 VXNlcm5hbWU6\r\n", "C: YWxpY2U=\r\n", "S: 334 UGFzc3dvcmQ6\r\n", "C: " + b64pw + "\r\n", "S: 235 ok\r\n",
			"C: MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n", "S: 250 ok\r\n250 ok\r\n354 go\r\n",
			"C: " + body + ".\r\n", "S: 250 queued\r\n",
			"C: BDAT " + itoa(len(body)) + " LAST\r\n" + body, "S: 250 ok\r\n",
		}, []string{"C: AUTH PLAIN [redacted]", "S: 334 [redacted]", "C: [redacted]", "C: .", "[3 more lines elided]", "S: 250 queued"}},
		{"pop3", POP3, []string{
			"S: +OK <1.2@x>\r\n", "C: USER alice\r\n", "S: +OK\r\n", "C: PASS hunter2\r\n", "S: -ERR no\r\n",
			"C: APOP alice 0123456789abcdef0123456789abcdef\r\n", "S: -ERR no\r\n",
			"C: AUTH PLAIN\r\n", "S: + \r\n", "C: " + plainIR + "\r\n", "S: +OK in\r\n",
			"C: LIST\r\nRETR 1\r\nSTAT\r\n", "S: +OK\r\n1 99\r\n.\r\n+OK\r\n" + body + ".\r\n+OK 1 99\r\n",
		}, []string{"C: PASS [redacted]", "C: APOP alice [redacted]", "S: + [redacted]", "S: 1 99", "S: +OK 1 99", "[3 more lines elided]"}},
		{"imap", IMAP, []string{
			"S: * OK hi\r\n",
			"C: T1 LOGIN alice hunter2\r\n", "S: T1 NO no\r\n",
			"C: T2 LOGIN {0}\r\n", "S: + go\r\n", "C:  {7}\r\n", "S: + go\r\n", "C: hunter2\r\n", "S: T2 NO no\r\n",
			"C: T3 LOGIN alice {7+}\r\nhunter2\r\n", "S: T3 NO no\r\n",
			"C: T4 LOGIN \"" + strings.Repeat("a", 600) + "\" {7+}\r\nhunter2\r\n", "S: T4 NO no\r\n",
			"C: T5 AUTHENTICATE PLAIN\r\n", "S: + \r\n", "C: " + plainIR + "\r\n", "S: T5 OK in\r\n",
			"C: T6 APPEND INBOX {" + itoa(len(body)) + "+}\r\n" + body + "\r\n", "S: T6 OK done\r\n",
			"C: T7 FETCH 1 BODY[]\r\n", "S: * 1 FETCH (BODY[] {" + itoa(len(body)) + "}\r\n" + body + ")\r\nT7 OK done\r\n",
		}, []string{"C: T1 LOGIN [redacted]", "C: T2 LOGIN [redacted]", "C: [redacted]", "C: T5 AUTHENTICATE PLAIN", "S: + [redacted]", "S: T7 OK done", "[3 more lines elided]"}},
	}
	for _, c := range cases {
		for _, chunk := range []int{1, 3, 1 << 20} {
			tr := replay(c.p, chunk, c.ex)
			for _, secret := range []string{"hunter2", plainIR, b64pw, "0123456789abcdef", "SECRET-BODY-LINE"} {
				if strings.Contains(tr, secret) {
					t.Errorf("%s (chunks of %d): trace shows %q:\n%s", c.name, chunk, secret, tr)
				}
			}
			for _, w := range c.wants {
				if !strings.Contains(tr, w+"\n") && !strings.Contains(tr, w) {
					t.Errorf("%s (chunks of %d): trace lacks %q:\n%s", c.name, chunk, w, tr)
				}
			}
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestNilTracer(t *testing.T) {
	var tr *Tracer = New(nil, SMTP, false, "")
	r := strings.NewReader("x")
	if tr.Reader(r) != r {
		t.Fatal("nil tracer wrapped a reader")
	}
}
