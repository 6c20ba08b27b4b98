package maildir

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzAppendCRLF: converting a file in two chunks, split anywhere, gives
// what toCRLF gives for the whole.
func FuzzAppendCRLF(f *testing.F) {
	for _, s := range []string{"", "a\nb\n", "a\r\nb\r", "\r\n\r\n", "\r\r\n\n", "x\ry\n\rz", "\n", "\r"} {
		f.Add([]byte(s), uint16(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		if len(data) > 1<<16 {
			return
		}
		k := int(cut) % (len(data) + 1)
		out, skip := appendCRLF(nil, data[:k], false)
		out, _ = appendCRLF(out, data[k:], skip)
		if want := toCRLF(bytes.Clone(data)); !bytes.Equal(out, want) {
			t.Fatalf("split at %d of %q: %q, want %q", k, data, out, want)
		}
	})
}

// TestOpenLazy: Open serves messages larger than a chunk, with LF, CR,
// CRLF and line ends split between chunks, as toCRLF converts them,
// whatever the order and size of ReadAt calls; a header read reads one
// chunk of the file only.
func TestOpenLazy(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s := openStore(t, root, nil)
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	var want [][]byte
	for i := range 6 {
		var b bytes.Buffer
		b.WriteString("Subject: big " + strings.Repeat("x", i) + "\n\n")
		for b.Len() < 3*lazyChunk+rng.IntN(lazyChunk) {
			b.WriteString(strings.Repeat("y", rng.IntN(120)))
			b.WriteString([]string{"\n", "\r\n", "\n", "\n"}[rng.IntN(4)])
		}
		// A CRLF exactly across the first chunk boundary.
		data := b.Bytes()
		if i == 0 {
			data[lazyChunk-1], data[lazyChunk] = '\r', '\n'
		}
		if _, err := s.Deliver(ctx, "alice", bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		want = append(want, toCRLF(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))))
	}
	// One written by another program, with bare CRs (kept as LF files
	// are: converted when read).
	// Its first chunk ends with the CR of a CRLF.
	other := append(append(bytes.Repeat([]byte("x"), lazyChunk-1), "\r\n"...), bytes.Repeat([]byte("line\rmore\n"), lazyChunk/5)...)
	os.WriteFile(filepath.Join(root, "alice", "new", "1700000000.other.host"), other, 0o600)
	want = append(want, toCRLF(bytes.Clone(other)))

	mb := mustOpen(t, s, "INBOX")
	ms := messages(t, mb)
	if len(ms) != len(want) {
		t.Fatalf("%d messages", len(ms))
	}
	for i, m := range ms {
		if m.Size() != int64(len(want[i])) {
			t.Errorf("message %d: size %d, want %d", i, m.Size(), len(want[i]))
		}
		ra, err := m.Open()
		if err != nil {
			t.Fatal(err)
		}
		l := ra.(*lazyMsg)
		if l.done || l.srcOff != lazyChunk {
			t.Errorf("message %d: after Open %d octets read (done %v), want one chunk", i, l.srcOff, l.done)
		}
		// Random reads, out of order.
		for range 50 {
			off := rng.Int64N(int64(len(want[i])) + 10)
			p := make([]byte, rng.IntN(3*lazyChunk))
			n, err := ra.ReadAt(p, off)
			wantN := max(0, min(len(p), len(want[i])-int(off)))
			if n != wantN || (n < len(p) && err != io.EOF) || !bytes.Equal(p[:n], want[i][min(off, int64(len(want[i]))):][:n]) {
				t.Fatalf("message %d: ReadAt(%d, %d) = %d, %v", i, len(p), off, n, err)
			}
		}
		got, err := io.ReadAll(io.NewSectionReader(ra, 0, 1<<30))
		if err != nil || !bytes.Equal(got, want[i]) {
			t.Errorf("message %d: whole read differs (%v)", i, err)
		}
	}
	// Gone before Open: an error at once.
	os.Remove(filepath.Join(root, "alice", "new", "1700000000.other.host"))
	time.Sleep(time.Millisecond)
	if _, err := ms[len(ms)-1].Open(); err == nil {
		t.Error("Open of a removed file succeeded")
	}
}

// BenchmarkOpenHeader: Open and read the first 2 KiB of a 24 KB message,
// as FETCH BODY.PEEK[HEADER.FIELDS] and SEARCH SUBJECT do.
func BenchmarkOpenHeader(b *testing.B) {
	benchOpen(b, 2<<10)
}

// BenchmarkOpenWhole: Open and read a 24 KB message whole (BODY[]).
func BenchmarkOpenWhole(b *testing.B) {
	benchOpen(b, 1<<20)
}

func benchOpen(b *testing.B, n int) {
	s, err := Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.AddUser("alice", "pw")
	msg := "Subject: bench\nFrom: a@example.org\n\n" + strings.Repeat(strings.Repeat("z", 70)+"\n", 24000/71)
	for range 100 {
		s.Deliver(context.Background(), "alice", strings.NewReader(msg))
	}
	u, _ := s.User(context.Background(), "alice", nil)
	mb, _ := u.OpenMailbox(context.Background(), "INBOX", true)
	defer mb.Close()
	ms, _ := mb.Messages(context.Background(), mb.Snapshot().UIDs)
	p := make([]byte, n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ra, err := ms[i%len(ms)].Open()
		if err != nil {
			b.Fatal(err)
		}
		ra.ReadAt(p, 0)
	}
}
