package maildir

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// regFile reads like a regular file: as much as asked for, short only at
// its end.
type regFile struct {
	data   []byte
	closed bool
}

func (f *regFile) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func (f *regFile) Close() error { f.closed = true; return nil }

// readCRLF reads everything through a crlfReader that reads the file
// fileRead octets at a time (its pooled buffer), with reads of at most
// readSize bytes.
func readCRLF(t testing.TB, data []byte, fileRead, readSize int) []byte {
	var pool sync.Pool
	small := make([]byte, fileRead)
	pool.Put(&small)
	f := &regFile{data: data}
	r := newCRLFReader(f, &pool)
	var out []byte
	p := make([]byte, readSize)
	for zero := 0; ; {
		n, err := r.Read(p)
		out = append(out, p[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if zero++; n > 0 {
			zero = 0
		} else if zero > 3 {
			t.Fatal("no progress")
		}
	}
	if err := r.Close(); err != nil || !f.closed {
		t.Fatalf("Close: %v, file closed %v", err, f.closed)
	}
	if _, err := r.Read(p); err == nil {
		t.Fatal("Read after Close did not fail")
	}
	return out
}

// TestCRLFReader: the streaming conversion gives what toCRLF gives for
// the whole file, whatever the line ends (LF, CRLF, bare CR, mixed) and
// wherever the reads of the file and of the caller cut them.
func TestCRLFReader(t *testing.T) {
	inputs := []string{
		"", "\n", "\r", "\r\n", "\n\r", "\r\r\n\n", "a", "a\nb", "a\r\nb\n", "a\rb\r\n.\n\r",
		"Subject: x\n\nbody\n.\n..\nend", strings.Repeat("line of text\n", 5000),
		strings.Repeat("x", 70000) + "\n" + strings.Repeat("y\r", 3000),
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200; i++ {
		b := make([]byte, rng.Intn(3000))
		for j := range b {
			b[j] = "ab\r\n."[rng.Intn(5)]
		}
		inputs = append(inputs, string(b))
	}
	for _, in := range inputs {
		want := toCRLF([]byte(in))
		if int64(len(want)) != crlfSize([]byte(in)) {
			t.Fatalf("crlfSize disagrees with toCRLF for %q", in)
		}
		for _, fileRead := range []int{readBufSize, 1, 2, 3, 7, 4096} {
			for _, rs := range []int{1, 2, 3, 100, 16 << 10} {
				if got := readCRLF(t, []byte(in), fileRead, rs); !bytes.Equal(got, want) {
					t.Fatalf("file reads of %d, reads of %d: %.80q..., want %.80q...", fileRead, rs, got, want)
				}
			}
		}
	}
}

func FuzzCRLFReader(f *testing.F) {
	f.Add([]byte("Subject: x\n\nbody\r\n.\r\r\n"), 3, 2)
	f.Add([]byte("a\rb\nc\r\nd"), 1, 1)
	f.Fuzz(func(t *testing.T, data []byte, chunk, readSize int) {
		chunk = 1 + abs(chunk)%64
		readSize = 1 + abs(readSize)%64
		if got, want := readCRLF(t, data, chunk, readSize), toCRLF(data); !bytes.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// TestOpenMaildropMessageStreams: POP3 reads a message from its file as
// it is read, in constant memory: LF files converted, files of other
// writers (CRLF, served raw) as they are, and a rename by a flag change
// between the snapshot and RETR is followed.
func TestOpenMaildropMessageStreams(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir, nil)
	defer s.Close()
	big := "Subject: big\n\n" + strings.Repeat("a line of the body, dot-free\n", 4000) // 112 KB, LF
	s.Deliver(ctx, "alice", strings.NewReader(big))
	os.WriteFile(filepath.Join(dir, "alice", "new", "1700000000.other.host"), []byte("Subject: x\r\n\r\nhi\r\n"), 0o600)
	uidls, sizes, unlock, err := s.LockMaildrop(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if len(uidls) != 2 {
		t.Fatalf("UIDLs %v", uidls)
	}
	// A flag change over IMAP renames the file after the snapshot.
	mb := mustOpen(t, s, "INBOX")
	if _, err := mb.SetFlags(ctx, []uint32{1}, imapserver.FlagsAdd, []string{`\Seen`}, 0); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{toCRLFString(big), "Subject: x\r\n\r\nhi\r\n"} {
		r, err := s.OpenMaildropMessage(ctx, "alice", uidls[i])
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := r.(io.Closer); !ok {
			t.Fatalf("message %d: %T is no io.Closer", i+1, r)
		}
		b, err := io.ReadAll(r)
		r.(io.Closer).Close()
		if err != nil || string(b) != want || int64(len(b)) != sizes[i] {
			t.Fatalf("message %d: %d octets (listed %d), %v", i+1, len(b), sizes[i], err)
		}
	}
}

func toCRLFString(s string) string { return string(toCRLF([]byte(s))) }

// BenchmarkOpenMaildropMessage reads a 25 KB LF message (the mean of
// mailbench's mix) as POP3 RETR does, through a 16 KiB bufio.Reader.
func BenchmarkOpenMaildropMessage(b *testing.B) {
	ctx := context.Background()
	s, err := Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.AddUser("alice", "secret"); err != nil {
		b.Fatal(err)
	}
	var msg strings.Builder
	msg.WriteString("Subject: bench\n\n")
	for msg.Len() < 25000 {
		fmt.Fprintf(&msg, "%d: a line of text of a realistic length, about seventy characters\n", msg.Len())
	}
	s.Deliver(ctx, "alice", strings.NewReader(msg.String()))
	uidls, sizes, unlock, err := s.LockMaildrop(ctx, "alice")
	if err != nil {
		b.Fatal(err)
	}
	defer unlock()
	buf := make([]byte, 16<<10)
	b.SetBytes(sizes[0])
	b.ReportAllocs()
	for b.Loop() {
		r, err := s.OpenMaildropMessage(ctx, "alice", uidls[0])
		if err != nil {
			b.Fatal(err)
		}
		var n int64
		for {
			k, err := r.Read(buf)
			n += int64(k)
			if err != nil {
				break
			}
		}
		if c, ok := r.(io.Closer); ok {
			c.Close()
		}
		if n != sizes[0] {
			b.Fatalf("read %d, listed %d", n, sizes[0])
		}
	}
}

// TestLFWriter: deliveries are stored with LF line ends whatever the
// pieces the body arrives in: CRLF, bare CR and bare LF each end one
// line, and the counts give ,S= and ,W= (the CRLF size).
func TestLFWriter(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	inputs := []string{"", "a", "\r", "\n", "\r\n", "\n\r", "a\r\nb\r\n", "a\rb\nc\r\n\r\n", strings.Repeat("line\r\n", 20000)}
	for i := 0; i < 300; i++ {
		b := make([]byte, rng.Intn(500))
		for j := range b {
			b[j] = "ab\r\n"[rng.Intn(4)]
		}
		inputs = append(inputs, string(b))
	}
	for _, in := range inputs {
		// The model: CRLF and bare CR become LF.
		want := strings.ReplaceAll(strings.ReplaceAll(in, "\r\n", "\n"), "\r", "\n")
		for _, chunk := range []int{1, 2, 3, 64, 1 << 20} {
			var out bytes.Buffer
			lw := &lfWriter{w: bufio.NewWriterSize(&out, 16)}
			for p := []byte(in); len(p) > 0; {
				k := min(chunk, len(p))
				if n, err := lw.Write(p[:k]); n != k || err != nil {
					t.Fatal(n, err)
				}
				p = p[k:]
			}
			lw.w.Flush()
			lines := int64(strings.Count(want, "\n"))
			if out.String() != want || lw.written != int64(len(want)) || lw.lines != lines {
				t.Fatalf("%q in pieces of %d: %q (%d octets, %d lines), want %q (%d lines)", in, chunk, out.String(), lw.written, lw.lines, want, lines)
			}
			if vsize := lw.written + lw.lines; vsize != int64(len(toCRLF([]byte(want)))) {
				t.Fatalf("%q: W=%d, but toCRLF gives %d", in, vsize, len(toCRLF([]byte(want))))
			}
		}
	}
}

// BenchmarkDeliver stores a 25 KB CRLF message (fsynced) as the SMTP and
// LMTP servers do: the body streams into the file through a pooled
// buffer, converted to LF line ends a line at a time.
func BenchmarkDeliver(b *testing.B) {
	ctx := context.Background()
	s, err := Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.AddUser("alice", "secret"); err != nil {
		b.Fatal(err)
	}
	var msg strings.Builder
	msg.WriteString("Subject: bench\r\n\r\n")
	for msg.Len() < 25000 {
		fmt.Fprintf(&msg, "%d: a line of text of a realistic length, about seventy characters\r\n", msg.Len())
	}
	header := func() []byte { return []byte("Received: from bench\r\n") }
	body := []byte(msg.String())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.DeliverMessage(ctx, []string{"alice"}, bytes.NewReader(body), header); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppend stores a 25 KB message given whole, as APPEND does
// (fsynced): kept with LF line ends, converted while written.
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	s, err := Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.AddUser("alice", "secret"); err != nil {
		b.Fatal(err)
	}
	var msg strings.Builder
	msg.WriteString("From: a@example.org\r\nSubject: bench\r\n\r\n")
	for msg.Len() < 25000 {
		fmt.Fprintf(&msg, "%d: a line of text of a realistic length, about seventy characters\r\n", msg.Len())
	}
	body := []byte(msg.String())
	u, err := s.User(ctx, "alice", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := u.Append(ctx, "INBOX", bytes.NewReader(body), int64(len(body)), imapserver.AppendOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
