package dkim

import (
	"bytes"
	"testing"
)

// needsRelaxing may say yes too often, never too rarely.
func FuzzNeedsRelaxing(f *testing.F) {
	f.Add([]byte("the quick  brown"))
	f.Add([]byte("12345678 \t"))
	f.Add([]byte("1234567  abc"))
	f.Add([]byte("1234567 !bcdefgh"))
	f.Fuzz(func(t *testing.T, p []byte) {
		exact := bytes.IndexByte(p, '\t') >= 0 || bytes.Contains(p, []byte("  "))
		if exact && !needsRelaxing(p) {
			t.Fatalf("missed a tab or double space in %q", p)
		}
	})
}

func TestNeedsRelaxing(t *testing.T) {
	for s, want := range map[string]bool{
		"": false, "a b c d e f g h i j": false, "abcdefg  hij": true, "abcdefgh\tij": true,
		"abcdefg": false, "a  b": true, "1234567 " + " 89": true, "12345678 9abcdef 0": false,
	} {
		if got := needsRelaxing([]byte(s)); got != want {
			t.Errorf("needsRelaxing(%q) = %v", s, got)
		}
	}
}
