package imapmsg

import (
	"strings"
	"testing"

	"github.com/posthorn/posthorn/mime"
)

// body-fld-lines (RFC 9051 §7.5.2) is the number of line breaks in the
// body, as Dovecot reports it (TestAgainstDovecot, unterminated.eml): an
// unterminated last line is not counted, although mime's BodyLines counts
// it as a line; in a multipart the CRLF before a boundary belongs to the
// delimiter (RFC 2046 §5.1.1).
func TestBodyLines(t *testing.T) {
	hdr := "Content-Type: text/plain\r\n\r\n"
	mp := "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\ntwo\r\n--b\r\n\r\nthree\r\n\r\n--b--\r\n"
	for _, c := range []struct {
		raw        string
		part       int // 0: the message, else that child of the multipart
		lines      int64
		mimeLines  int64
		nilReaderN int64 // with no reader: mime's count
	}{
		{hdr + "a\r\nb\r\n", 0, 2, 2, 2},
		{hdr + "a\r\nb", 0, 1, 2, 2},
		{hdr + "no break", 0, 0, 1, 1},
		{hdr, 0, 0, 0, 0},
		{hdr + "\r\n", 0, 1, 1, 1},
		{mp, 1, 1, 2, 2},
		{mp, 2, 1, 1, 1},
	} {
		m, err := Parse(strings.NewReader(c.raw), int64(len(c.raw)), mime.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		p := m.Root()
		if c.part > 0 {
			p = p.Children[c.part-1]
		}
		got := BodyStructure(strings.NewReader(c.raw), p).Lines
		if got != c.lines || p.BodyLines != c.mimeLines {
			t.Errorf("%q part %d: lines %d (mime %d), want %d (mime %d)", c.raw, c.part, got, p.BodyLines, c.lines, c.mimeLines)
		}
		if n := BodyStructure(nil, p).Lines; n != c.nilReaderN {
			t.Errorf("%q part %d: lines without reader %d, want %d", c.raw, c.part, n, c.nilReaderN)
		}
	}
}
