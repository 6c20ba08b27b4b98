package mime

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func FuzzReadHeader(f *testing.F) {
	for _, s := range []string{
		benchHeader,
		"Subject: folded\r\n  over\r\n\r\nbody",
		"subject : obs\nfrom: lf-only\n\n",
		" continuation first\r\nSubject: x\r\n\r\n",
		"From sender Thu Nov 26 04:40:29 2026\nSubject: mbox\n\n",
		"Subject: x\r\nno colon here\r\n\r\n",
		"Subject: crcrlf\r\r\nTo: y\r\r\n\r\r\n",
		"Subject: no end",
		"",
		"\r\n",
		":\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(in), 16)
		h, err := ReadHeader(br, Limits{MaxHeaderBytes: 4096, MaxHeaderFields: 50})
		rest, _ := io.ReadAll(br)
		consumed := in[:len(in)-len(rest)]
		if err != nil {
			return
		}
		// An unchanged header writes back exactly what it consumed.
		var out bytes.Buffer
		h.WriteTo(&out)
		if !bytes.Equal(out.Bytes(), consumed) {
			t.Fatalf("round trip: got %q, consumed %q", out.Bytes(), consumed)
		}
		if h.RawSize() != int64(len(consumed)) {
			t.Fatalf("RawSize %d, consumed %d", h.RawSize(), len(consumed))
		}
		for _, fl := range h.Fields() {
			if fl.Key != "" && !validFieldName(fl.Key) {
				t.Fatalf("invalid key %q", fl.Key)
			}
			_ = h.Get(fl.Key)
		}
		// The internal form that stops at a non-field line reports the
		// bytes it consumed, and those are what it writes back.
		br = bufio.NewReaderSize(bytes.NewReader(in), 16)
		h2, n, err := readHeader(br, Limits{}, true)
		if err != nil {
			return
		}
		out.Reset()
		h2.WriteTo(&out)
		if int64(out.Len()) != n || !bytes.Equal(out.Bytes(), in[:n]) {
			t.Fatalf("stop mode: consumed %d, writes %q", n, out.Bytes())
		}
	})
}

func FuzzDecodeWords(f *testing.F) {
	for _, s := range []string{
		"=?ISO-8859-1?Q?Andr=E9?= Pirard",
		"=?UTF-8?B?4oK=?= =?UTF-8?B?rA==?=",
		"=?utf-8?q?a?==?utf-8?q?b?=",
		`"=?utf-8?B?w6k=?=" <a@b>`,
		"=?x-unknown?q?x?=",
		"=?utf-7?Q?Hi_+AOk-?=",
		"=?iso-2022-jp?B?GyRCRnxLXDhsGyhC?=",
		"=?=?=??=?",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, _ := DecodeWords(s)
		if !strings.Contains(s, "=?") && got != s {
			t.Fatalf("text without words changed: %q -> %q", s, got)
		}
	})
}

func FuzzEncodeWords(f *testing.F) {
	for _, s := range []string{"plain", "Grüße aus Köln", "日本語", "=?utf-8?q?x?=", "a  b\tc", "😀 x 😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || strings.ContainsAny(s, "\r\n") {
			return
		}
		enc := EncodeWords(s)
		dec, err := DecodeWords(enc)
		if err != nil || dec != s {
			t.Fatalf("EncodeWords(%q) = %q decodes to %q (%v)", s, enc, dec, err)
		}
		if enc != s {
			for _, w := range strings.Fields(enc) {
				if strings.HasPrefix(w, "=?") && len(w) > maxWordLength {
					t.Fatalf("word %q too long", w)
				}
			}
		}
	})
}

func FuzzParseMediaType(f *testing.F) {
	for _, s := range []string{
		`text/plain; charset=us-ascii (Plain text)`,
		`application/x-stuff; title*2="isn't it!"; title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*0*=us-ascii'en'This%20is%20even%20more%20`,
		`attachment; filename*=euc-kr''%C7%D1%B1%DB.txt`,
		`attachment; filename="=?UTF-8?B?4oKsLnBkZg==?="`,
		`text/plain; charset=utf-8 format=flowed`,
		`multipart/mixed; boundary="=_abc"`,
		`x/y; a*0=1; a*1*=%; a*99999=x`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		typ, params, err := ParseMediaType(s)
		if err == ErrNoMediaType || typ == "" || !isToken(strings.ReplaceAll(typ, "/", "")) {
			return
		}
		for k, v := range params {
			if !utf8.ValidString(v) || !isToken(k) || strings.ContainsAny(k, "*'%") || strings.ToLower(k) != k {
				return
			}
		}
		// What we format, we read back the same.
		v := FormatMediaType(typ, params)
		if v == "" {
			return
		}
		typ2, params2, err := ParseMediaType(v)
		if err != nil || typ2 != typ || len(params2) != len(params) {
			t.Fatalf("re-parse of %q: %q %q %v (from %q %q)", v, typ2, params2, err, typ, params)
		}
		for k, v := range params {
			if params2[k] != v {
				t.Fatalf("param %q: %q became %q via %q", k, v, params2[k], FormatMediaType(typ, params))
			}
		}
	})
}

