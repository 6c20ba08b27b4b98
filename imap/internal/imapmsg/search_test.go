package imapmsg

import (
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/internal/imapwire"
	"github.com/posthorn/posthorn/mime"
)

func criteria(t *testing.T, s string) *imap.SearchCriteria {
	t.Helper()
	d := imapwire.NewDecoder(bufioReader(s+"\r\n"), imapwire.Limits{})
	c, err := d.ReadSearchCriteria()
	if err == nil {
		err = d.ReadCRLF()
	}
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return c
}

// RFC 9051 §6.4.4: header and body keys match case-insensitive substrings
// after decoding encoded words and charsets; SENT* keys use the Date
// header, BEFORE/ON/SINCE the internal date.
func TestSearch(t *testing.T) {
	simple := load(t, "simple.eml")
	multi := load(t, "multipart.eml")
	meta := Meta{
		SeqNum: 3, UID: 42, Flags: []imap.Flag{imap.FlagSeen, "$Junk"},
		InternalDate: time.Date(2024, 3, 5, 23, 30, 0, 0, time.FixedZone("", -5*3600)),
		Size:         1253, ModSeq: 77,
	}
	ctx := SearchContext{MaxSeq: 10, MaxUID: 50, SavedUIDs: imap.NumSetOf(40, 42), Now: time.Date(2024, 3, 6, 5, 30, 0, 0, time.UTC)}
	tests := []struct {
		m    *Message
		keys string
		want bool
	}{
		{simple, `SUBJECT "café"`, true}, // encoded word decoded
		{simple, `SUBJECT "CAFÉ AFTERNOON"`, true},
		{simple, `SUBJECT "=?ISO"`, false},
		{simple, `FROM "fred foobar"`, true},
		{simple, `FROM blurdybloop.EXAMPLE`, true},
		{simple, `TO bob`, true},
		{simple, `CC bob`, false},
		{simple, `HEADER Message-ID ""`, true},
		{simple, `HEADER X-Missing ""`, false},
		{simple, `HEADER in-reply-to parent`, true},
		{simple, `BODY "3:30 TOMORROW"`, true},
		{simple, `BODY "Subject"`, false},
		{simple, `TEXT "subject: café"`, true},
		{simple, `TEXT "bye."`, true},
		{simple, `SENTON 7-Feb-1994`, true}, // the Date header's own zone (-0800)
		{simple, `SENTBEFORE 8-Feb-1994 SENTSINCE 7-Feb-1994`, true},
		{multi, `BODY "grüße aus münchen"`, true}, // quoted-printable, UTF-8
		{multi, `BODY "<P>GRÜSSE"`, false},
		{multi, `BODY "inner body"`, true},  // nested message/rfc822
		{multi, `BODY "Hello, PDF"`, false}, // not a text part
		{multi, `FROM "jürgen"`, true},
		{multi, `ON 5-Mar-2024`, true}, // internal date in its own zone
		{multi, `SINCE 6-Mar-2024`, false},
		{multi, `BEFORE 6-Mar-2024`, true},
		{multi, `SEEN KEYWORD $junk UNFLAGGED UNKEYWORD $Phishing`, true},
		{multi, `OR DELETED NOT UNSEEN`, true},
		{multi, `NOT (SEEN FROM nobody)`, true},
		{multi, `LARGER 1252 SMALLER 1254`, true},
		{multi, `UID 40:45 3 2:* 1:3`, true},
		{multi, `UID $`, true},
		{multi, `UID 43:*`, false},
		{multi, `MODSEQ 77`, true},
		{multi, `MODSEQ 78`, false},
		{multi, `YOUNGER 3600 OLDER 60`, true},
		{multi, `OR FROM "jürgen" BODY nothing-here`, true},
	}
	for _, tt := range tests {
		c := criteria(t, "CHARSET UTF-8 "+tt.keys)
		m := NewMatcher(c.Keys, ctx)
		opened := false
		got, err := m.Match(&meta, func() (*Message, error) { opened = true; return tt.m, nil })
		if err != nil || got != tt.want {
			t.Errorf("%s = %v, %v; want %v", tt.keys, got, err, tt.want)
		}
		if opened && !m.NeedsMessage() {
			t.Errorf("%s: opened the message needlessly", tt.keys)
		}
	}
	// Metadata decides without opening the message.
	m := NewMatcher(criteria(t, `DELETED FROM "jürgen"`).Keys, ctx)
	if ok, _ := m.Match(&meta, func() (*Message, error) { t.Fatal("opened"); return nil, nil }); ok {
		t.Error("DELETED matched")
	}
}

