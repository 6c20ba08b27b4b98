package imapmsg

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/mime"
)

func parseString(t testing.TB, s string) *Message {
	t.Helper()
	m, err := Parse(strings.NewReader(s), int64(len(s)), mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// leaf builds a single-part message.
func leaf(ctype, cte, body string) string {
	h := "Subject: t\r\nMIME-Version: 1.0\r\nContent-Type: " + ctype + "\r\n"
	if cte != "" {
		h += "Content-Transfer-Encoding: " + cte + "\r\n"
	}
	return h + "\r\n" + body
}

// TestBodySearchDecoding: RFC 9051 §6.4.4 — BODY matches the decoded text
// case-insensitively, whatever the transfer encoding and charset; the
// word may be split by a quoted-printable soft line break (RFC 2045
// §6.7 rule 5) or spelt with escapes; non-text parts are not searched.
func TestBodySearchDecoding(t *testing.T) {
	tests := []struct {
		name, msg, key string
		want           bool
	}{
		{"7bit", leaf("text/plain", "", "a MarzipanLode b\r\n"), "marzipanlode", true},
		{"7bit no", leaf("text/plain", "", "a marzipan lode b\r\n"), "marzipanlode", false},
		{"qp soft break", leaf("text/plain; charset=utf-8", "quoted-printable", "xx marzi=\r\npanlode yy\r\n"), "marzipanlode", true},
		{"qp soft break with blanks", leaf("text/plain", "quoted-printable", "xx MARZI= \t\r\nPANLODE\r\n"), "marzipanlode", true},
		{"qp escapes", leaf("text/plain", "quoted-printable", "=4d=41RZIPAN=4Code\r\n"), "marzipanlode", true},
		{"qp stray equals", leaf("text/plain", "quoted-printable", "a=zz b\r\n"), "a=zz", true},
		{"qp hard break", leaf("text/plain", "quoted-printable", "marzi\r\npanlode\r\n"), "marzipanlode", false},
		{"qp latin-1", leaf("text/plain; charset=iso-8859-1", "quoted-printable", "Gr=FC=DFe, Marzipan=\r\nLode\r\n"), "marzipanlode", true},
		{"qp latin-1 umlaut", leaf("text/plain; charset=ISO-8859-1", "quoted-printable", "GR=DC=DFE\r\n"), "grüße", true},
		{"base64 text", leaf("text/plain; charset=utf-8", "base64", "SGVsbG8g\r\nTUFSWklQQU5MT0RFIQ==\r\n"), "marzipanlode", true},
		{"base64 attachment", leaf("application/octet-stream", "base64", "bWFyemlwYW5sb2Rl\r\n"), "marzipanlode", false},
		{"image", leaf("image/png", "", "marzipanlode\r\n"), "marzipanlode", false},
		{"html", leaf("text/html", "", "<b>MarzipanLode</b>\r\n"), "marzipanlode", true},
		{"8bit utf-8", leaf("text/plain; charset=utf-8", "8bit", "Straße MARZIPANLODE\r\n"), "marzipanlode", true},
		{"kelvin sign", leaf("text/plain; charset=utf-8", "8bit", "5 \u212aELVIN\r\n"), "kelvin", true},
		{"dotted capital I", leaf("text/plain; charset=utf-8", "8bit", "\u0130STANBUL\r\n"), "istanbul", true},
		{"non-ascii needle", leaf("text/plain; charset=utf-8", "quoted-printable", "GR=C3=9C=C3=9FE\r\n"), "grüße", true},
		{"koi8-r", leaf("text/plain; charset=koi8-r", "8bit", "\xf0\xd2\xc9\xd7\xc5\xd4 marzipanlode\r\n"), "привет marzipanlode", true},
		{"header is not body", leaf("text/plain", "", "nothing\r\n"), "subject", false},
		{"multipart",
			"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nbWFyemlwYW5sb2Rl\r\n" +
				"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nsee marzip=\r\nanlode\r\n--b--\r\n", "marzipanlode", true},
	}
	for _, tt := range tests {
		m := parseString(t, tt.msg)
		got, err := m.bodyContains(m.root, tt.key, &searchScratch{})
		if err != nil || got != tt.want {
			t.Errorf("%s: BODY %q = %v, %v; want %v", tt.name, tt.key, got, err, tt.want)
		}
		// The same through a Matcher, with scratch buffers reused.
		mt := NewMatcher(criteria(t, `CHARSET UTF-8 BODY "`+tt.key+`"`).Keys, SearchContext{Now: time.Now()})
		for range 2 {
			if got, err := mt.Match(&Meta{}, func() (*Message, error) { return m, nil }); err != nil || got != tt.want {
				t.Errorf("%s: Match = %v, %v; want %v", tt.name, got, err, tt.want)
			}
		}
	}
}

// slowContains is the reference: decode, convert, lower all of Unicode.
func slowContains(t testing.TB, m *Message, q *mime.Part, needle string) bool {
	r := mime.NewTransferDecoder(q.Encoding, io.NewSectionReader(m.r, q.BodyOffset, q.EndOffset-q.BodyOffset))
	if cr, ok := mime.NewCharsetReader(q.Charset(), r); ok {
		r = cr
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(bytes.ToLower(b), []byte(needle))
}

// FuzzBodySearch checks that the fast path agrees with decoding the part
// and lower-casing all of Unicode.
func FuzzBodySearch(f *testing.F) {
	f.Add("quoted-printable", "utf-8", "xx marzi=\r\npanlode yy\r\n", "marzipanlode")
	f.Add("", "us-ascii", "Kelvin \u212a\r\n", "k")
	f.Add("base64", "utf-8", "SGVsbG8g\r\nTUFSWklQQU5MT0RFIQ==\r\n", "marzipanlode")
	f.Add("quoted-printable", "iso-8859-1", "GR=DC=DFE =\r\n= =3d=\r\n", "=")
	f.Add("8bit", "utf-8", "\xc4\xb0\xff\xfeABC", "iabc")
	f.Fuzz(func(t *testing.T, cte, charset, body, needle string) {
		if len(body) > 4096 || strings.ContainsAny(cte+charset, "\r\n\";") || needle == "" {
			return
		}
		needle = strings.ToLower(needle)
		m, err := Parse(strings.NewReader(leaf("text/plain; charset=\""+charset+"\"", cte, body)), int64(len(leaf("text/plain; charset=\""+charset+"\"", cte, body))), mime.Limits{})
		if err != nil || m.root.MediaType != "text" {
			return
		}
		var got, want bool
		done := make(chan struct{})
		go func() {
			defer close(done)
			got, err = m.partContains(m.root, needle, &searchScratch{})
			if err == nil {
				want = slowContains(t, m, m.root, needle)
			}
		}()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Fatalf("hangs: cte %q charset %q body %q needle %q", cte, charset, body, needle)
		}
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("cte %q charset %q body %q needle %q: got %v, want %v", cte, charset, body, needle, got, want)
		}
	})
}

func TestLowerASCII(t *testing.T) {
	var all []byte
	for i := range 256 {
		all = append(all, byte(i))
	}
	for off := range 9 {
		b := append([]byte(nil), all[off:]...)
		lowerASCII(b)
		for i, c := range all[off:] {
			want := c
			if 'A' <= c && c <= 'Z' {
				want += 'a' - 'A'
			}
			if b[i] != want {
				t.Fatalf("off %d: %#x -> %#x, want %#x", off, c, b[i], want)
			}
		}
	}
}

// refHeaderContains is the reference: unfold, decode, lower all of Unicode.
func refHeaderContains(h *mime.Header, name, needle string) bool {
	for _, f := range h.Fields() {
		if f.Key == "" || (name != "" && !strings.EqualFold(f.Key, name)) {
			continue
		}
		if needle == "" {
			return true
		}
		v := f.Value()
		if strings.Contains(v, "=?") {
			v, _ = mime.DecodeWords(v)
		}
		if name == "" {
			v = f.Key + ": " + v
		}
		if strings.Contains(strings.ToLower(v), needle) {
			return true
		}
	}
	return false
}

// TestHeaderSearch: RFC 9051 §6.4.4 — TEXT matches "Key: value" of any
// field, HEADER and the address keys the value, case-insensitively.
func TestHeaderSearch(t *testing.T) {
	m := parseString(t, "Subject: Café =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nX-Long: one\r\n two\r\nX-K: \u212aelvin\r\n\r\nbody\r\n")
	h := &m.root.Header
	for _, tt := range []struct {
		name, needle string
		want         bool
	}{
		{"", "subject", true}, {"", "t: caf", true}, {"", "t:", true}, {"", " café", true},
		{"", ": café", true}, {"", "grüße", true}, {"", "one two", true}, {"", "kelvin", true},
		{"x-long", "one two", true}, {"x-long", "x-long", false}, {"subject", "subject", false},
		{"x-k", "kelvin", true}, {"", "absent", false}, {"x-missing", "", false}, {"subject", "", true},
	} {
		if got := headerContains(h, tt.name, tt.needle); got != tt.want || got != refHeaderContains(h, tt.name, tt.needle) {
			t.Errorf("%q contains %q = %v, want %v", tt.name, tt.needle, got, tt.want)
		}
	}
}

// FuzzHeaderSearch checks the in-place header search against the reference.
func FuzzHeaderSearch(f *testing.F) {
	f.Add("Subject: Caf\u00e9\r\nTo: a@b\r\n", "", "t: caf")
	f.Add("X-A:  v\r\n w \r\n", "x-a", "v w")
	f.Add("K: \u212a\r\n", "", "k")
	f.Fuzz(func(t *testing.T, hdr, name, needle string) {
		if len(hdr) > 2048 {
			return
		}
		needle = strings.ToLower(needle)
		m, err := Parse(strings.NewReader(hdr+"\r\nx"), int64(len(hdr)+3), mime.Limits{})
		if err != nil {
			return
		}
		h := &m.root.Header
		if got, want := headerContains(h, name, needle), refHeaderContains(h, name, needle); got != want {
			t.Fatalf("header %q name %q needle %q: got %v, want %v", hdr, name, needle, got, want)
		}
	})
}

// FuzzQPDecode checks qpDecode against mime's streaming decoder.
func FuzzQPDecode(f *testing.F) {
	for _, s := range []string{"a =\r\nb", "x= \t\r\ny", "=4d=4c=zz= ", "t  \r\n\r\nu\t", "=\r", "a \rb", "==41=\n", "é=C3=A9 \n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 8192 {
			return
		}
		want, err := io.ReadAll(mime.NewTransferDecoder("quoted-printable", strings.NewReader(s)))
		if err != nil {
			t.Fatal(err)
		}
		if got := qpDecode(nil, []byte(s)); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %q, want %q", s, got, want)
		}
	})
}

func TestContainsRare(t *testing.T) {
	for _, tt := range []struct {
		h, needle string
	}{
		{"marzipanlode", "marzipanlode"}, {"xmarzipanlodx", "marzipanlode"}, {"marzipanlod", "marzipanlode"},
		{"zzzz marzipanlodz marzipanlode", "marzipanlode"}, {"az", "z"}, {"", "ab"}, {"abc", "bc"},
		{"ab", "abc"}, {"zmarzipanlode", "marzipanlode"}, {"q\"q\"", "q\""}, {"aaaaab", "aab"},
	} {
		if got, want := containsRare([]byte(tt.h), tt.needle), strings.Contains(tt.h, tt.needle); got != want {
			t.Errorf("containsRare(%q, %q) = %v, want %v", tt.h, tt.needle, got, want)
		}
	}
}
