package imap

import (
	"strings"
	"testing"
)

// RFC 9051 §6.3.9 wildcard rules.
func TestMatchList(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"*", "INBOX", true},
		{"*", "a/b/c", true},
		{"%", "a", true},
		{"%", "a/b", false},
		{"a/%", "a/b", true},
		{"a/%", "a/b/c", false},
		{"a/*", "a/b/c", true},
		{"a*c", "abc", true},
		{"a%c", "a/c", false},
		{"inbox", "INBOX", true},
		{"Inbox/%", "INBOX/x", true},
		{"Tom &- Jerry", "Tom &- Jerry", true},
		{"&U,BTFw-/%", "&U,BTFw-/x", true},
		{"", "", true},
		{"", "a", false},
		{"%/%", "a/b", true},
		{"a", "A", false},
	}
	for _, tt := range tests {
		if got := MatchList(tt.pattern, tt.name, '/'); got != tt.want {
			t.Errorf("MatchList(%q, %q) = %v", tt.pattern, tt.name, got)
		}
	}
	// Hostile pattern stays fast.
	if MatchList(strings.Repeat("*%", 500)+"x", strings.Repeat("a/", 500), '/') {
		t.Error("hostile pattern matched")
	}
}
