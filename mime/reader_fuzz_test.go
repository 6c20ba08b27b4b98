package mime

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fuzzSeeds adds the corpus messages and a few small edge cases.
func fuzzSeeds(f *testing.F, dirs ...string) {
	for _, d := range dirs {
		files, _ := filepath.Glob(filepath.Join(d, "*.eml"))
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil && len(b) < 8<<10 {
				f.Add(b)
			}
		}
	}
	for _, s := range []string{
		"",
		"\r\n",
		"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n\r\nx\r\n--a--",
		"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n--a--\r\n--a--",
		"Content-Type: multipart/mixed; boundary=a\n\n--a \n\n\r\r\n--a--\n--a\n",
		"Content-Transfer-Encoding: base64\r\n\r\n=QQ==\r\n--",
		"Content-Type: multipart/mixed; boundary=d\n--d\n0\r\n",
		"Content-Type: text/plain; charset=iso-2022-jp\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=1B$B=\r\n",
	} {
		f.Add([]byte(s))
	}
}

// FuzzReader walks arbitrary input and decodes every body: it must not
// panic, must end, and reading one byte at a time must give the same result.
func FuzzReader(f *testing.F) {
	fuzzSeeds(f, "testdata/corpus")
	lim := Limits{MaxParts: 500, MaxHeaderBytes: 64 << 10}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), lim)
		var total int64
		for {
			_, err := r.NextPart()
			if err != nil {
				break
			}
			n, err := io.Copy(io.Discard, r.Text())
			if err != nil {
				t.Fatalf("body: %v", err)
			}
			total += n
		}
		a := strings.Join(walkDump(t, data, lim, 0, false), "\n")
		b := strings.Join(walkDump(t, data, lim, 0, true), "\n")
		if a != b {
			t.Fatalf("one-byte reads differ:\n%s\n---\n%s", a, b)
		}
		// Two reads split anywhere: a network read boundary must not
		// change what is parsed either.
		if len(data) > 1 {
			whole := walkDumpSplit(t, data, len(data))
			for _, split := range []int{len(data) / 2, int(data[0]) % len(data), len(data) - 1} {
				if got := walkDumpSplit(t, data, split); !slices.Equal(got, whole) {
					t.Fatalf("split at %d differs:\n%s\n---\n%s", split, strings.Join(got, "\n"), strings.Join(whole, "\n"))
				}
			}
		}
	})
}

// FuzzIndex checks Index on arbitrary input: offsets within bounds and
// nested in their parents, and the same tree and bodies as Reader.
func FuzzIndex(f *testing.F) {
	fuzzSeeds(f, "testdata/corpus")
	f.Fuzz(func(t *testing.T, data []byte) {
		checkIndex(t, data, Limits{MaxParts: 500, MaxHeaderBytes: 64 << 10})
	})
}

// FuzzDeliveryStatus parses arbitrary delivery-status bodies and reports.
func FuzzDeliveryStatus(f *testing.F) {
	fuzzSeeds(f, "testdata/dsn")
	f.Add([]byte("Reporting-MTA: dns; a\r\n\r\nFinal-Recipient: utf-8; \\x{FC}\\x{110000}\\x{}\r\nAction: failed\r\nStatus: 5.0.0\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxParts: 200}
		ds, _, err := ParseDeliveryStatus(bytes.NewReader(data), lim)
		if err == nil && ds == nil {
			t.Fatal("nil status without error")
		}
		rep, err := ReadReport(bytes.NewReader(data), lim)
		if err == nil && rep.Status == nil {
			t.Fatal("report without status")
		}
	})
}
