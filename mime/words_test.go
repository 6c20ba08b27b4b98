package mime

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecodeWords(t *testing.T) {
	tests := []struct{ in, want string }{
		// RFC 2047 §8
		{"=?US-ASCII?Q?Keith_Moore?=", "Keith Moore"},
		{"=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=", "Keld Jørn Simonsen"},
		{"=?ISO-8859-1?Q?Andr=E9?= Pirard", "André Pirard"},
		{"=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
			"If you can read this you understand the example."},
		{"(=?ISO-8859-1?Q?a?=)", "(a)"},
		{"(=?ISO-8859-1?Q?a?= b)", "(a b)"},
		{"(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)"},
		{"(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)"},
		{"(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)"},
		{"(=?ISO-8859-1?Q?a_b?=)", "(a b)"},
		{"(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)"},
		// RFC 2231 §5 language
		{"=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore"},
		// violations
		{"=?utf-8?q?a?==?utf-8?q?b?=", "ab"},
		{"x=?utf-8?q?a?=y", "xay"},
		{`"=?utf-8?B?w6k=?=" <a@b>`, `"é" <a@b>`},
		{"=?utf-8?B?w6k?=", "é"},
		{"=?UTF-8?B?4oK=?= =?UTF-8?B?rA==?=", "€"}, // split multibyte
		{"=?gb2312?B?1tDOxA==?=", "中文"},
		{"=?shift_jis?B?k/qWe4zq?=", "日本語"},
		{"=?koi8-r?B?8NLJ18XU?=", "Привет"},
		{"=?windows-1251?Q?=CF=F0=E8?=", "При"},
		{"=?big5?B?pKSk5Q==?=", "中文"},
		{"=?iso-2022-jp?B?GyRCRnxLXDhsGyhC?=", "日本語"},
		{"=?utf-7?Q?Hi_+AOk-?=", "Hi é"},
		{"=?utf-8?q?bad=ZZ?=", "bad=ZZ"},
		{"=? not a word", "=? not a word"},
		{"=?utf-8?x?abc?=", "=?utf-8?x?abc?="},
		{"a =?utf-8?q?b?= c", "a b c"},
		{"=?utf-8?q?caf=E9?=", "café"}, // latin-1 labelled utf-8
		{"=?utf-8?q?a=0D=0ABcc:_x?=", "a  Bcc: x"},
		{"=?iso-8859-1?q?a=0Ab?=", "a b"},
	}
	for _, tt := range tests {
		got, err := DecodeWords(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("DecodeWords(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	got, err := DecodeWords("=?x-klingon?q?a?= =?x-klingon?q?b?= =?utf-8?q?c?=")
	if got != "=?x-klingon?q?a?= =?x-klingon?q?b?= c" || err == nil {
		t.Errorf("unknown charsets: %q %v", got, err)
	}
	got, err = DecodeWords("a =?x-klingon?q?b?= c")
	var uc *UnknownCharsetError
	if !errors.As(err, &uc) || uc.Charset != "x-klingon" || got != "a =?x-klingon?q?b?= c" {
		t.Errorf("unknown charset: %q %v", got, err)
	}
}

func TestCharsetDecoder(t *testing.T) {
	for _, n := range []string{"utf-8", "US-ASCII", "gb2312", "GBK", "gb18030", "big5", "Shift_JIS", "euc-jp", "EUC-KR",
		"ks_c_5601-1987", "koi8-r", "koi8-u", "windows-1250", "windows-1252", "windows-1258", "iso-8859-1", "iso-8859-2",
		"iso-8859-5", "iso-8859-7", "iso-8859-15", "ISO-8859-16", "iso-2022-jp", "utf-16", "utf-16le", "cp1252", "latin1", "utf-7",
		"\"utf-8\"", "ibm866", "macintosh", "tis-620", "windows-874", "cp850", "IBM437"} {
		if _, err := CharsetDecoder(n); err != nil {
			t.Errorf("CharsetDecoder(%q): %v", n, err)
		}
	}
	if _, err := CharsetDecoder("x-nope"); err == nil {
		t.Error("unknown charset accepted")
	}
}

func TestEncodeWords(t *testing.T) {
	for _, s := range []string{
		"plain ascii",
		"Grüße aus Köln",
		"日本語のテキストがとても長い場合には複数の単語に分割されなければなりません。日本語のテキストがとても長い場合",
		"ascii then ünïcödé then ascii",
		"=?utf-8?q?looks_encoded?=",
		"a_b=c?d",
		strings.Repeat("é", 100),
		"emoji 😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀 end",
	} {
		enc := EncodeWords(s)
		for _, w := range strings.Fields(enc) {
			if len(w) > 75 {
				t.Errorf("word %q longer than 75", w)
			}
			if !utf8.ValidString(w) || strings.ContainsFunc(w, func(r rune) bool { return r >= 0x80 }) {
				t.Errorf("non-ASCII in %q", enc)
			}
		}
		dec, err := DecodeWords(enc)
		if err != nil || dec != s {
			t.Errorf("EncodeWords(%q) = %q, decodes to %q (%v)", s, enc, dec, err)
		}
	}
	if got := EncodeWords("plain ascii"); got != "plain ascii" {
		t.Errorf("ascii changed: %q", got)
	}
}
