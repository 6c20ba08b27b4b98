package imapmsg

import "testing"

// RFC 5256 §2.1 base subject extraction.
func TestBaseSubject(t *testing.T) {
	tests := []struct {
		in, want string
		rf       bool
	}{
		{"Hello", "Hello", false},
		{"Re: Hello", "Hello", true},
		{"RE:  Re: fwd: Hello", "Hello", true},
		{"Fw: Hello (fwd)", "Hello", true},
		{"Hello (FWD) (fwd)  ", "Hello", true},
		{"[list] Re: Hello", "Hello", true},
		{"Re [list]: Hello", "Hello", true},
		{"[list] Hello", "Hello", false},
		{"[list]", "[list]", false}, // removing the blob would leave nothing
		{"[fwd: Re: Hello]", "Hello", true},
		{"[Fwd: [fwd: Hello]]", "Hello", true},
		{"Re:\tHello\r\n  world", "Hello world", true},
		{"=?utf-8?q?Re=3A_Gr=C3=BC=C3=9Fe?=", "Grüße", true},
		{"Reply: Hello", "Reply: Hello", false},
		{"re", "re", false},
		{"", "", false},
		{"[a][b] re[c]: x", "x", true},
		{"[unterminated Re: x", "[unterminated Re: x", false},
	}
	for _, tt := range tests {
		got, rf := BaseSubject(tt.in)
		if got != tt.want || rf != tt.rf {
			t.Errorf("BaseSubject(%q) = %q, %v; want %q, %v", tt.in, got, rf, tt.want, tt.rf)
		}
	}
}

func FuzzBaseSubject(f *testing.F) {
	for _, s := range []string{"Re: [fwd: x]", "[a] fw[b]: (fwd)", "[fwd:]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, _ := BaseSubject(s)
		if again, _ := BaseSubject(b); len(again) > len(b) {
			t.Fatalf("grew: %q -> %q -> %q", s, b, again)
		}
	})
}
