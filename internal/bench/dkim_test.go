package bench

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	msgauth "github.com/emersion/go-msgauth/dkim"

	"github.com/posthorn/posthorn/smtp/dkim"
)

// Side-by-side DKIM: posthorn's smtp/dkim against go-msgauth's dkim, the
// same message, key, canonicalization (relaxed/relaxed) and signed fields.
// "sign" hashes the message through each library's streaming Signer and
// produces the DKIM-Signature field; "verify" verifies a message carrying
// one signature, the key coming from an in-memory lookup.
//
// Six interleaved rounds (a fresh process each, so every row runs once per
// round; -count would run each row six times in a row):
//
//	cd internal/bench && go test -c -o /tmp/bench.test . &&
//	  for i in 1 2 3 4 5 6; do /tmp/bench.test -test.run '^$' -test.bench DKIM; done | tee dkim.txt
//	go run golang.org/x/perf/cmd/benchstat@latest -col /lib dkim.txt
//
// Each row also reports cpu-ns/op, the process CPU time per operation.

// dkimMessage builds a plain-text message of about size bytes: a typical
// header and 72-column lines of words.
func dkimMessage(size int) []byte {
	var b bytes.Buffer
	b.WriteString("Received: from mail.example.com (mail.example.com [192.0.2.1])\r\n\tby mx.example.net with ESMTPS id 4Xyz; Mon, 7 Dec 2026 20:00:00 +0000\r\n")
	b.WriteString("From: Example Sender <sender@example.com>\r\nTo: Someone <someone@example.net>\r\n")
	b.WriteString("Subject: Your monthly statement is ready\r\nDate: Mon, 7 Dec 2026 20:00:00 +0000\r\n")
	b.WriteString("Message-ID: <statement-123@example.com>\r\nMIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	words := strings.Fields("the quick brown fox jumps over lazy dog lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua")
	line, i := 0, 0
	for b.Len() < size {
		w := words[i%len(words)]
		i++
		if line+len(w)+1 > 72 {
			b.WriteString("\r\n")
			line = 0
		}
		if line > 0 {
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += len(w)
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

type dkimKey struct {
	name   string
	signer crypto.Signer
	record string
}

func dkimKeys(b testing.TB) []dkimKey {
	if os.Getenv("POSTHORN_BENCH_DKIM_ED25519_ONLY") != "" {
		// No RSA key generation, whose cost varies run to run: for
		// instruction counts by difference of runs (dkiminstr.sh).
		ek := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{42}, ed25519.SeedSize))
		rec, err := dkim.KeyRecordFor(ek.Public())
		if err != nil {
			b.Fatal(err)
		}
		return []dkimKey{{"ed25519", ek, rec}}
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	// A fixed ed25519 key: its verify takes variable time (the scalars'
	// digits decide the additions), so instruction counts compare only
	// with the same key and signature in every run (dkiminstr.sh).
	ek := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{42}, ed25519.SeedSize))
	var keys []dkimKey
	for _, k := range []struct {
		name string
		s    crypto.Signer
	}{{"rsa2048", rk}, {"ed25519", ek}} {
		rec, err := dkim.KeyRecordFor(k.s.Public())
		if err != nil {
			b.Fatal(err)
		}
		keys = append(keys, dkimKey{k.name, k.s, rec})
	}
	return keys
}

// fixedTime is the t= of the signatures: with the fixed key, every run
// verifies the same signature.
func fixedTime() time.Time { return time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC) }

var dkimSignedFields = []string{"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"}

type txtMap map[string]string

