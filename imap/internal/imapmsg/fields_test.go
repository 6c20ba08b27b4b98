package imapmsg

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/mime"
)

// The streaming HEADER.FIELDS reader yields exactly what the reference
// headerFields builds, read in any chunk size or through WriteTo, and
// announces that size up front (the literal's length).
func TestFieldsReader(t *testing.T) {
	msgs := map[string]string{
		// The header ends at the end of the message without a line end:
		// the last field gets its CRLF from the server.
		"unterminated": "From: a@example.org\r\nSubject: no end",
		"folded":       "Subject: one\r\n two\r\nX-A: 1\r\nsubject: again\r\n\r\nbody\r\n",
		"empty":        "",
		// Past the 64 fields whose selection is found up front.
		"many": strings.Repeat("X-Filler: x\r\n", 70) + "Subject: late\r\nFrom: b@example.org\r\n\r\n",
	}
	files, _ := filepath.Glob("testdata/*.eml")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		msgs[filepath.Base(f)] = string(b)
	}
	lists := [][]string{{"From", "Subject", "Date", "To"}, {"subject"}, {"X-None"}, {}, {"x-filler", "FROM"}}
	for name, raw := range msgs {
		m, err := Parse(strings.NewReader(raw), int64(len(raw)), mime.Limits{})
		if err != nil {
			t.Fatal(name, err)
		}
		for _, names := range lists {
			for _, not := range []bool{false, true} {
				want := headerFields(&m.root.Header, names, not)
				spec := imap.PartHeaderFields
				if not {
					spec = imap.PartHeaderFieldsNot
				}
				sec := &imap.FetchSection{Specifier: spec, Fields: names}
				for _, mode := range []string{"onebyte", "writeto", "readall"} {
					r, n, err := m.Section(sec)
					if err != nil {
						t.Fatal(err)
					}
					var got []byte
					switch mode {
					case "onebyte":
						got, err = io.ReadAll(iotest.OneByteReader(r))
					case "writeto":
						var buf bytes.Buffer
						_, err = r.(io.WriterTo).WriteTo(&buf)
						got = buf.Bytes()
					default:
						got, err = io.ReadAll(r)
					}
					if err != nil || !bytes.Equal(got, want) || n != int64(len(want)) {
						t.Errorf("%s %v not=%v %s: got %q (size %d, %v), want %q", name, names, not, mode, got, n, err, want)
					}
				}
			}
		}
	}
}
