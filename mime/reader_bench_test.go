package mime

import (
	"bytes"
	"encoding/base64"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// Benchmark messages like those of internal/bench (which compares with
// other libraries): small text, medium mixed ⊃ alternative with QP text and
// latin-1 QP HTML plus a 64 KiB attachment, large with 5 MiB of base64.

func readerBenchText(r *rand.Rand, n int) string {
	words := strings.Fields("the of and to in is that for it as was with be by on not message mailbox server relay Grüße café")
	var b strings.Builder
	line := 0
	for b.Len() < n {
		w := words[r.IntN(len(words))]
		if line+len(w) > 70 {
			b.WriteString("\r\n")
			line = 0
		}
		b.WriteString(w + " ")
		line += len(w) + 1
	}
	return b.String() + "\r\n"
}

func readerBenchQP(s string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		var tok string
		switch {
		case c == '\r' && i+1 < len(s) && s[i+1] == '\n':
			b.WriteString("\r\n")
			i++
			n = 0
			continue
		case c >= 0x80 || c == '=':
			tok = "=" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15]))
		default:
			tok = string(c)
		}
		if n+len(tok) > 75 {
			b.WriteString("=\r\n")
			n = 0
		}
		b.WriteString(tok)
		n += len(tok)
	}
	return b.String()
}

func readerBenchB64(n int, r *rand.Rand) string {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	s := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	return b.String() + s + "\r\n"
}

const readerBenchHeader = "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: benchmark\r\n" +
	"Date: Tue, 2 Jan 2024 10:00:00 +0100\r\nMessage-ID: <b@example.org>\r\nMIME-Version: 1.0\r\n"

func readerBenchMessages() map[string][]byte {
	r := rand.New(rand.NewPCG(7, 7))
	small := readerBenchHeader + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + readerBenchText(r, 9500)
	text := readerBenchText(r, 36<<10)
	latin := strings.Map(func(c rune) rune { return c }, text)
	var lb []byte
	for _, c := range latin {
		lb = append(lb, byte(c))
	}
	medium := readerBenchHeader + "Content-Type: multipart/mixed; boundary=\"o\"\r\n\r\n--o\r\n" +
		"Content-Type: multipart/alternative; boundary=\"i\"\r\n\r\n--i\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + readerBenchQP(text) +
		"\r\n--i\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		readerBenchQP("<html><body><pre>"+string(lb)+"</pre></body></html>") + "\r\n--i--\r\n--o\r\n" +
		"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + readerBenchB64(64<<10, r) + "--o--\r\n"
	large := readerBenchHeader + "Content-Type: multipart/mixed; boundary=\"o\"\r\n\r\n--o\r\n" +
		"Content-Type: text/plain\r\n\r\n" + readerBenchText(r, 4096) + "\r\n--o\r\n" +
		"Content-Type: video/mp4\r\nContent-Transfer-Encoding: base64\r\n\r\n" + readerBenchB64(5<<20, r) + "--o--\r\n"
	return map[string][]byte{"small": []byte(small), "medium": []byte(medium), "large": []byte(large)}
}

// BenchmarkReader walks each message and decodes every body to io.Discard.
func BenchmarkReader(b *testing.B) {
	msgs := readerBenchMessages()
	for _, name := range []string{"small", "medium", "large"} {
		data := msgs[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				r := NewReader(bytes.NewReader(data), Limits{})
				for {
					if _, err := r.NextPart(); err != nil {
						break
					}
					if _, err := io.Copy(io.Discard, r.Text()); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkIndex indexes each message; allocations must not grow with
// the body size (compare large with medium).
func BenchmarkIndex(b *testing.B) {
	msgs := readerBenchMessages()
	for _, name := range []string{"small", "medium", "large"} {
		data := msgs[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			r := bytes.NewReader(data)
			for b.Loop() {
				if _, err := Index(r, int64(len(data)), Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestIndexAllocationsBounded checks the promise of Index: no allocation
// proportional to the body size.
func TestIndexAllocationsBounded(t *testing.T) {
	data := readerBenchMessages()["large"]
	r := bytes.NewReader(data)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	const runs = 3
	for range runs {
		if _, err := Index(r, int64(len(data)), Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&m1)
	if per := (m1.TotalAlloc - m0.TotalAlloc) / runs; per > 256<<10 {
		t.Errorf("Index allocates %d bytes for a %d-byte message", per, len(data))
	}
}
