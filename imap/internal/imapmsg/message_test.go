package imapmsg

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/internal/imapwire"
	"github.com/posthorn/posthorn/mime"
)

func load(t testing.TB, name string) *Message {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(bytes.NewReader(b), int64(len(b)), mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Expected wire forms, checked by hand against RFC 9051 §7.5.2 and §9:
// group syntax flattened, Sender and Reply-To defaulted to From, strings
// raw (encoded words kept), RFC 2231 values in extended form.
var wantStructures = []struct {
	file                string
	envelope, body, bst string
}{
	{
		file: "simple.eml",
		envelope: `("Mon, 7 Feb 1994 21:52:25 -0800 (PST)" "=?ISO-8859-1?Q?Caf=E9?= afternoon meeting" ` +
			`(("Fred Foobar" NIL "foobar" "Blurdybloop.example")) (("Fred Foobar" NIL "foobar" "Blurdybloop.example")) ` +
			`((NIL "@relay.example" "replies" "example.net")) ` +
			`((NIL NIL "mooch" "owatagu.siam.edu.example")(NIL NIL "Team" NIL)(NIL NIL "alice" "example.org")` +
			`("Bob \"B\" Smith" NIL "bob" "example.org")(NIL NIL NIL NIL)(NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) ` +
			`NIL NIL "<parent@example.com>" "<B27397-0100000@Blurdybloop.example>")`,
		body: `("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 61 2)`,
		bst:  `("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 61 2 NIL NIL NIL NIL)`,
	},
	{
		file: "multipart.eml",
		envelope: `("Tue, 05 Mar 2024 10:00:00 +0100" "Report with attachment" ` +
			`(("=?UTF-8?B?SsO8cmdlbg==?=" NIL "juergen" "example.de")) (("=?UTF-8?B?SsO8cmdlbg==?=" NIL "juergen" "example.de")) ` +
			`(("=?UTF-8?B?SsO8cmdlbg==?=" NIL "juergen" "example.de")) ((NIL NIL "list" "example.org")) NIL NIL NIL "<m1@example.de>")`,
		body: `((("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 69 0)("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "8BIT" 14 0) "ALTERNATIVE")` +
			`("APPLICATION" "PDF" ("NAME*" "utf-8''Bericht%20M%C3%A4rz.pdf") "<att1@example.de>" "Quarterly report" "BASE64" 20)` +
			`("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 149 ("Mon, 04 Mar 2024 09:00:00 +0000" "Forwarded" (("Carol" NIL "carol" "example.com")) ` +
			`(("Carol" NIL "carol" "example.com")) (("Carol" NIL "carol" "example.com")) NIL NIL NIL NIL NIL) ` +
			`("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 29 1) 6) "MIXED")`,
		bst: `((("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 69 0 NIL NIL NIL NIL)("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "8BIT" 14 0 NIL NIL NIL NIL) "ALTERNATIVE" ("BOUNDARY" "inner") NIL NIL NIL)` +
			`("APPLICATION" "PDF" ("NAME*" "utf-8''Bericht%20M%C3%A4rz.pdf") "<att1@example.de>" "Quarterly report" "BASE64" 20 ` +
			`"Q2hlY2sgSW50ZWdyaXR5IQ==" ("ATTACHMENT" ("FILENAME*" "utf-8''Bericht%20M%C3%A4rz.pdf" "SIZE" "12")) ("de" "en") "http://example.de/r.pdf")` +
			`("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 149 ("Mon, 04 Mar 2024 09:00:00 +0000" "Forwarded" (("Carol" NIL "carol" "example.com")) ` +
			`(("Carol" NIL "carol" "example.com")) (("Carol" NIL "carol" "example.com")) NIL NIL NIL NIL NIL) ` +
			`("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 29 1 NIL NIL NIL NIL) 6 NIL NIL NIL NIL) ` +
			`"MIXED" ("BOUNDARY" "outer") NIL "de" NIL)`,
	},
}

func TestStructures(t *testing.T) {
	for _, tt := range wantStructures {
		m := load(t, tt.file)
		e := m.Encode()
		if string(e.Envelope) != tt.envelope {
			t.Errorf("%s ENVELOPE\n got %s\nwant %s", tt.file, e.Envelope, tt.envelope)
		}
		if string(e.Body) != tt.body {
			t.Errorf("%s BODY\n got %s\nwant %s", tt.file, e.Body, tt.body)
		}
		if string(e.BodyStructure) != tt.bst {
			t.Errorf("%s BODYSTRUCTURE\n got %s\nwant %s", tt.file, e.BodyStructure, tt.bst)
		}
		// The direct encoders agree with the cached form.
		if got := imapwire.AppendBodyStructure(nil, m.BodyStructure(), true); string(got) != tt.bst {
			t.Errorf("%s AppendBodyStructure differs", tt.file)
		}
		if got := imapwire.AppendEnvelope(nil, m.Envelope()); string(got) != tt.envelope {
			t.Errorf("%s AppendEnvelope differs", tt.file)
		}
	}
}

func section(t *testing.T, m *Message, spec string) (string, error) {
	t.Helper()
	d := imapwire.NewDecoder(bufioReader(spec+"\r\n"), imapwire.Limits{})
	atts, err := d.ReadFetchAtts()
	if err != nil {
		t.Fatalf("%s: %v", spec, err)
	}
	sec := atts[0].Section
	if sec.Size {
		n, err := m.BinarySize(sec.Part)
		return string(rune('0'+n/10)) + string(rune('0'+n%10)), err
	}
	r, n, err := m.Section(sec)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != n {
		t.Fatalf("%s: size %d, read %d", spec, n, len(b))
	}
	return string(b), nil
}

// RFC 9051 §6.4.5 section specifications.
func TestSections(t *testing.T) {
	simple := load(t, "simple.eml")
	multi := load(t, "multipart.eml")
	innerHeader := "From: Carol <carol@example.com>\r\nSubject: Forwarded\r\nDate: Mon, 04 Mar 2024 09:00:00 +0000\r\nContent-Type: text/plain\r\n\r\n"
	tests := []struct {
		m    *Message
		spec string
		want string
		err  error
	}{
		{simple, "BODY[HEADER.FIELDS (subject FROM)]", "From: \"Fred Foobar\" <foobar@Blurdybloop.example> (the fred)\r\nSubject: =?ISO-8859-1?Q?Caf=E9?= afternoon\r\n meeting\r\n\r\n", nil},
		{simple, "BODY[HEADER.FIELDS.NOT (Date From Subject To Reply-To Message-Id In-Reply-To)]", "MIME-Version: 1.0\r\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n", nil},
		{simple, "BODY[TEXT]<0.10>", "Hello Joe,", nil},
		{simple, "BODY[TEXT]<55.100>", "Bye.\r\n", nil},
		{simple, "BODY[TEXT]<61.10>", "", nil},
		{simple, "BODY[1]", "Hello Joe, do you think we can meet at 3:30 tomorrow?\r\nBye.\r\n", nil},
		{simple, "BODY[2]", "", ErrNoSection},
		{simple, "BODY[1.HEADER]", "", ErrNoSection},
		{multi, "BODY[1.1]", "Gr=C3=BC=C3=9Fe aus M=C3=BCnchen, the quarterly numbers are attached.", nil},
		{multi, "BINARY[1.1]", "Grüße aus München, the quarterly numbers are attached.", nil},
		{multi, "BINARY[1.1]<8.3>", "aus", nil},
		{multi, "BINARY[2]", "Hello, PDF!\x00\x01\x02", nil},
		{multi, "BINARY.SIZE[2]", "14", nil},
		{multi, "BINARY.SIZE[1.2]", "14", nil},
		{multi, "BODY[1.1.MIME]", "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", nil},
		{multi, "BODY[3.HEADER]", innerHeader, nil},
		{multi, "BODY[3.HEADER.FIELDS (Subject)]", "Subject: Forwarded\r\n\r\n", nil},
		{multi, "BODY[3.TEXT]", "Inner body line one\r\nline two", nil},
		{multi, "BODY[3.1]", "Inner body line one\r\nline two", nil},
		{multi, "BODY[3]", innerHeader + "Inner body line one\r\nline two", nil},
		{multi, "BODY[4]", "", ErrNoSection},
		{multi, "BODY[2.TEXT]", "", ErrNoSection},
	}
	for _, tt := range tests {
		got, err := section(t, tt.m, tt.spec)
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("%s = %q, %v; want %q, %v", tt.spec, got, err, tt.want, tt.err)
		}
	}
	// RFC 3516 §4.3: an unknown transfer encoding is NO [UNKNOWN-CTE].
	raw := "Content-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n"
	m, _ := Parse(bytes.NewReader([]byte(raw)), int64(len(raw)), mime.Limits{})
	_, _, err := m.Section(&imap.FetchSection{Binary: true, Part: []uint32{1}})
	var ie *imap.Error
	if !errors.As(err, &ie) || ie.Code != imap.CodeUnknownCTE {
		t.Errorf("unknown CTE: %v", err)
	}
}

// A message whose own type is message/rfc822 is a non-multipart message:
// section 1 is its body, the encapsulated message, so 1.HEADER is the
// inner header and 1.1 the inner body (RFC 9051 §6.4.5), as its
// BODYSTRUCTURE (MESSAGE RFC822 ...) says. Issue 12, defect 4.
func TestSectionsTopLevelMessageRFC822(t *testing.T) {
	inner := "From: sub@example.org\r\nSubject: submsg\r\n\r\nHello world\r\n"
	outer := parseString(t, "From: user@example.org\r\nMime-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n"+inner)
	for _, tt := range []struct{ spec, want string }{
		{"BODY[1]", inner},
		{"BODY[1.HEADER]", "From: sub@example.org\r\nSubject: submsg\r\n\r\n"},
		{"BODY[1.TEXT]", "Hello world\r\n"},
		{"BODY[1.1]", "Hello world\r\n"},
		{"BODY[TEXT]", inner},
	} {
		if got, err := section(t, outer, tt.spec); err != nil || got != tt.want {
			t.Errorf("%s = %q, %v; want %q", tt.spec, got, err, tt.want)
		}
	}
	if _, err := section(t, outer, "BODY[1.2]"); !errors.Is(err, ErrNoSection) {
		t.Errorf("BODY[1.2]: %v", err)
	}
	// Twice encapsulated: 1.1 is the second message, 1.1.1 its body.
	twice := parseString(t, "Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\nSubject: deep\r\n\r\nbody\r\n")
	for _, tt := range []struct{ spec, want string }{
		{"BODY[1.1]", "Subject: deep\r\n\r\nbody\r\n"},
		{"BODY[1.1.HEADER]", "Subject: deep\r\n\r\n"},
		{"BODY[1.1.1]", "body\r\n"},
	} {
		if got, err := section(t, twice, tt.spec); err != nil || got != tt.want {
			t.Errorf("twice: %s = %q, %v; want %q", tt.spec, got, err, tt.want)
		}
	}
}
