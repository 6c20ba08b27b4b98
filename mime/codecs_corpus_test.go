package mime

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestHeaderCorpus reads the broken real-world header forms in
// testdata/codecs/headers: each must write back byte for byte, and the
// values in it must decode as listed.
func TestHeaderCorpus(t *testing.T) {
	type check struct {
		fields, soft int
		values       map[string]string // field -> decoded value (DecodeWords)
		params       map[string]string // "field:param" -> value
		addrs        map[string]string // field -> first address "name <mailbox@host>"
	}
	want := map[string]check{
		"antispam.txt": {fields: 6, values: map[string]string{"Subject": "Re: Quartalsbericht"},
			addrs: map[string]string{"From": "Müller, Jörg <j.mueller@example.com>"}},
		"lf-mbox.txt": {fields: 4, values: map[string]string{"Subject": "LF only", "Return-Path": "<>"}},
		"crcrlf.txt": {fields: 3, values: map[string]string{"Subject": "converted twice"},
			addrs: map[string]string{"To": " <c@example.com>"}},
		"obs-fold.txt": {fields: 2, values: map[string]string{"Subject": "obsolete    folding"},
			addrs: map[string]string{"To": "Mary Smith <mary@example.net>"}},
		"no-colon.txt": {fields: 5, soft: 3, values: map[string]string{"Subject": "ok", "From": "e@example.com"}},
		"8bit.txt":     {fields: 3, values: map[string]string{"Subject": "Gr\xfc\xdfe latin-1 raw", "X-UTF8": "日本"}},
		"euc-kr.txt": {fields: 2, params: map[string]string{
			"Content-Type:name": "한글.hwp", "Content-Disposition:filename": "한글.hwp"}},
		"bad-ctype.txt": {fields: 3, params: map[string]string{
			"Content-Type:boundary":        "----=_Part_123_456.789",
			"Content-Disposition:filename": "report 2024.pdf"}},
	}
	files, err := filepath.Glob("testdata/codecs/headers/*.txt")
	if err != nil || len(files) != len(want) {
		t.Fatalf("corpus: %v %v", files, err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		h, err := ReadHeader(bufio.NewReader(bytes.NewReader(raw)), Limits{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var out bytes.Buffer
		h.WriteTo(&out)
		if !bytes.Equal(out.Bytes(), raw) {
			t.Errorf("%s: does not write back byte for byte", name)
		}
		w := want[name]
		if h.Len() != w.fields || len(h.Errors()) != w.soft {
			t.Errorf("%s: %d fields, %d soft errors (%v); want %d, %d", name, h.Len(), len(h.Errors()), h.Errors(), w.fields, w.soft)
		}
		for k, v := range w.values {
			if got, _ := DecodeWords(h.Get(k)); got != v {
				t.Errorf("%s: %s = %q, want %q", name, k, got, v)
			}
		}
		for k, v := range w.params {
			field, param, _ := bytes.Cut([]byte(k), []byte(":"))
			_, params, _ := ParseMediaType(h.Get(string(field)))
			if params[string(param)] != v {
				t.Errorf("%s: %s = %q, want %q", name, k, params[string(param)], v)
			}
		}
		for k, v := range w.addrs {
			list, err := ParseAddressList(h.Get(k))
			if err != nil || len(list) == 0 {
				t.Errorf("%s: %s: %v", name, k, err)
				continue
			}
			if got := list[0].Name + " <" + list[0].Mailbox + "@" + list[0].Host + ">"; got != v {
				t.Errorf("%s: %s = %q, want %q", name, k, got, v)
			}
		}
	}
}
