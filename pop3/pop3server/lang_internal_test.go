package pop3server

import (
	"strings"
	"testing"
)

// RFC 4647 §2.1 basic language ranges and §3.3.1 basic filtering.
func TestMatchLanguage(t *testing.T) {
	s := &Server{DefaultLanguage: "de", Languages: []Language{{Tag: "de-CH"}, {Tag: "de"}, {Tag: "zh-Hant-TW"}}}
	for rng, want := range map[string]string{
		"en": "en", "EN": "en", "de": "de", "de-ch": "de-CH", "*": "de",
		"zh": "zh-Hant-TW", "zh-hant": "zh-Hant-TW", "zh-Hant-TW": "zh-Hant-TW",
		"d": "", "de-C": "", "fr": "", "zh-TW": "",
	} {
		got := ""
		if !validRange(rng) {
			t.Errorf("validRange(%q) = false", rng)
		}
		if l, ok := s.matchLanguage(rng); ok {
			got = l.Tag
		}
		if got != want {
			t.Errorf("matchLanguage(%q) = %q, want %q", rng, got, want)
		}
	}
	for _, bad := range []string{"", "-", "en-", "1en", "abcdefghi", "en_US", "en--us", "**", "en-*", "é"} {
		if validRange(bad) {
			t.Errorf("validRange(%q) = true", bad)
		}
	}
}

func FuzzLanguageRange(f *testing.F) {
	for _, s := range []string{"en", "*", "de-CH", "zh-Hant-TW", "x-abc", "en-", "é", "a-123456789"} {
		f.Add(s)
	}
	s := &Server{Languages: []Language{{Tag: "de-CH"}, {Tag: "es"}}}
	f.Fuzz(func(t *testing.T, rng string) {
		if !validRange(rng) {
			return
		}
		if strings.ContainsAny(rng, " \r\n") {
			t.Fatalf("range %q with blanks accepted", rng)
		}
		if l, ok := s.matchLanguage(rng); ok && rng != "*" && !strings.HasPrefix(strings.ToLower(l.Tag), strings.ToLower(rng)) {
			t.Fatalf("range %q matched %q", rng, l.Tag)
		}
	})
}
