package mime

import (
	"maps"
	"strings"
	"testing"
)

func TestParseMediaType(t *testing.T) {
	tests := []struct {
		in     string
		typ    string
		params map[string]string
		soft   bool
	}{
		{`text/plain; charset=us-ascii (Plain text)`, "text/plain", map[string]string{"charset": "us-ascii"}, false},
		{`TEXT/Plain ; CharSet="ISO-8859-1"`, "text/plain", map[string]string{"charset": "ISO-8859-1"}, false},
		{`attachment; filename="a \"b\".txt"`, "attachment", map[string]string{"filename": `a "b".txt`}, false},
		// RFC 2231 §3: continuations
		{"message/external-body; access-type=URL;\r\n URL*0=\"ftp://\";\r\n URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"",
			"message/external-body", map[string]string{"access-type": "URL", "url": "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"}, false},
		// RFC 2231 §4
		{`application/x-stuff; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A`,
			"application/x-stuff", map[string]string{"title": "This is ***fun***"}, false},
		// RFC 2231 §4.1, segments out of order
		{`application/x-stuff; title*2="isn't it!"; title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*0*=us-ascii'en'This%20is%20even%20more%20`,
			"application/x-stuff", map[string]string{"title": "This is even more ***fun*** isn't it!"}, false},
		{`attachment; filename*=euc-kr''%C7%D1%B1%DB.txt`, "attachment", map[string]string{"filename": "한글.txt"}, false},
		{`attachment; filename*=UTF-8''%E2%82%AC.pdf; filename="fallback.pdf"`, "attachment", map[string]string{"filename": "€.pdf"}, false},
		{`attachment; filename="=?UTF-8?B?4oKsLnBkZg==?="`, "attachment", map[string]string{"filename": "€.pdf"}, false},
		{`attachment; filename=my file.pdf`, "attachment", map[string]string{"filename": "my file.pdf"}, false},
		{`text/plain; charset=utf-8 format=flowed`, "text/plain", map[string]string{"charset": "utf-8", "format": "flowed"}, true},
		{`text/plain; charset="utf-8`, "text/plain", map[string]string{"charset": "utf-8"}, true},
		{`text/plain; charset=a; charset=b`, "text/plain", map[string]string{"charset": "a"}, true},
		{`text/plain; flag; x=`, "text/plain", map[string]string{"x": ""}, true},
		{`multipart/mixed; boundary=a=b?c`, "multipart/mixed", map[string]string{"boundary": "a=b?c"}, true},
		{`text/plain;;`, "text/plain", map[string]string{}, false},
		{`application/pdf; name=r\u00e9sum\u00e9.pdf`, "application/pdf", map[string]string{"name": `r\u00e9sum\u00e9.pdf`}, true},
		{"application/pdf; name=résumé.pdf", "application/pdf", map[string]string{"name": "résumé.pdf"}, false},
	}
	for _, tt := range tests {
		typ, params, err := ParseMediaType(tt.in)
		if typ != tt.typ || !maps.Equal(params, tt.params) {
			t.Errorf("ParseMediaType(%q) = %q, %q; want %q, %q", tt.in, typ, params, tt.typ, tt.params)
		}
		if (err != nil) != tt.soft {
			t.Errorf("ParseMediaType(%q) err = %v, want soft=%v", tt.in, err, tt.soft)
		}
	}
	if _, _, err := ParseMediaType("; charset=x"); err != ErrNoMediaType {
		t.Errorf("no type: %v", err)
	}
}

func TestFormatMediaTypeRoundTrip(t *testing.T) {
	for _, params := range []map[string]string{
		{"charset": "utf-8"},
		{"filename": "report 2024.pdf"},
		{"filename": `a "quoted" \ name.txt`},
		{"filename": "Grüße.pdf"},
		{"filename": "日本語のファイル名がとても長い場合には複数の節に分割されなければなりません.pdf"},
		{"filename": "x%y*z'w.txt", "size": "100"},
		{"title": strings.Repeat("long ascii value ", 10)},
	} {
		v := FormatMediaType("Attachment", params)
		var h Header
		if err := h.Add("Content-Disposition", v); err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		for _, l := range strings.Split(string(h.Fields()[0].Raw), "\r\n") {
			if len(l) > 78 {
				t.Errorf("line of %d: %q", len(l), l)
			}
		}
		typ, got, err := ParseMediaType(h.Get("content-disposition"))
		if err != nil || typ != "attachment" || !maps.Equal(got, params) {
			t.Errorf("FormatMediaType(%q) = %q, parses to %q %q %v", params, v, typ, got, err)
		}
	}
	if FormatMediaType("text/pl ain", nil) != "" || FormatMediaType("text/plain", map[string]string{"a b": "c"}) != "" {
		t.Error("invalid input accepted")
	}
}
