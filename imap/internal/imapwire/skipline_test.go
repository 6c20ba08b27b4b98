package imapwire

import (
	"bufio"
	"strings"
	"testing"
)

// SkipLine steps over a line of any length and reports only the literal
// that ends it; a size past int64 is no literal, not a negative one.
func TestSkipLine(t *testing.T) {
	long := strings.Repeat("x", 10000)
	for _, tc := range []struct {
		in      string
		size    int64 // -1: no literal
		nonSync bool
		rest    string
	}{
		{"a1 garbage\r\nnext", -1, false, "next"},
		{"a1 APPEND INBOX {12}\r\nhello", 12, false, "hello"},
		{"* 1 FETCH (BODY[] {3}\r\nabc)", 3, false, "abc)"},
		{"a1 X " + long + " {7+}\r\nrest", 7, true, "rest"},
		{long + "\nrest", -1, false, "rest"},
		{"a1 {}\r\n", -1, false, ""},
		{"a1 x{5}\r\n", 5, false, ""}, // "{" cannot be in an atom: a literal
		{"a1 {99999999999999999999}\r\n", -1, false, ""},
		{"a1 {9223372036854775807}\r\n", 9223372036854775807, false, ""},
	} {
		br := bufio.NewReaderSize(strings.NewReader(tc.in), 16)
		lit, err := SkipLine(br)
		if err != nil {
			t.Fatalf("%.30q: %v", tc.in, err)
		}
		switch {
		case tc.size < 0 && lit != nil:
			t.Errorf("%.30q: literal %+v, want none", tc.in, *lit)
		case tc.size >= 0 && (lit == nil || lit.Size != tc.size || lit.NonSync != tc.nonSync):
			t.Errorf("%.30q: literal %+v, want {%d nonsync=%v}", tc.in, lit, tc.size, tc.nonSync)
		}
		rest, _ := br.ReadString(0)
		if rest != tc.rest {
			t.Errorf("%.30q: left %q, want %q", tc.in, rest, tc.rest)
		}
	}
	if _, err := SkipLine(bufio.NewReader(strings.NewReader("no end"))); err == nil {
		t.Error("SkipLine without a line end: no error")
	}
}
