package imapmsg

import (
	"bytes"
	"os"
	"testing"

	"github.com/posthorn/posthorn/imap/internal/imapwire"
	"github.com/posthorn/posthorn/mime"
)

func benchMessage(b *testing.B, name string) ([]byte, *Message) {
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		b.Fatal(err)
	}
	m, err := Parse(bytes.NewReader(raw), int64(len(raw)), mime.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	return raw, m
}

// BenchmarkEnvelope measures computing and encoding ENVELOPE from an
// indexed message (the server's cache miss path).
func BenchmarkEnvelope(b *testing.B) {
	for _, name := range []string{"simple.eml", "multipart.eml"} {
		b.Run(name, func(b *testing.B) {
			raw, m := benchMessage(b, name)
			buf := make([]byte, 0, 4096)
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				buf = imapwire.AppendEnvelope(buf[:0], m.Envelope())
			}
		})
	}
}

// BenchmarkBodyStructure measures computing and encoding BODYSTRUCTURE
// from an indexed message.
func BenchmarkBodyStructure(b *testing.B) {
	for _, name := range []string{"simple.eml", "multipart.eml"} {
		b.Run(name, func(b *testing.B) {
			raw, m := benchMessage(b, name)
			buf := make([]byte, 0, 4096)
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				buf = imapwire.AppendBodyStructure(buf[:0], m.BodyStructure(), true)
			}
		})
	}
}

// BenchmarkIndexAndEncode measures the whole cache fill: mime.Index plus
// Encode (ENVELOPE, BODY and BODYSTRUCTURE).
func BenchmarkIndexAndEncode(b *testing.B) {
	for _, name := range []string{"simple.eml", "multipart.eml"} {
		b.Run(name, func(b *testing.B) {
			raw, _ := benchMessage(b, name)
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				root, err := mime.Index(bytes.NewReader(raw), int64(len(raw)), mime.Limits{})
				if err != nil {
					b.Fatal(err)
				}
				_ = Encode(bytes.NewReader(raw), root)
			}
		})
	}
}

// BenchmarkCachedFetch measures writing a cached ENVELOPE and BODYSTRUCTURE
// into a FETCH response: one copy each, no allocation.
func BenchmarkCachedFetch(b *testing.B) {
	_, m := benchMessage(b, "multipart.eml")
	enc := m.Encode()
	var out bytes.Buffer
	out.Grow(1 << 20)
	b.ReportAllocs()
	for b.Loop() {
		out.Reset()
		out.WriteString("* 1 FETCH (ENVELOPE ")
		out.Write(enc.Envelope)
		out.WriteString(" BODYSTRUCTURE ")
		out.Write(enc.BodyStructure)
		out.WriteString(")\r\n")
	}
}