func (z txtMap) LookupTXT(_ context.Context, name string) ([]string, error) {
	if v, ok := z[name]; ok {
		return []string{v}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func posthornSign(msg []byte, k dkimKey) (string, error) {
	s, err := dkim.NewSigner(&dkim.SignOptions{Domain: "example.com", Selector: "sel", Key: k.signer,
		Headers: dkimSignedFields, Now: fixedTime})
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(s, bytes.NewReader(msg)); err != nil {
		return "", err
	}
	if err := s.Close(); err != nil {
		return "", err
	}
	return s.Field(), nil
}

func msgauthSign(msg []byte, k dkimKey) (string, error) {
	s, err := msgauth.NewSigner(&msgauth.SignOptions{Domain: "example.com", Selector: "sel", Signer: k.signer,
		HeaderCanonicalization: msgauth.CanonicalizationRelaxed, BodyCanonicalization: msgauth.CanonicalizationRelaxed,
		HeaderKeys: dkimSignedFields})
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(s, bytes.NewReader(msg)); err != nil {
		return "", err
	}
	if err := s.Close(); err != nil {
		return "", err
	}
	return s.Signature(), nil
}

func BenchmarkDKIM(b *testing.B) {
	keys := dkimKeys(b)
	// Warm up: whichever row runs first in a process is measured slow on
	// a loaded machine (seen with either library first), so a throw-away
	// row of RSA signing with both libraries goes first.
	warm := dkimMessage(4 << 10)
	b.Run("op=warmup", func(b *testing.B) {
		for b.Loop() {
			posthornSign(warm, keys[0])
			msgauthSign(warm, keys[0])
		}
	})
	for _, size := range []struct {
		name string
		n    int
	}{{"4KB", 4 << 10}, {"1MB", 1 << 20}} {
		msg := dkimMessage(size.n)
		for _, k := range keys {
			zone := txtMap{"sel._domainkey.example.com": k.record}
			// One signed copy, verified by both.
			field, err := posthornSign(msg, k)
			if err != nil {
				b.Fatal(err)
			}
			signed := append([]byte(field), msg...)
			b.Run(fmt.Sprintf("op=sign/key=%s/size=%s/lib=posthorn", k.name, size.name), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(msg)))
				runtime.GC() // b.Loop starts the timer: no garbage of the previous row is counted
				cpu0 := cpuTime()
				for b.Loop() {
					if _, err := posthornSign(msg, k); err != nil {
						b.Fatal(err)
					}
				}
				reportCPU(b, cpu0)
			})
			b.Run(fmt.Sprintf("op=sign/key=%s/size=%s/lib=go-msgauth", k.name, size.name), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(msg)))
				runtime.GC()
				cpu0 := cpuTime()
				for b.Loop() {
					if _, err := msgauthSign(msg, k); err != nil {
						b.Fatal(err)
					}
				}
				reportCPU(b, cpu0)
			})
			b.Run(fmt.Sprintf("op=verify/key=%s/size=%s/lib=posthorn", k.name, size.name), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(signed)))
				opts := &dkim.VerifyOptions{Resolver: zone}
				runtime.GC()
				cpu0 := cpuTime()
				for b.Loop() {
					res, err := dkim.Verify(context.Background(), bytes.NewReader(signed), opts)
					if err != nil || len(res) != 1 || res[0].Status != dkim.Pass {
						b.Fatalf("%v %+v", err, res)
					}
				}
				reportCPU(b, cpu0)
			})
			b.Run(fmt.Sprintf("op=verify/key=%s/size=%s/lib=go-msgauth", k.name, size.name), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(signed)))
				opts := &msgauth.VerifyOptions{LookupTXT: func(name string) ([]string, error) {
					return zone.LookupTXT(context.Background(), name)
				}}
				runtime.GC()
				cpu0 := cpuTime()
				for b.Loop() {
					res, err := msgauth.VerifyWithOptions(bytes.NewReader(signed), opts)
					if err != nil || len(res) != 1 || res[0].Err != nil {
						b.Fatalf("%v %+v", err, res)
					}
				}
				reportCPU(b, cpu0)
			})
		}
	}
}

