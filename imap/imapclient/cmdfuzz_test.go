package imapclient

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/internal/imapwire"
)

// FuzzCommandArgs round-trips every kind of argument the client writes
// (astring, quoted string, literal, literal8, mailbox names in modified
// UTF-7 or UTF-8, list patterns, search strings) through the server's
// decoder: what the server reads must be what the caller passed, whatever
// the bytes (CR, LF, NUL, "{1}" CRLF look-alikes, 8-bit data).
func FuzzCommandArgs(f *testing.F) {
	f.Add("alice", "secret", false)
	f.Add("alice", "p{1}\r\nq", false)
	f.Add("{0}\r\n", "x}\r\n{3}", true)
	f.Add("Grüße & co", "日本語", true)
	f.Add("INBOX/Sub", "%*", false)
	f.Add("", "NIL", false)
	f.Add("a\"b\\c", strings.Repeat("x", 5000), false)
	f.Add("~{2}\r\nab", "\x00\xff", false)
	f.Fuzz(func(t *testing.T, a, b string, u8 bool) {
		if strings.IndexByte(a, 0) >= 0 || strings.IndexByte(b, 0) >= 0 {
			// NUL cannot be sent in a string at all (RFC 9051 §9, CHAR8).
			a, b = strings.ReplaceAll(a, "\x00", "\uFFFD"), strings.ReplaceAll(b, "\x00", "\uFFFD")
		}
		c := &Client{caps: map[string]bool{"LITERAL+": true}, enabled: map[string]bool{}}
		if u8 {
			c.enabled["UTF8=ACCEPT"] = true
		}

		// LOGIN astring astring.
		l := newLine("LOGIN ")
		l.AString(a, u8)
		l.SP()
		l.AString(b, u8)
		d := decode(t, c, l, "LOGIN ")
		if got := readAString(t, d); got != a {
			t.Fatalf("user %q, sent %q", got, a)
		}
		sp(t, d)
		if got := readAString(t, d); got != b {
			t.Fatalf("password %q, sent %q", got, b)
		}
		eol(t, d)

		// SELECT mailbox, as appendMailbox writes it.
		// (Mailbox names hold no control characters: RFC 3501 §5.1.)
		if utf8.ValidString(a) && !strings.EqualFold(a, "INBOX") && !strings.ContainsFunc(a, isControl) {
			l = newLine("SELECT ")
			c.appendMailbox(l, a)
			d = decode(t, c, l, "SELECT ")
			got, err := d.ReadMailbox()
			if err != nil {
				t.Fatalf("mailbox %q: %v", a, err)
			}
			if !u8 {
				if got, err = imap.DecodeMailboxName(got); err != nil {
					t.Fatalf("mailbox %q: %v", a, err)
				}
			}
			if got != a {
				t.Fatalf("mailbox %q, sent %q", got, a)
			}
			eol(t, d)
		}

		// LIST "" pattern.
		if a != "" {
			l = newLine(`LIST "" `)
			appendListMailbox(l, a, true)
			d = decode(t, c, l, `LIST "" `)
			got, err := d.ReadListMailbox()
			if err != nil || got != a {
				t.Fatalf("list pattern %q, sent %q (%v)", got, a, err)
			}
			eol(t, d)
		}

		// SEARCH HEADER field value SUBJECT value, with CHARSET UTF-8.
		if a != "" && utf8.ValidString(a) && utf8.ValidString(b) {
			crit := &imap.SearchCriteria{Charset: "UTF-8", Keys: []imap.SearchKey{
				{Op: imap.SearchHeader, Field: a, Value: b},
				{Op: imap.SearchSubject, Value: a},
			}}
			l = newLine("SEARCH ")
			l.SearchCriteria(crit, u8)
			d = decode(t, c, l, "SEARCH ")
			got, err := d.ReadSearchCriteria()
			if err != nil {
				t.Fatalf("search %q %q: %v", a, b, err)
			}
			if len(got.Keys) != 2 || got.Keys[0].Field != a || got.Keys[0].Value != b || got.Keys[1].Value != a {
				t.Fatalf("search keys %+v, sent %+v", got.Keys, crit.Keys)
			}
			eol(t, d)
		}

		// A literal8 (RFC 3516 §4.2) and a literal, as APPEND sends them.
		l = newLine("APPEND INBOX ")
		l.Literal([]byte(b), true)
		l.SP()
		l.Literal([]byte(a), false)
		d = decode(t, c, l, "APPEND INBOX ")
		for i, want := range []string{b, a} {
			if i > 0 {
				sp(t, d)
			}
			r, _, err := d.ReadLiteralReader(1<<20, true)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil || string(got) != want {
				t.Fatalf("literal %q, sent %q (%v)", got, want, err)
			}
		}
		eol(t, d)
	})
}

// decode writes l as the client sends it and returns a server-side
// decoder standing after prefix.
func decode(t *testing.T, c *Client, l *imapwire.Command, prefix string) *imapwire.Decoder {
	t.Helper()
	var buf bytes.Buffer
	c.bw = bufio.NewWriter(&buf)
	if err := c.writeLine(context.Background(), &command{}, l); err != nil {
		t.Fatal(err)
	}
	c.bw.WriteString("\r\n")
	c.bw.Flush()
	wire := buf.Bytes()
	if !bytes.HasPrefix(wire, []byte(prefix)) {
		t.Fatalf("line %q does not start with %q", wire, prefix)
	}
	return imapwire.NewDecoder(bufio.NewReader(bytes.NewReader(wire[len(prefix):])), imapwire.Limits{})
}

func readAString(t *testing.T, d *imapwire.Decoder) string {
	t.Helper()
	s, err := d.ReadAString()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sp(t *testing.T, d *imapwire.Decoder) {
	t.Helper()
	if err := d.SP(); err != nil {
		t.Fatal(err)
	}
}

func eol(t *testing.T, d *imapwire.Decoder) {
	t.Helper()
	if err := d.ReadCRLF(); err != nil {
		t.Fatal(err)
	}
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
