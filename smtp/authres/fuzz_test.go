package authres

import (
	"bytes"
	"testing"
)

// FuzzParse: Parse never panics, and what it accepts formats and parses
// back to the same value.
func FuzzParse(f *testing.F) {
	f.Add("example.org 1; none")
	f.Add("example.com; dkim=pass (good) header.d=example.com header.b=abc; spf=fail reason=\"x y\" smtp.mailfrom=a@b")
	f.Add("example.com; dkim/1=fail reason=\"bad \\\"sig\\\"\" (x (nested)) header.i=@example.com")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := Parse(s)
		if err != nil {
			return
		}
		out, err := h.Format()
		if err != nil {
			return // e.g. a parsed value with a control character
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Format(Parse(%q))) = %q: %v", s, out, err)
		}
		if out2, _ := back.Format(); out2 != out {
			t.Fatalf("round trip changed %q to %q", out, out2)
		}
	})
}

// FuzzFilter: the filter never panics and leaves the body untouched.
func FuzzFilter(f *testing.F) {
	f.Add("Authentication-Results: mx; none\r\nSubject: x\r\n\r\nbody", 3)
	f.Add("Authentication-Results:\r\n (c) mx; dkim=pass\r\nA: b\n\nbody", 1)
	f.Fuzz(func(t *testing.T, msg string, step int) {
		if step <= 0 {
			step = 1
		}
		var out bytes.Buffer
		fl := NewFilter(&out, "mx")
		for i := 0; i < len(msg); i += step {
			fl.Write([]byte(msg[i:min(i+step, len(msg))]))
		}
		fl.Close()
		if i := bytes.Index([]byte(msg), []byte("\r\n\r\n")); i >= 0 && bytes.IndexByte([]byte(msg[:i]), '\n') < 0 {
			// A one-line header: the body after the blank line survives.
			if !bytes.HasSuffix(out.Bytes(), []byte(msg[i+4:])) {
				t.Fatalf("body changed: %q -> %q", msg, out.String())
			}
		}
	})
}