func TestStreamContains(t *testing.T) {
	text := strings.Repeat("abcdefgh", 10000) + "NEEDLE Ünïcode" + strings.Repeat("x", 40000)
	for _, needle := range []string{"needle ünïcode", "hne", "ünï"} {
		ok, err := streamContains(strings.NewReader(text), needle, &searchScratch{})
		if !ok || err != nil {
			t.Errorf("%q not found", needle)
		}
	}
	if ok, _ := streamContains(strings.NewReader(text), "needlex", &searchScratch{}); ok {
		t.Error("false match")
	}
	// A rune split across read boundaries is still matched.
	for i := 32760; i < 32770; i++ {
		s := strings.Repeat("a", i) + "ÜBER"
		if ok, _ := streamContains(&oneByteTail{s: s}, "über", &searchScratch{}); !ok {
			t.Errorf("split at %d", i)
		}
	}
}

// oneByteTail returns reads of odd sizes to split runes.
type oneByteTail struct {
	s string
	i int
}

func (r *oneByteTail) Read(p []byte) (int, error) {
	if r.i >= len(r.s) {
		return 0, ioEOF
	}
	n := min(len(p), 7777, len(r.s)-r.i)
	copy(p, r.s[r.i:r.i+n])
	r.i += n
	return n, nil
}

// The cached SUBJECT of a message answers exactly as the header does.
func TestSearchSubjectCached(t *testing.T) {
	headers := []string{
		"Subject: Hello World\r\n\r\n",
		"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=\r\n\r\n",
		"Subject: =?ISO-8859-1?Q?Caf=E9?= afternoon\r\n meeting\r\n\r\n",
		"Subject: first\r\nX-A: b\r\nSUBJECT: Second kumquatvex\r\n\r\n",
		"From: a@example.org\r\n\r\n",
		"Subject:\r\n\r\n",
		"Subject: =?utf-8?b?w4RwZmVs?= =?utf-8?b?IHVuZCBCaXJuZW4=?=\r\n\r\n",
	}
	needles := []string{"hello", "world", "grüße", "köln", "café", "afternoon meeting", "second", "first", "kumquatvex", "äpfel und", "x", "e", "first\x00second", "t s"}
	for _, h := range headers {
		raw := h + "body\r\n"
		m, err := Parse(strings.NewReader(raw), int64(len(raw)), mime.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		enc := m.Encode()
		cached := NewCached(m.r, m.size, m.root, enc)
		for _, n := range needles {
			k := []imap.SearchKey{{Op: imap.SearchSubject, Value: n}}
			want, _ := NewMatcher(k, SearchContext{}).Match(&Meta{}, func() (*Message, error) { return m, nil })
			for range 2 { // computed, then from the cache
				got, _ := NewMatcher(k, SearchContext{}).Match(&Meta{}, func() (*Message, error) { return cached, nil })
				if got != want {
					t.Errorf("%q SUBJECT %q: cached %v, header %v", h, n, got, want)
				}
			}
		}
	}
}

// SEARCH FROM/TO/CC/BCC match an address as parsed when comments split
// it in the field: "<user (c)@ (c) example.org>" is user@example.org,
// as ENVELOPE says (issue 12 defect 8; imaptest's search-addresses).
func TestSearchAddressWithComments(t *testing.T) {
	meta := Meta{SeqNum: 1, UID: 1}
	for _, tt := range []struct {
		msg, keys string
		want      bool
	}{
		{"From: <user-from (comment)@ (comment) example.org>\r\n\r\n", `FROM user-from@example.org`, true},
		{"From: user-from (comment)@ (comment) example.org\r\n\r\n", `FROM USER-FROM@EXAMPLE.ORG`, true},
		{"To: a@x, <b (c)@ y.example>\r\n\r\n", `TO b@y.example`, true},
		{"Cc: <b (c)@ y.example>\r\n\r\n", `TO b@y.example`, false},
		{"From: <user-from (comment)@ (comment) example.org>\r\n\r\n", `FROM other@example.org`, false},
		{"From: <user-from (comment)@ (comment) example.org>\r\n\r\n", `FROM comment`, true}, // the field as written
	} {
		msg := parseString(t, tt.msg)
		m := NewMatcher(criteria(t, tt.keys).Keys, SearchContext{MaxSeq: 1, MaxUID: 1})
		got, err := m.Match(&meta, func() (*Message, error) { return msg, nil })
		if err != nil || got != tt.want {
			t.Errorf("%q %s = %v, %v; want %v", tt.msg, tt.keys, got, err, tt.want)
		}
	}
}
