package imap

import (
	"slices"
	"testing"
)

func TestParseNumSet(t *testing.T) {
	tests := []struct {
		in, out string
		ok      bool
	}{
		{"1", "1", true},
		{"1:4", "1:4", true},
		{"4:1", "1:4", true}, // RFC 9051 §9: 2:4 and 4:2 are equivalent
		{"*:4", "4:*", true},
		{"1,3:5,*", "1,3:5,*", true},
		{"$", "$", true}, // RFC 5182
		{"4294967295", "4294967295", true},
		{"4294967296", "", false},
		{"0", "", false},
		{"01", "", false},
		{"", "", false},
		{"1,", "", false},
		{",1", "", false},
		{"1::2", "", false},
		{"1:", "", false},
		{"a", "", false},
		{"$,1", "", false},
	}
	for _, tt := range tests {
		s, err := ParseNumSet(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseNumSet(%q) err = %v", tt.in, err)
			continue
		}
		if tt.ok && s.String() != tt.out {
			t.Errorf("ParseNumSet(%q) = %q, want %q", tt.in, s, tt.out)
		}
	}
}

func TestNumSetContainsResolve(t *testing.T) {
	s, _ := ParseNumSet("2:4,7,10:*")
	for n, want := range map[uint32]bool{1: false, 2: true, 4: true, 5: false, 7: true, 9: false, 10: true, 12: true} {
		if got := s.Contains(n, 12); got != want {
			t.Errorf("Contains(%d) = %v", n, got)
		}
	}
	if got := s.Resolve(12).String(); got != "2:4,7,10:12" {
		t.Errorf("Resolve = %q", got)
	}
	// RFC 9051 §6.4.9: 559:* includes the last UID even when 559 is above it.
	u, _ := ParseNumSet("559:*")
	if !u.Contains(500, 500) || u.Contains(499, 500) {
		t.Errorf("559:* with max 500")
	}
	if got := u.Resolve(0).String(); got != "1:559" {
		t.Errorf("Resolve(0) = %q", got)
	}
	star, _ := ParseNumSet("*")
	if got := star.Resolve(0); len(got.Ranges) != 0 {
		t.Errorf("* in empty mailbox = %v", got)
	}
	if got := slices.Collect(s.Resolve(12).Nums(12)); len(got) != 7 {
		t.Errorf("Nums = %v", got)
	}
	if c := s.Count(12); c != 7 {
		t.Errorf("Count = %d", c)
	}
}

func TestNumSetCompact(t *testing.T) {
	var s NumSet
	s.AddNum(1, 2, 3, 5, 6, 9)
	if got := s.String(); got != "1:3,5:6,9" {
		t.Errorf("AddNum = %q", got)
	}
	s.AddRange(4, 4)
	s.AddRange(20, Star)
	s.AddNum(25)
	if got := s.Compact().String(); got != "1:6,9,20:*" {
		t.Errorf("Compact = %q", got)
	}
	m := NumSet{Ranges: []Range{{4294967295, 4294967295}, {1, 4294967295}}}
	if got := m.Compact().String(); got != "1:4294967295" {
		t.Errorf("Compact max = %q", got)
	}
}

func FuzzParseNumSet(f *testing.F) {
	for _, s := range []string{"1", "1:*", "$", "1,2,3:7,9:*", "4294967295:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, err := ParseNumSet(s)
		if err != nil {
			return
		}
		again, err := ParseNumSet(set.String())
		if err != nil || again.String() != set.String() {
			t.Fatalf("round trip %q -> %q: %v", s, set.String(), err)
		}
		_ = set.Resolve(100).Count(100)
	})
}
