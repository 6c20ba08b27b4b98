package deflate

import (
	"bytes"
	"compress/flate"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/posthorn/posthorn/internal/testpeer"
)

// chunkReader returns its data in pieces of the given sizes, then io.EOF.
type chunkReader struct {
	data  []byte
	sizes []int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := len(r.data)
	if len(r.sizes) > 0 {
		n, r.sizes = min(n, max(1, r.sizes[0])), r.sizes[1:]
	}
	n = copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// isync's mbsync ends every command with Z_PARTIAL_FLUSH: the data block
// is followed by an empty fixed-Huffman block, no stored block. The command
// must come out with no more input (captured from mbsync 1.4).
func TestPartialFlushNeedsNoMoreInput(t *testing.T) {
	b, _ := hex.DecodeString("3255f073f4750d0e707476e5e50208")
	z := newInflater(iotest.ErrReader(os.ErrDeadlineExceeded))
	z.in = append(z.in, b...)
	got := make([]byte, 64)
	n, err := z.Read(got)
	if err != nil || string(got[:n]) != "5 NAMESPACE\r\n" {
		t.Fatalf("got %q, %v", got[:n], err)
	}
}

// compressFlushed compresses parts with compress/flate at level, with a
// sync flush after every part, and returns the stream.
func compressFlushed(t testing.TB, level int, parts [][]byte) []byte {
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, level)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		fw.Write(p)
		fw.Flush()
	}
	fw.Close()
	return buf.Bytes()
}

// randomParts returns text-like and random parts, some empty, some large.
func randomParts(r *rand.Rand) ([][]byte, []byte) {
	var parts [][]byte
	var all []byte
	words := []string{"* ", "FETCH ", "(FLAGS (\\Seen)) ", "UID ", "BODY[] ", "\r\n", "{1234}\r\n", "Subject: hello\r\n"}
	for range r.IntN(12) {
		var p []byte
		switch r.IntN(4) {
		case 0:
		case 1:
			p = make([]byte, r.IntN(70000))
			for i := range p {
				p[i] = byte(r.IntN(256))
			}
		default:
			for range r.IntN(3000) {
				p = append(p, words[r.IntN(len(words))]...)
			}
		}
		parts = append(parts, p)
		all = append(all, p...)
	}
	return parts, all
}

// The inflater decodes what compress/flate writes, at every level and
// flush pattern, whatever the input chunking.
func TestInflateMatchesFlate(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 60 {
		level := []int{flate.HuffmanOnly, flate.NoCompression, 1, 5, 9}[i%5]
		parts, want := randomParts(r)
		comp := compressFlushed(t, level, parts)
		var sizes []int
		for range 50 {
			sizes = append(sizes, r.IntN(40))
		}
		got, err := io.ReadAll(newInflater(&chunkReader{data: comp, sizes: sizes}))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("case %d level %d: %d of %d octets, %v", i, level, len(got), len(want), err)
		}
	}
}

// Python's zlib with every flush mode IMAP peers use (Z_SYNC_FLUSH as
// RFC 4978 §4 suggests, Z_PARTIAL_FLUSH as mbsync, Z_FULL_FLUSH): each
// flushed piece must be readable with no more input.
func TestInflatePythonFlushModes(t *testing.T) {
	testpeer.Python(t)
	out := testpeer.RunPython(t, `
import zlib, sys
for mode in (zlib.Z_SYNC_FLUSH, zlib.Z_PARTIAL_FLUSH, zlib.Z_FULL_FLUSH):
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    pieces = []
    for i in range(5):
        pieces.append(c.compress((b"a%d NOOP\r\n" % i) * (i * 30 + 1)) + c.flush(mode))
    print(",".join(p.hex() for p in pieces))
`)
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		z := newInflater(iotest.ErrReader(os.ErrDeadlineExceeded))
		for i, h := range strings.Split(line, ",") {
			b, _ := hex.DecodeString(h)
			z.in = append(z.in, b...)
			want := strings.Repeat(strings.Replace("aN NOOP\r\n", "N", string(rune('0'+i)), 1), i*30+1)
			got, err := readAvailable(z)
			if got != want {
				t.Fatalf("piece %d: got %q (%v), want %q", i, got, err, want)
			}
		}
	}
}

// readAvailable reads until the inflater needs more input.
func readAvailable(z *inflater) (string, error) {
	var out []byte
	buf := make([]byte, 1000)
	for {
		n, err := z.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return string(out), err
		}
	}
}

// FuzzInflate compresses arbitrary data, flushed at arbitrary points, and
// inflates it from arbitrary chunks: the output must be the input.
func FuzzInflate(f *testing.F) {
	f.Add([]byte("a1 NOOP\r\n"), uint8(1), uint8(3))
	f.Add(bytes.Repeat([]byte("xyz"), 5000), uint8(9), uint8(1))
	f.Add([]byte{0, 1, 2, 3, 255}, uint8(0), uint8(7))
	f.Fuzz(func(t *testing.T, data []byte, level, chunk uint8) {
		lv := int(level%11) - 2
		var parts [][]byte
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 1+int(chunk)*37)
			parts, rest = append(parts, rest[:n]), rest[n:]
		}
		comp := compressFlushed(t, lv, parts)
		got, err := io.ReadAll(newInflater(&chunkReader{data: comp, sizes: []int{int(chunk), 1, 2, int(chunk) * 3}}))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("level %d: %d of %d octets, %v", lv, len(got), len(data), err)
		}
	})
}
