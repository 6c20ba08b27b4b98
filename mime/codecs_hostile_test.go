package mime

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// TestHostileInputs feeds the codecs adversarial values of 128 KiB (half the
// default header limit); each must finish quickly (quadratic behaviour would
// take minutes) and without panicking.
func TestHostileInputs(t *testing.T) {
	const n = 128 << 10
	inputs := map[string]string{
		"word starts":      strings.Repeat("=?", n/2),
		"open words":       strings.Repeat("=?a?q?x", n/7),
		"unended words":    strings.Repeat("=?utf-8?q?a?=", n/13) + "=?utf-8?q?" + strings.Repeat("x", n),
		"comments":         strings.Repeat("(", n),
		"closed comments":  strings.Repeat("()", n/2),
		"quotes":           strings.Repeat(`"\`, n/2),
		"commas":           strings.Repeat(",", n),
		"words":            strings.Repeat("a ", n/2),
		"angles":           strings.Repeat("<", n),
		"ats":              strings.Repeat("@", n),
		"colons":           strings.Repeat("a:", n/2),
		"params":           "a/b" + strings.Repeat("; x=y", n/5),
		"sections":         "a/b" + strings.Repeat("; x*5=y", n/7),
		"spaces in values": "a/b; x=" + strings.Repeat("a ", n/2),
		"percent":          "a/b; x*=utf-8''" + strings.Repeat("%", n),
		"literal":          strings.Repeat("[", n),
		"time colons":      strings.Repeat("1: ", n/3),
	}
	for name, in := range inputs {
		start := time.Now()
		DecodeWords(in)
		ParseAddressList(in)
		ParseMediaType(in)
		ParseDate(in)
		EncodeWords(in)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: took %v", name, d)
		}
	}
}

func TestHostileHeaders(t *testing.T) {
	tests := map[string]struct {
		in   string
		kind LimitKind
	}{
		"long line":   {"X: " + strings.Repeat("x", 1<<20) + "\r\n\r\nbody", LimitHeaderBytes},
		"many fields": {strings.Repeat("X: y\r\n", 10000) + "\r\nbody", LimitHeaderFields},
		"long fold":   {"X: y\r\n" + strings.Repeat(" z\r\n", 200000) + "\r\nbody", LimitHeaderBytes},
	}
	for name, tt := range tests {
		br := bufio.NewReader(strings.NewReader(tt.in))
		_, err := ReadHeader(br, Limits{})
		var le *LimitError
		if !errors.As(err, &le) || le.Kind != tt.kind {
			t.Errorf("%s: err = %v", name, err)
		}
		rest, _ := io.ReadAll(br)
		if string(rest) != "body" {
			t.Errorf("%s: reader not at the body: %.20q", name, rest)
		}
	}
	// NUL, 8-bit and control bytes are kept as they are.
	in := "X: a\x00b\xff\x01\r\n\r\n"
	h, err := ReadHeader(bufio.NewReader(strings.NewReader(in)), Limits{})
	if err != nil || h.Get("x") != "a\x00b\xff\x01" {
		t.Errorf("binary header: %q %v", h.Get("x"), err)
	}
}