func FuzzParseAddressList(f *testing.F) {
	for _, s := range []string{
		`"Joe Q. Public" <john.q.public@example.com>`,
		`Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>`,
		`A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;`,
		`Pete(A nice \) chap) <pete(his account)@silly.test(his host)>`,
		`Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example`,
		`=?utf-8?q?Doe,_Jane?= <j@x.test>`,
		`Doe, Jane <jane@x.test>, bob@y.test`,
		`用户@例子.广告`,
		`"a\"b"@[192.0.2.1]`,
		`<>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		list, _ := ParseAddressList(s)
		for _, a := range list {
			out := a.String()
			if strings.ContainsAny(out, "\r\n") {
				t.Fatalf("formatted address has CR/LF: %q", out)
			}
			if a.Group || !utf8.ValidString(a.Name) || !utf8.ValidString(a.Mailbox) || !isASCII(a.Host) {
				continue
			}
			// A mailbox we format parses back to the same mailbox.
			if strings.ContainsFunc(a.Name+a.Mailbox, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				continue
			}
			b, err := ParseAddress(out)
			if err != nil {
				if a.Mailbox == "" || a.Host == "" {
					continue
				}
				t.Fatalf("%q formats as %q, which does not parse: %v", s, out, err)
			}
			if b.Mailbox != a.Mailbox || b.Host != a.Host || b.Name != strings.Join(strings.Fields(a.Name), " ") && b.Name != a.Name {
				t.Fatalf("%q: %+v formats as %q, parses as %+v", s, a, out, b)
			}
		}
	})
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{
		"Fri, 21 Nov 1997 09:55:06 -0600",
		"21 Nov 97 09:55:06 GMT",
		"Fri, 21 Nov 1997 09(comment):   55  :  06 -0600",
		"Mon Jan  2 15:04:05 2006",
		"2006-01-02T15:04:05+09:00",
		"Monday, January 2, 2006 3:04:05 PM",
		"2-Jan-2006 15.04.05 CET",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseDate(s)
		if err != nil || tm.Year() < 0 || tm.Year() > 9999 {
			return
		}
		back, err := ParseDate(FormatDate(tm))
		if err != nil || !back.Equal(tm.Truncate(time.Second)) {
			t.Fatalf("%q -> %v -> %q -> %v %v", s, tm, FormatDate(tm), back, err)
		}
	})
}

// FuzzBuilder builds messages from arbitrary header text, names and
// bodies: the result is either a *BuildError or 7-bit CRLF text with
// lines of at most 998 characters whose Subject, From and file name read
// back as given.
func FuzzBuilder(f *testing.F) {
	f.Add("Grüße", "Jöran Bäcker", "Bericht über.pdf", "body\n", []byte{0, 1, 2})
	f.Add("hi\r\nBcc: x@y", "a\nb", "a\rb", "", []byte(nil))
	f.Add(strings.Repeat("long subject ", 30), `"quoted" \ name`, strings.Repeat("ü", 100), strings.Repeat("x", 2000), []byte("=?utf-8?q?x?="))
	f.Fuzz(func(t *testing.T, subject, name, filename, text string, data []byte) {
		b := &Builder{
			From:        &Address{Name: name, Mailbox: "a", Host: "example.com"},
			To:          []*Address{{Mailbox: "b", Host: "example.org"}},
			Subject:     subject,
			Text:        strings.NewReader(text),
			Attachments: []*Attachment{{Filename: filename, Body: bytes.NewReader(data)}},
		}
		raw, err := b.Bytes()
		if err != nil {
			var be *BuildError
			if !errors.As(err, &be) {
				t.Fatalf("error %v is not a *BuildError", err)
			}
			return
		}
		for i, l := range bytes.Split(raw, []byte("\r\n")) {
			if len(l) > 998 {
				t.Fatalf("line %d has %d characters", i, len(l))
			}
			for _, c := range l {
				if c >= 0x80 || c == '\r' || c == '\n' || c == 0 {
					t.Fatalf("line %d: byte %#x: %q", i, c, l)
				}
			}
		}
		r := NewReader(bytes.NewReader(raw), Limits{})
		p, err := r.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
		if got, _ := DecodeWords(p.Header.Get("Subject")); norm(got) != norm(subject) {
			t.Fatalf("Subject %q read back as %q", subject, got)
		}
		from, err := ParseAddress(p.Header.Get("From"))
		if err != nil || norm(from.Name) != norm(name) {
			t.Fatalf("From name %q read back as %+v (%v) from %q", name, from, err, p.Header.Get("From"))
		}
		for {
			q, err := r.NextPart()
			if err != nil {
				break
			}
			if q.Disposition == "attachment" && q.Filename() != filename {
				t.Fatalf("filename %q read back as %q", filename, q.Filename())
			}
		}
	})
}

func FuzzParseMessageIDs(f *testing.F) {
	for _, s := range []string{"<1234@local.machine.example> <3456@example.net>", "<1234   @   local(blah)  .machine .example>", "bare@x", "<(<)>>", "<"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, id := range ParseMessageIDs(s) {
			if id == "" || strings.ContainsAny(id, "<> \t\r\n") {
				t.Fatalf("ParseMessageIDs(%q) gave %q", s, id)
			}
		}
	})
}
