package imapmsg

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/internal/imapwire"
	"github.com/posthorn/posthorn/mime"
)

// FuzzMessage feeds arbitrary messages through everything a FETCH or
// SEARCH computes: it must never panic, and every section must deliver
// exactly the size it announces.
func FuzzMessage(f *testing.F) {
	for _, name := range []string{"simple.eml", "multipart.eml"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: a\r\n\r\nb\r\n--x--\r\n"))
	f.Add([]byte("To: a:b@c,(d;\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!"))
	specs := []*imap.FetchSection{
		{}, {Specifier: imap.PartHeader}, {Specifier: imap.PartText, Partial: &imap.Partial{Offset: 3, Count: 7}},
		{Part: []uint32{1}}, {Part: []uint32{1, 1}}, {Part: []uint32{2}, Specifier: imap.PartMIME},
		{Part: []uint32{1}, Specifier: imap.PartHeader},
		{Specifier: imap.PartHeaderFields, Fields: []string{"subject", "to"}},
		{Binary: true, Part: []uint32{1}}, {Binary: true, Part: []uint32{1, 2}, Partial: &imap.Partial{Offset: 1, Count: 2}},
	}
	keys := []imap.SearchKey{{Op: imap.SearchOr, Sub: []imap.SearchKey{
		{Op: imap.SearchBody, Value: "b"}, {Op: imap.SearchText, Value: "zz"}}},
		{Op: imap.SearchNot, Sub: []imap.SearchKey{{Op: imap.SearchSentBefore}}}}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := Parse(bytes.NewReader(raw), int64(len(raw)), mime.Limits{MaxParts: 50, MaxDepth: 10})
		if m == nil {
			return
		}
		_ = err
		e := m.Encode()
		// The encodings read back.
		for _, b := range [][]byte{e.Body, e.BodyStructure} {
			d := imapwire.NewDecoder(bufioReader(string(b)+"\r\n"), imapwire.Limits{MaxLine: 1 << 20, MaxLiteral: 1 << 20})
			if _, err := d.ReadBodyStructure(); err != nil {
				t.Fatalf("re-read %q: %v", b, err)
			}
		}
		d := imapwire.NewDecoder(bufioReader(string(e.Envelope)+"\r\n"), imapwire.Limits{MaxLine: 1 << 20, MaxLiteral: 1 << 20})
		if _, err := d.ReadEnvelope(); err != nil {
			t.Fatalf("re-read %q: %v", e.Envelope, err)
		}
		for _, sec := range specs {
			r, n, err := m.Section(sec)
			if err != nil {
				continue
			}
			got, err := io.ReadAll(r)
			if err != nil || int64(len(got)) != n {
				t.Fatalf("%s: announced %d, read %d (%v)", sec, n, len(got), err)
			}
		}
		_, _ = NewMatcher(keys, SearchContext{}).Match(&Meta{}, func() (*Message, error) { return m, nil })
	})
}
