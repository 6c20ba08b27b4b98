package dmarc

import (
	"bytes"
	"net/mail"
	"os"
	"strings"
	"testing"
)

func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{
		"v=DMARC1; p=reject; sp=quarantine; np=reject; adkim=s; aspf=r; psd=n; t=y; pct=50; rua=mailto:a@example.com!10m,https://r.example/x; ruf=mailto:f@example.com; fo=1:d:s",
		"v=DMARC1;p=none",
		"v=DMARC1; p=bogus; rua=mailto:x",
		"v = DMARC1 ; fo=0:1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRecord(s)
		if err != nil {
			return
		}
		again, err := ParseRecord(r.String())
		if err != nil {
			t.Fatalf("%q formatted as %q: %v", s, r.String(), err)
		}
		if again.String() != r.String() {
			t.Fatalf("%q -> %q -> %q", s, r.String(), again.String())
		}
	})
}

func FuzzParseReport(f *testing.F) {
	if raw, err := os.ReadFile("testdata/rfc9990-sample.xml"); err == nil {
		f.Add(raw)
	}
	f.Add([]byte(`<feedback><report_metadata><org_name>a</org_name><report_id>1</report_id></report_metadata><policy_published><domain>d</domain></policy_published><record><row><count>1</count></row></record></feedback>`))
	f.Add([]byte("\x1f\x8b\x08\x00"))
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fb, err := parseReport(bytes.NewReader(data), 1<<20)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := fb.WriteXML(&buf); err != nil {
			t.Fatal(err)
		}
		if _, err := ParseReport(&buf); err != nil {
			t.Fatalf("a report we parsed does not parse after writing: %v\n%s", err, buf.String())
		}
	})
}

// FuzzSimpleAuthorDomain checks AuthorDomain's shortcut against the full
// parser: wherever the shortcut answers, net/mail finds the same domain.
func FuzzSimpleAuthorDomain(f *testing.F) {
	for _, s := range []string{
		"alerts@example.com", "<a@Example.COM>", "Example Alerts <alerts@example.com>",
		`"Alice" <alice@example.com>`, "a@example.com, b@example.com", "a.b+c@sub.example.com",
		" Bob  Smith <b@x.example> ", "a..b@example.com", "<@example.com>", "Név <a@example.com>",
		"a@b@c", "undisclosed-recipients:;", "(c) <a@example.com>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := simpleAuthorDomain(s)
		if !ok {
			return
		}
		addrs, err := mail.ParseAddressList(s)
		if err != nil {
			t.Fatalf("%q: shortcut found %q, net/mail: %v", s, d, err)
		}
		if len(addrs) != 1 {
			t.Fatalf("%q: %d addresses", s, len(addrs))
		}
		want := addrs[0].Address[strings.LastIndexByte(addrs[0].Address, '@')+1:]
		if normalize(want) != normalize(d) {
			t.Fatalf("%q: shortcut %q, net/mail %q", s, d, want)
		}
	})
}

// FuzzParseFailureReport: any message parses or fails without panic
// within the size bound, and a report that parses writes back and parses
// again to the same facts.
func FuzzParseFailureReport(f *testing.F) {
	if b, err := os.ReadFile("testdata/failure-report.eml"); err == nil {
		f.Add(b)
	}
	fr := &FailureReport{AuthenticationResults: "mx.example.org; dmarc=fail header.from=example.com", IdentityAlignment: []string{"dkim"},
		ReportedDomain: "example.com", Original: []byte("From: a@example.com\r\n\r\nhi\r\n")}
	var buf bytes.Buffer
	if err := fr.WriteMessage(&buf, FailureMessageOptions{From: "r@example.org", To: "f@example.com"}); err == nil {
		f.Add(buf.Bytes())
	}
	f.Add([]byte("Content-Type: multipart/report; report-type=feedback-report; boundary=x\r\n\r\n--x\r\nContent-Type: message/feedback-report\r\nContent-Transfer-Encoding: base64\r\n\r\nRmVlZGJhY2stVHlwZTogYXV0aC1mYWlsdXJl\r\n--x--\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := ParseFailureReport(bytes.NewReader(b))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := fr.WriteMessage(&out, FailureMessageOptions{From: "r@example.org", To: "f@example.com"}); err != nil {
			return // a value with a line break: refused, never written
		}
		again, err := ParseFailureReport(&out)
		if err != nil {
			t.Fatalf("written report does not parse: %v\n%s", err, out.Bytes())
		}
		if again.ReportedDomain != fr.ReportedDomain || again.SourceIP != fr.SourceIP ||
			!bytes.Equal(again.Original, fr.Original) || again.HeadersOnly != fr.HeadersOnly ||
			strings.Join(again.IdentityAlignment, ",") != strings.Join(fr.IdentityAlignment, ",") {
			t.Fatalf("round trip changed the report:\n%+v\n%+v", fr, again)
		}
	})
}
