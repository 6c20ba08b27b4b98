package mime

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func decodeAll(t *testing.T, cte, in string, oneByte bool) (string, []DefectKind) {
	t.Helper()
	var src io.Reader = strings.NewReader(in)
	if oneByte {
		src = iotest.OneByteReader(src)
	}
	var kinds []DefectKind
	sink := funcSink(func(k DefectKind) { kinds = append(kinds, k) })
	var r io.Reader
	switch cte {
	case "base64":
		d := &base64Decoder{}
		d.reset(&readerSource{r: src}, sink)
		r = d
	case "qp":
		d := &qpDecoder{}
		d.reset(&readerSource{r: src}, sink)
		r = d
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(out), kinds
}

func TestBase64Decoder(t *testing.T) {
	// RFC 2045 §6.8, and the tolerated breakage.
	for _, c := range []struct {
		in, want string
		defects  []DefectKind
	}{
		{"aGVsbG8gd29ybGQ=\r\n", "hello world", nil},
		{"aGVs\r\nbG8g\r\nd29y\r\nbGQ=\r\n", "hello world", nil},
		{"aGVsbG8\r\ngd29ybGQ=", "hello world", nil},                          // groups across lines
		{"aGVsbG8gd29ybGQ", "hello world", []DefectKind{DefectBase64Padding}}, // no padding
		{"aGVs bG8g\td29y*bGQ=", "hello world", []DefectKind{DefectBase64Characters}},
		{"YQ==YmM=ZGVm", "abcdef", nil},                        // decoding goes on after padding
		{"YQ===\r\n", "a", nil},                                // excess padding after a group end
		{"=YQ==", "a", []DefectKind{DefectBase64Padding}},      // stray leading "="
		{"YWJj\r\nZ", "abc", []DefectKind{DefectBase64Length}}, // a lone final character
		{"", "", nil},
		{"\r\n\r\n", "", nil},
		{"!!!", "", []DefectKind{DefectBase64Characters}},
	} {
		for _, one := range []bool{false, true} {
			got, defects := decodeAll(t, "base64", c.in, one)
			if got != c.want || !equalKinds(defects, c.defects) {
				t.Errorf("%q (one byte %v): got %q %v, want %q %v", c.in, one, got, defects, c.want, c.defects)
			}
		}
	}
}

func TestQPDecoder(t *testing.T) {
	// RFC 2045 §6.7 rules 1-5.
	for _, c := range []struct {
		in, want string
		defects  []DefectKind
	}{
		{"caf=C3=A9\r\n", "café\r\n", nil},
		{"caf=c3=a9", "café", nil},                               // lower-case hex tolerated
		{"soft=\r\nbreak\r\n", "softbreak\r\n", nil},             // rule 5
		{"soft=  \r\nbreak", "softbreak", nil},                   // white space after "="
		{"trailing   \r\nspace\t\n", "trailing\r\nspace\n", nil}, // rule 3
		{"a=ZZb", "a=ZZb", []DefectKind{DefectQPEscape}},
		{"a=4", "a=4", []DefectKind{DefectQPEscape}},
		{"a=", "a=", []DefectKind{DefectQPEscape}},
		{"lf only\nline=\nsoft", "lf only\nlinesoft", nil},
		{"x=3D=3d\r\n", "x==\r\n", nil},
		{strings.Repeat("a", 20000) + "=41\r\n", strings.Repeat("a", 20000) + "A\r\n", nil}, // longer than the carry limit
	} {
		for _, one := range []bool{false, true} {
			got, defects := decodeAll(t, "qp", c.in, one)
			if got != c.want || !equalKinds(defects, c.defects) {
				t.Errorf("%.40q (one byte %v): got %.40q %v, want %.40q %v", c.in, one, got, defects, c.want, c.defects)
			}
		}
	}
}

func equalKinds(a, b []DefectKind) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNewTransferDecoder(t *testing.T) {
	for _, c := range []struct{ cte, in, want string }{
		{"BASE64", "aGk=", "hi"},
		{" Quoted-Printable ", "h=69", "hi"},
		{"8bit", "h=69", "h=69"},
		{"x-uuencode", "h=69", "h=69"},
	} {
		b, err := io.ReadAll(NewTransferDecoder(c.cte, strings.NewReader(c.in)))
		if err != nil || string(b) != c.want {
			t.Errorf("%s %q: %q %v", c.cte, c.in, b, err)
		}
	}
}

func TestCharsetReader(t *testing.T) {
	for _, c := range []struct {
		cs, in, want string
		ok           bool
	}{
		{"iso-8859-1", "caf\xe9 \xfc", "café ü", true},
		{"UTF-8", "café", "café", true},
		{"euc-kr", "\xbe\xc8\xb3\xe7", "안녕", true},
		{"windows-1252", "\x80", "€", true},
		{"no-such-charset-42", "abc", "abc", false},
	} {
		r, ok := NewCharsetReader(c.cs, strings.NewReader(c.in))
		b, err := io.ReadAll(r)
		if err != nil || string(b) != c.want || ok != c.ok {
			t.Errorf("%s: %q %v %v", c.cs, b, ok, err)
		}
	}
	// The latin-1 fast path through WriteTo and through small reads.
	in := bytes.Repeat([]byte("abcdefgh\xe9\xe8 ascii run of some length \xff"), 2000)
	var want bytes.Buffer
	for _, c := range in {
		want.WriteRune(rune(c))
	}
	var got bytes.Buffer
	r, _ := NewCharsetReader("latin1", bytes.NewReader(in))
	got.ReadFrom(r)
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Error("latin-1 WriteTo conversion differs")
	}
	r, _ = NewCharsetReader("latin1", bytes.NewReader(in))
	b, _ := io.ReadAll(iotest.OneByteReader(r))
	if !bytes.Equal(b, want.Bytes()) {
		t.Error("latin-1 one-byte conversion differs")
	}
}
