package imapmem

import "testing"

func TestToCRLF(t *testing.T) {
	for in, want := range map[string]string{
		"":               "",
		"a\r\nb\r\n":     "a\r\nb\r\n",
		"a\nb\n":         "a\r\nb\r\n",
		"a\rb":           "a\r\nb",
		"\n\r\n\r":       "\r\n\r\n\r\n",
		"x\r\r\ny":       "x\r\n\r\ny",
		"no line ending": "no line ending",
	} {
		if got := string(toCRLF([]byte(in))); got != want {
			t.Errorf("toCRLF(%q) = %q, want %q", in, got, want)
		}
	}
}