// repeatReader yields a header and then body lines until n bytes.
type repeatReader struct {
	head []byte
	line []byte
	n    int64
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	total := 0
	for len(p) > 0 && r.n > 0 {
		var src []byte
		if len(r.head) > 0 {
			src = r.head
		} else {
			src = r.line[r.off:]
		}
		k := copy(p, src)
		if int64(k) > r.n {
			k = int(r.n)
		}
		if len(r.head) > 0 {
			r.head = r.head[k:]
		} else {
			r.off = (r.off + k) % len(r.line)
		}
		p, total, r.n = p[k:], total+k, r.n-int64(k)
	}
	return total, nil
}

// TestDKIMVerifyConstantMemory streams a 50 MB signed message through
// each verifier and reports the bytes allocated and the peak heap growth.
// posthorn must stay under 1 MiB of allocation whatever the size.
func TestDKIMVerifyConstantMemory(t *testing.T) {
	keys := dkimKeys(t)
	k := keys[1] // ed25519: the crypto is negligible, the streaming shows
	zone := txtMap{"sel._domainkey.example.com": k.record}
	const size = 50 << 20
	body := dkimMessage(4 << 10)
	split := bytes.Index(body, []byte("\r\n\r\n")) + 4
	head, line := body[:split], body[split:]
	// Sign the 50 MB message (streaming too), then verify it.
	s, err := dkim.NewSigner(&dkim.SignOptions{Domain: "example.com", Selector: "sel", Key: k.signer, Headers: dkimSignedFields})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(s, &repeatReader{head: head, line: line, n: size})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	signedHead := append([]byte(s.Field()), head...)
	n := int64(size + len(s.Field()))

	measure := func(name string, run func(io.Reader) error) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if err := run(&repeatReader{head: signedHead, line: line, n: n}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		runtime.ReadMemStats(&after)
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: verified %d MB, allocated %d KB in %d objects", name, n>>20, alloc>>10, after.Mallocs-before.Mallocs)
		if name == "posthorn" && alloc > 1<<20 {
			t.Errorf("posthorn allocated %d bytes verifying %d", alloc, n)
		}
	}
	measure("posthorn", func(r io.Reader) error {
		res, err := dkim.Verify(context.Background(), r, &dkim.VerifyOptions{Resolver: zone})
		if err == nil && res[0].Status != dkim.Pass {
			err = res[0].Err
		}
		return err
	})
	measure("go-msgauth", func(r io.Reader) error {
		res, err := msgauth.VerifyWithOptions(r, &msgauth.VerifyOptions{LookupTXT: func(name string) ([]string, error) {
			return zone.LookupTXT(context.Background(), name)
		}})
		if err == nil && res[0].Err != nil {
			err = res[0].Err
		}
		return err
	})
}

// reportCPU adds the CPU time per operation (user and system, all
// threads): on a shared, loaded machine wall time mostly measures the
// scheduler.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkDKIMEd25519Floor is the part of an ed25519 DKIM verify no
// library can avoid: crypto/ed25519.Verify of the 32-byte SHA-256 of the
// signed header fields (RFC 8463 §3) and SHA-256 of a 4 KB body. Against
// the verify rows of BenchmarkDKIM it bounds the ratio any library can
// reach: go-msgauth's time over this floor (see dkimed25519.sh).
func BenchmarkDKIMEd25519Floor(b *testing.B) {
	// The verify's cost varies with the signature's scalars: the floor
	// is the mean over 64 signatures by the benchmark's fixed key.
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{42}, ed25519.SeedSize))
	pub := priv.Public().(ed25519.PublicKey)
	var hashes [64][32]byte
	var sigs [64][]byte
	for i := range hashes {
		hashes[i] = sha256.Sum256([]byte(fmt.Sprint("signed header fields ", i)))
		sigs[i] = ed25519.Sign(priv, hashes[i][:])
	}
	body := dkimMessage(4 << 10)
	b.Run("part=verify", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if !ed25519.Verify(pub, hashes[i%64][:], sigs[i%64]) {
				b.Fatal("does not verify")
			}
			i++
		}
	})
	b.Run("part=bodyhash", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			sha256.Sum256(body)
		}
	})
}
