package imap

import (
	"reflect"
	"strings"
	"testing"
)

func TestDecodeParams(t *testing.T) {
	for _, tc := range []struct {
		in, want []Param
	}{
		{[]Param{{"CHARSET", "us-ascii"}}, []Param{{"CHARSET", "us-ascii"}}},
		// RFC 2231 §4, as Dovecot sends it for a filename with an umlaut.
		{[]Param{{"FILENAME*", "utf-8''invoice-%C3%BC.pdf"}}, []Param{{"FILENAME", "invoice-ü.pdf"}}},
		// §3 continuations, out of order, with the charset on piece 0.
		{[]Param{{"name*1", "b c"}, {"x", "1"}, {"name*0*", "iso-8859-1'de'%E4"}},
			[]Param{{"name", "äb c"}, {"x", "1"}}},
		// A name* value wins over the plain one.
		{[]Param{{"filename", "plain.txt"}, {"filename*", "utf-8''%E2%82%AC.txt"}}, []Param{{"filename", "€.txt"}}},
		// RFC 2047 words in a value, a common violation.
		{[]Param{{"name", "=?utf-8?q?caf=C3=A9?=.txt"}}, []Param{{"name", "café.txt"}}},
		// Quotes and backslashes in values survive.
		{[]Param{{"a*", "utf-8''x"}, {"b", `say "hi" \o/`}}, []Param{{"a", "x"}, {"b", `say "hi" \o/`}}},
	} {
		if got := DecodeParams(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("DecodeParams(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestBodyStructureFilename(t *testing.T) {
	b := &BodyStructure{MediaType: "APPLICATION", SubType: "PDF",
		Params: []Param{{"NAME", "old.pdf"}, {"Charset", "x"}}}
	if b.Filename() != "old.pdf" || b.Charset() != "x" {
		t.Fatalf("Filename %q Charset %q", b.Filename(), b.Charset())
	}
	b.DispositionParams = []Param{{"FILENAME", "new.pdf"}}
	if b.Filename() != "new.pdf" {
		t.Fatalf("Filename %q", b.Filename())
	}
}

func TestBodyStructureWalkPaths(t *testing.T) {
	inner := &BodyStructure{MediaType: "TEXT", SubType: "PLAIN"}
	b := &BodyStructure{MediaType: "MULTIPART", SubType: "MIXED", Children: []*BodyStructure{
		{MediaType: "TEXT", SubType: "PLAIN"},
		{MediaType: "MESSAGE", SubType: "RFC822", Body: &BodyStructure{MediaType: "MULTIPART", SubType: "ALTERNATIVE", Children: []*BodyStructure{inner}}},
	}}
	var paths [][]uint32
	b.Walk(func(p []uint32, _ *BodyStructure) bool { paths = append(paths, p); return true })
	want := [][]uint32{nil, {1}, {2}, {2}, {2, 1}}
	if !reflect.DeepEqual(paths, want) {
		t.Fatalf("paths %v, want %v", paths, want)
	}
}

// FuzzDecodeParams: any parameter list decodes without panic into names
// without RFC 2231 stars, each once.
func FuzzDecodeParams(f *testing.F) {
	f.Add("FILENAME*", "utf-8''invoice-%C3%BC.pdf", "name*1", "x")
	f.Add("name*0*", "iso-8859-1'de'%E4", "name*1", "b c")
	f.Add("a", `say "hi" \o/`, "b", "=?utf-8?q?caf=C3=A9?=")
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2 string) {
		out := DecodeParams([]Param{{n1, v1}, {n2, v2}})
		seen := map[string]bool{}
		decoded := strings.IndexByte(n1, '*') >= 0 || strings.IndexByte(n2, '*') >= 0 || strings.Contains(v1+v2, "=?")
		for _, p := range out {
			if decoded && strings.IndexByte(p.Name, '*') >= 0 {
				t.Fatalf("name %q keeps its RFC 2231 star in %v", p.Name, out)
			}
			k := strings.ToLower(p.Name)
			if seen[k] && decoded {
				t.Fatalf("%q twice in %v", p.Name, out)
			}
			seen[k] = true
		}
	})
}
