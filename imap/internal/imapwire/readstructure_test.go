package imapwire

import (
	"strings"
	"testing"
)

// Encoded structures read back into the same bytes.
func TestStructureRoundTrip(t *testing.T) {
	tests := []string{
		`("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92)`,
		`("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92 NIL NIL NIL NIL)`,
		`((("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 69 1 NIL NIL NIL NIL)("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "8BIT" 14 1 NIL NIL NIL NIL) "ALTERNATIVE" ("BOUNDARY" "inner") NIL NIL NIL)` +
			`("APPLICATION" "PDF" ("NAME*" "utf-8''Bericht%20M%C3%A4rz.pdf") "<att1@example.de>" "Quarterly report" "BASE64" 20 ` +
			`"Q2hlY2sgSW50ZWdyaXR5IQ==" ("ATTACHMENT" ("FILENAME" "r.pdf" "SIZE" "12")) ("de" "en") "http://example.de/r.pdf")` +
			`("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 149 ("Mon, 04 Mar 2024 09:00:00 +0000" "Forwarded" (("Carol" NIL "carol" "example.com")) ` +
			`(("Carol" NIL "carol" "example.com")) (("Carol" NIL "carol" "example.com")) NIL NIL NIL NIL NIL) ` +
			`("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 29 2 NIL NIL NIL NIL) 7 NIL NIL "de" NIL) ` +
			`"MIXED" ("BOUNDARY" "outer") NIL "de" NIL)`,
	}
	for _, in := range tests {
		d, _ := newDec(in+"\r\n", Limits{})
		bs, err := d.ReadBodyStructure()
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		must(t, d.ReadCRLF())
		ext := strings.Contains(in, "NIL NIL NIL)")
		// The reader joins and decodes RFC 2231 parameters.
		want := strings.Replace(in, `("NAME*" "utf-8''Bericht%20M%C3%A4rz.pdf")`, "(\"NAME\" {17}\r\nBericht März.pdf)", 1)
		if got := string(AppendBodyStructure(nil, bs, ext)); got != want {
			t.Errorf("round trip\n got %s\nwant %s", got, want)
		}
		if strings.Contains(in, "PDF") && bs.Children[1].Param("name") != "Bericht März.pdf" {
			t.Errorf("name %q", bs.Children[1].Param("name"))
		}
	}
	env := `("Mon, 7 Feb 1994 21:52:25 -0800" "afternoon meeting" (("Fred Foobar" NIL "foobar" "blurdybloop.example")) ` +
		`NIL ((NIL "@r" "x" "y")) ((NIL NIL "Team" NIL)(NIL NIL "a" "b")(NIL NIL NIL NIL)) NIL NIL NIL {5}` + "\r\n<a@b>)"
	d, _ := newDec(env+"\r\n", Limits{})
	e, err := d.ReadEnvelope()
	must(t, err)
	if got := string(AppendEnvelope(nil, e)); got != strings.Replace(env, "{5}\r\n<a@b>", `"<a@b>"`, 1) {
		t.Errorf("envelope round trip: %s", got)
	}
}

// Real servers' quirks: spaces between parts and addresses, extension
// data beyond location, message/global without envelope.
func TestReadBodyStructureTolerant(t *testing.T) {
	in := `(("text" "plain" NIL NIL NIL "7bit" 1 1) ("text" "html" NIL NIL NIL "7bit" 1 1 NIL NIL NIL NIL "x" (1 2 ("y"))) "alternative")`
	d, _ := newDec(in+"\r\n", Limits{})
	bs, err := d.ReadBodyStructure()
	must(t, err)
	must(t, d.ReadCRLF())
	if len(bs.Children) != 2 || bs.SubType != "alternative" || bs.Children[1].Lines != 1 {
		t.Fatalf("%+v", bs)
	}
	d, _ = newDec(`("message" "global" NIL NIL NIL "8bit" 10)`+"\r\n", Limits{})
	if _, err := d.ReadBodyStructure(); err != nil {
		t.Fatal(err)
	}
	d, _ = newDec(strings.Repeat("(", 100)+"\r\n", Limits{MaxDepth: 10})
	if _, err := d.ReadBodyStructure(); err == nil {
		t.Fatal("deep nesting accepted")
	}
}

func FuzzReadBodyStructure(f *testing.F) {
	f.Add(`("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92)`)
	f.Add(`(("text" "plain" NIL NIL NIL "7bit" 1 1)("text" "html" NIL NIL NIL "7bit" 1 1) "alternative" ("boundary" "x") NIL NIL NIL)`)
	f.Add(`("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 1 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ("TEXT" "PLAIN" NIL NIL NIL "7BIT" 1 1) 1)`)
	f.Fuzz(func(t *testing.T, s string) {
		d, _ := newDec(s+"\r\n", Limits{MaxDepth: 20, MaxLine: 4096})
		bs, err := d.ReadBodyStructure()
		if err != nil {
			return
		}
		// What was read encodes and reads back to the same encoding.
		enc := AppendBodyStructure(nil, bs, true)
		d2, _ := newDec(string(enc)+"\r\n", Limits{MaxDepth: 100, MaxLine: 1 << 20})
		bs2, err := d2.ReadBodyStructure()
		if err != nil {
			t.Fatalf("re-read %s: %v", enc, err)
		}
		if enc2 := AppendBodyStructure(nil, bs2, true); string(enc2) != string(enc) {
			t.Fatalf("unstable:\n%s\n%s", enc, enc2)
		}
	})
}

func TestReadRespText(t *testing.T) {
	tests := []struct{ in, code, arg, text string }{
		{"[APPENDUID 38505 3955] APPEND completed", "APPENDUID", "38505 3955", "APPEND completed"},
		{"[READ-WRITE] SELECT completed", "READ-WRITE", "", "SELECT completed"},
		{`[BADCHARSET ("UTF-8" "x]y")] bad`, "BADCHARSET", `("UTF-8" "x]y")`, "bad"},
		{"[ALERT]", "ALERT", "", ""},
		{"just text [not a code]", "", "", "just text [not a code]"},
		{"", "", "", ""},
	}
	for _, tt := range tests {
		d, _ := newDec(tt.in+"\r\n", Limits{})
		code, arg, text, err := d.ReadRespText()
		must(t, err)
		must(t, d.ReadCRLF())
		if string(code) != tt.code || arg != tt.arg || text != tt.text {
			t.Errorf("%q = %q %q %q", tt.in, code, arg, text)
		}
	}
}
