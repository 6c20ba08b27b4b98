package mime

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An Indexer gives the trees Index gives, message after message, with
// its buffers reused (including after a message bigger than its buffer).
func TestIndexerMatchesIndex(t *testing.T) {
	files, err := filepath.Glob("testdata/corpus/*.eml")
	if err != nil || len(files) == 0 {
		t.Fatal(files, err)
	}
	big := "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n" +
		strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n", 3000) + "--b--\r\n"
	var msgs [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, b, []byte(big))
	}
	var ix Indexer
	for round := range 2 {
		for i, m := range msgs {
			want, werr := Index(bytes.NewReader(m), int64(len(m)), Limits{})
			got, gerr := ix.Index(bytes.NewReader(m), int64(len(m)), Limits{})
			if fmt.Sprint(werr) != fmt.Sprint(gerr) {
				t.Fatalf("round %d, message %d: error %v, want %v", round, i, gerr, werr)
			}
			if d := treeDump(got); d != treeDump(want) {
				t.Fatalf("round %d, message %d:\n got %s\nwant %s", round, i, d, treeDump(want))
			}
			h, herr := ix.IndexHeader(bytes.NewReader(m), int64(len(m)), Limits{})
			if herr != nil || h == nil {
				t.Fatalf("round %d, message %d: IndexHeader: %v", round, i, herr)
			}
			if h.BodyOffset != want.BodyOffset || h.MediaType != want.MediaType || h.SubType != want.SubType ||
				fmt.Sprint(h.Params) != fmt.Sprint(want.Params) || headerDump(h) != headerDump(want) || h.Children != nil {
				t.Fatalf("round %d, message %d: IndexHeader's root differs from Index's", round, i)
			}
		}
	}
}

// treeDump writes out what Index computes of a tree.
func treeDump(p *Part) string {
	if p == nil {
		return "nil"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "{%d %d %d %d %s/%s %v %q %d [", p.HeaderOffset, p.BodyOffset, p.EndOffset, p.BodyLines,
		p.MediaType, p.SubType, p.Params, p.Encoding, len(p.Defects))
	for _, f := range p.Header.Fields() {
		b.Write(f.Raw)
	}
	b.WriteString("] (")
	for _, c := range p.Children {
		b.WriteString(treeDump(c))
	}
	b.WriteString(") msg=")
	if p.Message != nil {
		b.WriteString(treeDump(p.Message))
	}
	b.WriteString("}")
	return b.String()
}

func headerDump(p *Part) string {
	var b strings.Builder
	for _, f := range p.Header.Fields() {
		b.Write(f.Raw)
	}
	return b.String()
}
