package mime

import (
	"bufio"
	"maps"
	"strings"
	"testing"
	"time"
)

// TestRFC2046Sample reads the header of the sample message of RFC 2046
// §5.1.1 and the values in it.
func TestRFC2046Sample(t *testing.T) {
	const msg = "From: Nathaniel Borenstein <nsb@bellcore.com>\r\n" +
		"To: Ned Freed <ned@innosoft.com>\r\n" +
		"Date: Sun, 21 Mar 1993 23:56:48 -0800 (PST)\r\n" +
		"Subject: Sample message\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-type: multipart/mixed; boundary=\"simple boundary\"\r\n" +
		"\r\n" +
		"This is the preamble.\r\n"
	h, err := ReadHeader(bufio.NewReader(strings.NewReader(msg)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	typ, params, err := ParseMediaType(h.Get("Content-Type"))
	if err != nil || typ != "multipart/mixed" || params["boundary"] != "simple boundary" {
		t.Errorf("Content-Type: %q %q %v", typ, params, err)
	}
	d, err := ParseDate(h.Get("date"))
	if err != nil || !d.Equal(time.Date(1993, 3, 22, 7, 56, 48, 0, time.UTC)) {
		t.Errorf("Date: %v %v", d, err)
	}
	from, err := ParseAddress(h.Get("from"))
	if err != nil || from.Name != "Nathaniel Borenstein" || from.Mailbox != "nsb" || from.Host != "bellcore.com" {
		t.Errorf("From: %+v %v", from, err)
	}
	if h.Fields()[5].Key != "Content-type" {
		t.Errorf("field name case not kept: %q", h.Fields()[5].Key)
	}
}

// TestRFC2045MediaTypes checks the equivalences RFC 2045 §5.1 states, and
// RFC 2183's example.
func TestRFC2045MediaTypes(t *testing.T) {
	// RFC 2045 §5.1: these are equivalent.
	same := []string{
		`text/plain; charset=us-ascii (Plain text)`,
		`text/plain; charset="us-ascii"`,
		`TEXT/PLAIN; CHARSET=us-ascii`,
		"text/plain;\r\n charset=us-ascii",
	}
	for _, v := range same {
		typ, params, err := ParseMediaType(v)
		if err != nil || typ != "text/plain" || !maps.Equal(params, map[string]string{"charset": "us-ascii"}) {
			t.Errorf("ParseMediaType(%q) = %q %q %v", v, typ, params, err)
		}
	}
	// RFC 2183 §2.
	typ, params, err := ParseMediaType(`attachment; filename=genome.jpeg;
          modification-date="Wed, 12 Feb 1997 16:29:51 -0500";`)
	if err != nil || typ != "attachment" || params["filename"] != "genome.jpeg" {
		t.Fatalf("%q %q %v", typ, params, err)
	}
	md, err := ParseDate(params["modification-date"])
	if err != nil || md.Unix() != 855782991 {
		t.Errorf("modification-date %v %v", md, err)
	}
}

// TestRFC6532Header checks that UTF-8 header values (RFC 6532 §3) are
// kept and pass through the decoders unchanged.
func TestRFC6532Header(t *testing.T) {
	const msg = "From: Jöran <jöran@bücher.example>\r\nSubject: Grüße 日本\r\n\r\n"
	h, err := ReadHeader(bufio.NewReader(strings.NewReader(msg)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := DecodeWords(h.Get("subject")); err != nil || s != "Grüße 日本" {
		t.Errorf("Subject %q %v", s, err)
	}
	a, err := ParseAddress(h.Get("from"))
	if err != nil || a.Name != "Jöran" || a.Mailbox != "jöran" || a.Host != "bücher.example" {
		t.Errorf("From %+v %v", a, err)
	}
}
