package smtpserver

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Issue 13: "BDAT 42 LAST" with bare LFs was accepted (250) where the same
// body in DATA got 550 5.6.0. Without BINARYMIME, BDAT now follows the
// server's one bare CR/LF policy (RFC 5321 §2.3.8), in every way the
// message can be cut into chunks.
func TestBDATBareEOLPolicy(t *testing.T) {
	const bare = "Subject: x\n\nA line with a bare LF\nend\r\n"
	type send func(w *wire)
	data := func(body string) send {
		return func(w *wire) {
			w.cmd("DATA", 354)
			w.send(strings.ReplaceAll(body, "\n.", "\n..") + ".\r\n")
		}
	}
	single := func(body string) send {
		return func(w *wire) { w.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(body), body)) }
	}
	// chunks sends the body in two chunks cut at i, then an empty LAST.
	chunks := func(body string, i int) send {
		return func(w *wire) {
			w.send(fmt.Sprintf("BDAT %d\r\n%s", i, body[:i]))
			w.expect(250)
			w.send(fmt.Sprintf("BDAT %d\r\n%s", len(body)-i, body[i:]))
			w.expect(250)
			w.send("BDAT 0 LAST\r\n")
		}
	}
	for _, tc := range []struct {
		name   string
		policy BareEOLPolicy
		binary bool
		send   send
		code   int
		stored string // for 250
	}{
		{"DATA", RejectBareEOL, false, data(bare), 550, ""},
		{"BDAT LAST", RejectBareEOL, false, single(bare), 550, ""},
		{"BDAT chunks", RejectBareEOL, false, chunks(bare, 20), 550, ""},
		{"BDAT bare CR ends a chunk", RejectBareEOL, false, chunks("a\rb\r\n", 2), 550, ""},
		{"BDAT bare CR ends the message", RejectBareEOL, false, single("a\r\nb\r"), 550, ""},
		// A CRLF cut between two chunks is no bare CR or LF.
		{"BDAT CRLF across chunks", RejectBareEOL, false, chunks("Subject: y\r\n\r\nbody\r\n", 11), 250, "Subject: y\r\n\r\nbody\r\n"},
		{"BDAT clean", RejectBareEOL, false, single("Subject: y\r\n\r\nbody\r\n"), 250, "Subject: y\r\n\r\nbody\r\n"},
		// RFC 3030 §3: BINARYMIME content is any octets.
		{"BDAT BINARYMIME", RejectBareEOL, true, single(bare), 250, bare},
		// NormalizeBareEOL: DATA and BDAT store the same CRLF message.
		{"DATA normalize", NormalizeBareEOL, false, data(bare), 250, strings.ReplaceAll(strings.ReplaceAll(bare, "\r\n", "\n"), "\n", "\r\n")},
		{"BDAT normalize", NormalizeBareEOL, false, chunks(bare, 11), 250, strings.ReplaceAll(strings.ReplaceAll(bare, "\r\n", "\n"), "\n", "\r\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &testBackend{}
			addr := startServer(t, &Server{Backend: b, BareEOL: tc.policy, DisableReceived: true})
			w := dialWire(t, addr)
			w.cmd("EHLO client.test", 250)
			if tc.binary {
				w.cmd("MAIL FROM:<a@example.org> BODY=BINARYMIME", 250)
			} else {
				w.cmd("MAIL FROM:<a@example.org>", 250)
			}
			w.cmd("RCPT TO:<b@example.org>", 250)
			tc.send(w)
			r := w.expect(tc.code)
			if tc.code == 550 {
				require.Equal(t, "5.6.0", r.Enhanced.String())
				require.Empty(t, b.messages())
			} else {
				msgs := b.messages()
				require.Len(t, msgs, 1)
				require.Equal(t, tc.stored, msgs[0].Data)
			}
			w.cmd("NOOP", 250) // in step
		})
	}
}
