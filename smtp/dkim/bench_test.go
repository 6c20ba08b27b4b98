package dkim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"strings"
	"testing"
)

func benchBody(size int) []byte {
	var b bytes.Buffer
	words := strings.Fields("the quick brown fox jumps over lazy dog lorem ipsum dolor sit amet consectetur adipiscing elit")
	for i, line := 0, 0; b.Len() < size; i++ {
		w := words[i%len(words)]
		if line+len(w) > 72 {
			b.WriteString("\r\n")
			line = 0
		}
		if line > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
		line += len(w) + 1
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// The body canonicalizers alone (into SHA-256, as in use), on 1 MB of text.
func BenchmarkBodyCanon(b *testing.B) {
	body := benchBody(1 << 20)
	for _, c := range []Canonicalization{Simple, Relaxed} {
		b.Run(string(c), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			h := sha256.New()
			for b.Loop() {
				h.Reset()
				bc := newBodyCanon(c, h, -1)
				bc.Write(body)
				bc.finish()
			}
		})
	}
	b.Run("sha256-only", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			sha256.Sum256(body)
		}
	})
}

// Verify of a 4 KB and a 1 MB message with an Ed25519 signature, the key
// from a map.
func BenchmarkVerify(b *testing.B) {
	ek, _ := rfc8463Keys(b)
	rec, _ := KeyRecordFor(ek.Public())
	z := zone{"sel._domainkey.example.com": {rec}}
	for _, size := range []int{4 << 10, 1 << 20} {
		msg := "From: a@example.com\r\nTo: b@example.net\r\nSubject: hello\r\n\r\n" + string(benchBody(size))
		var signed bytes.Buffer
		if err := Sign(&signed, strings.NewReader(msg), &SignOptions{Domain: "example.com", Selector: "sel", Key: ek}); err != nil {
			b.Fatal(err)
		}
		b.Run(byteSize(size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(signed.Len()))
			opts := &VerifyOptions{Resolver: z}
			for b.Loop() {
				res, err := Verify(context.Background(), bytes.NewReader(signed.Bytes()), opts)
				if err != nil || res[0].Status != Pass {
					b.Fatal(err, res)
				}
			}
		})
	}
}

func byteSize(n int) string {
	if n >= 1<<20 {
		return "1MB"
	}
	return "4KB"
}
