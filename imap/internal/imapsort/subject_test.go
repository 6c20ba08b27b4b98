package imapsort

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// RFC 5256 §2.1, rule by rule.
func TestBaseSubject(t *testing.T) {
	tests := []struct {
		in    string
		base  string
		refwd bool
	}{
		{"", "", false},
		{"Hello", "Hello", false},
		// (1) tabs, continuations and runs of spaces.
		{"Hello \t  world\r\n again", "Hello world again", false},
		// (1) encoded words are decoded first, then the rules apply.
		{"=?utf-8?q?Re=3A_caf=C3=A9?=", "café", true},
		{"=?iso-8859-1?q?R=E9sum=E9?= =?iso-8859-1?q?_final?=", "Résumé final", false},
		// (2) trailers.
		{"Lunch (fwd)", "Lunch", true},
		{"Lunch (FWD) (fwd)  ", "Lunch", true},
		{"Lunch(fwd)", "Lunch", true},
		// (3) leaders, case-insensitive, with optional blob and spaces.
		{"Re: Lunch", "Lunch", true},
		{"RE:Lunch", "Lunch", true},
		{"re : Lunch", "Lunch", true},
		{"Fw: Lunch", "Lunch", true},
		{"FWD: Lunch", "Lunch", true},
		{"Re[2]: Lunch", "Lunch", true},
		{"Re [2]: Lunch", "Lunch", true},
		{"Re: Re: Fwd: Lunch", "Lunch", true},
		{"[list] Re: Lunch", "Lunch", true},
		{"[list][x] Re: [list] Re: Lunch", "Lunch", true},
		// Not leaders.
		{"Reply: Lunch", "Reply: Lunch", false},
		{"Re Lunch", "Re Lunch", false},
		{"Fwx: Lunch", "Fwx: Lunch", false},
		// (4) a leading blob goes only if a subj-base is left.
		{"[list] Lunch", "Lunch", false},
		{"[list]", "[list]", false},
		{"[a][b]", "[b]", false},
		{"[a] [b] ", "[b]", false},
		{"[unclosed Lunch", "[unclosed Lunch", false},
		// (6) forward wrappers, repeated from step (2).
		{"[fwd: Lunch]", "Lunch", true},
		{"[Fwd: Re: Lunch (fwd)]", "Lunch", true},
		{"[fwd: [fwd: Lunch]]", "Lunch", true},
		{"Re: [fwd: [list] Lunch] (fwd)", "Lunch", true},
		{"[fwd: Lunch", "[fwd: Lunch", false}, // no "]": neither (6) nor a blob
		// Only leaders: empty base.
		{"Re:", "", true},
		{"Re: (fwd)", "", true},
		{"   ", "", false},
	}
	for _, tt := range tests {
		base, refwd := BaseSubject(tt.in)
		if base != tt.base || refwd != tt.refwd {
			t.Errorf("BaseSubject(%q) = %q, %v; want %q, %v", tt.in, base, refwd, tt.base, tt.refwd)
		}
	}
}

func TestCollation(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "a", -1},
		{"abc", "ABC", 0},
		{"abc", "abd", -1},
		{"ab", "abc", -1},
		{"Zed", "alice", 1},
		{"a.b", "alice", -1},
		{"é", "E", 1}, // only ASCII letters fold
	}
	for _, tt := range tests {
		if got := Compare(tt.a, tt.b); got != tt.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := strings.Compare(CasemapKey(tt.a), CasemapKey(tt.b)); got != tt.want {
			t.Errorf("CasemapKey order of %q, %q = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// BaseSubject is a fixed point: the base subject of a base subject without
// markers is itself, it has no leading or trailing space, no double space,
// and it never grows.
func FuzzBaseSubject(f *testing.F) {
	for _, s := range []string{"Re: [fwd: Re[2]: [x] Lunch (fwd)]", "[a][b]", "=?utf-8?b?UmU6IGNhZsOp?=", "re\t:\r\n x", "[fwd: ]", "(fwd)(fwd)", "[fwd:[fwd:]]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		base, _ := BaseSubject(s)
		if strings.HasPrefix(base, " ") || strings.HasSuffix(base, " ") || strings.Contains(base, "  ") {
			t.Fatalf("BaseSubject(%q) = %q: untrimmed spaces", s, base)
		}
		if strings.ContainsAny(base, "\t\r\n") && !strings.Contains(s, "=?") {
			t.Fatalf("BaseSubject(%q) = %q: tabs or line breaks left", s, base)
		}
		if !strings.Contains(s, "=?") && len(base) > len(s) {
			t.Fatalf("BaseSubject(%q) = %q grew", s, base)
		}
		if utf8.ValidString(s) && !strings.Contains(s, "=?") {
			again, _ := BaseSubject(base)
			if again != base {
				t.Fatalf("BaseSubject(%q) = %q, but BaseSubject of that = %q", s, base, again)
			}
		}
	})
}
