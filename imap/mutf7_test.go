package imap

import (
	"errors"
	"testing"
	"unicode/utf8"
)

func TestMailboxNameRoundTrip(t *testing.T) {
	// Examples from RFC 3501 §5.1.3 and RFC 2152.
	tests := []struct{ utf8, mutf7 string }{
		{"INBOX", "INBOX"},
		{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
		{"&", "&-"},
		{"Tom & Jerry", "Tom &- Jerry"},
		{"Entwürfe", "Entw&APw-rfe"},
		{"€", "&IKw-"},
		{"😀", "&2D3eAA-"},
		{"a€b😀", "a&IKw-b&2D3eAA-"},
		{"Ü&Ä", "&ANw-&-&AMQ-"},
	}
	for _, tt := range tests {
		if got := EncodeMailboxName(tt.utf8); got != tt.mutf7 {
			t.Errorf("Encode(%q) = %q, want %q", tt.utf8, got, tt.mutf7)
		}
		got, err := DecodeMailboxName(tt.mutf7)
		if err != nil || got != tt.utf8 {
			t.Errorf("Decode(%q) = %q, %v; want %q", tt.mutf7, got, err, tt.utf8)
		}
	}
}

func TestDecodeMailboxNameStrict(t *testing.T) {
	bad := []string{
		"&",           // unterminated
		"&U,BTFw",     // unterminated
		"&AGE-",       // "a" encoded: superfluous shift
		"&U,A-&U,A-",  // adjacent shifts a canonical encoder joins
		"&2D0-",       // lone high surrogate
		"&3gA-",       // lone low surrogate
		"&IKx-",       // non-zero padding bits
		"&IKwA-",      // excess base64 character
		"a\x01b",      // control character
		"caf\xc3\xa9", // raw 8-bit
		"&IK/-",       // '/' is not modified base64
		"&AAE-",       // U+0001 control character
	}
	for _, s := range bad {
		got, err := DecodeMailboxName(s)
		var me *MailboxNameError
		if err == nil || !errors.As(err, &me) || !errors.Is(err, ErrBadMailboxName) {
			t.Errorf("Decode(%q) = %q, %v; want *MailboxNameError", s, got, err)
		}
	}
}

func TestNormalizeMailboxName(t *testing.T) {
	got, ok := NormalizeMailboxName("Entwu\u0308rfe")
	if !ok || got != "Entwürfe" {
		t.Errorf("Normalize = %q, %v", got, ok)
	}
	if _, ok := NormalizeMailboxName("\xff"); ok {
		t.Error("invalid UTF-8 accepted")
	}
	if got := CanonicalMailboxName("inBox", '/'); got != "INBOX" {
		t.Errorf("Canonical = %q", got)
	}
	if got := CanonicalMailboxName("inbox/Sub", '/'); got != "INBOX/Sub" {
		t.Errorf("Canonical = %q", got)
	}
	if got := CanonicalMailboxName("inboxes", '/'); got != "inboxes" {
		t.Errorf("Canonical = %q", got)
	}
}

func FuzzDecodeMailboxName(f *testing.F) {
	for _, s := range []string{"INBOX", "&U,BTFw-", "&-", "&2D3eAA-", "&AGE-", "&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := DecodeMailboxName(s)
		if err != nil {
			return
		}
		if e := EncodeMailboxName(d); e != s {
			t.Fatalf("non-canonical input accepted: %q -> %q -> %q", s, d, e)
		}
	})
}

func FuzzEncodeMailboxName(f *testing.F) {
	for _, s := range []string{"INBOX", "台北", "a&b", "😀x€"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		for _, r := range s {
			if r < 0x20 || (r >= 0x7f && r < 0xa0) {
				return // control characters are refused by the decoder
			}
		}
		d, err := DecodeMailboxName(EncodeMailboxName(s))
		if err != nil || d != s {
			t.Fatalf("%q -> %q -> %q, %v", s, EncodeMailboxName(s), d, err)
		}
	})
}
