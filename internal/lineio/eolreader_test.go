package lineio

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// refEOL is the reference: the normalised form of b, and the first bare
// CR or LF (-1 when none) with its character.
func refEOL(b []byte) (norm []byte, off int64, char byte) {
	off = -1
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '\r' && i+1 < len(b) && b[i+1] == '\n':
			norm = append(norm, '\r', '\n')
			i++
		case c == '\r' || c == '\n':
			if off < 0 {
				off, char = int64(i), c
			}
			norm = append(norm, '\r', '\n')
		default:
			norm = append(norm, c)
		}
	}
	return norm, off, char
}

// readAllSized reads r with reads of at most size bytes.
func readAllSized(r io.Reader, size int) ([]byte, error) {
	var out []byte
	p := make([]byte, size)
	for i := 0; i < 1<<20; i++ {
		n, err := r.Read(p)
		out = append(out, p[:n]...)
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return out, err
		}
	}
	return out, errors.New("no progress")
}

func checkEOL(t *testing.T, in []byte) {
	norm, off, char := refEOL(in)
	wraps := map[string]func(io.Reader) io.Reader{
		"plain": func(r io.Reader) io.Reader { return r },
		"one":   iotest.OneByteReader,
		"half":  iotest.HalfReader,
	}
	for wname, wrap := range wraps {
		for _, size := range []int{1, 2, 3, 7, 4096} {
			// Reject: unchanged bytes when clean, else the error at the end.
			r := NewEOLReader(wrap(bytes.NewReader(in)), RejectBareEOL)
			got, err := readAllSized(r, size)
			if off < 0 {
				if err != nil || !bytes.Equal(got, in) {
					t.Fatalf("reject %s/%d %q: %q, %v", wname, size, in, got, err)
				}
			} else {
				var be *BareEOLError
				if !errors.As(err, &be) || be.Offset != off || be.Char != char || !r.Done() {
					t.Fatalf("reject %s/%d %q: %v, want bare %q at %d", wname, size, in, err, char, off)
				}
				if !bytes.HasPrefix(in, got) {
					t.Fatalf("reject %s/%d %q: returned %q", wname, size, in, got)
				}
			}
			// Normalize.
			r = NewEOLReader(wrap(bytes.NewReader(in)), NormalizeBareEOL)
			got, err = readAllSized(r, size)
			if err != nil || !bytes.Equal(got, norm) {
				t.Fatalf("normalize %s/%d %q: %q, %v; want %q", wname, size, in, got, err, norm)
			}
			if (r.BareEOLs() > 0) != (off >= 0) {
				t.Fatalf("normalize %q: %d bare", in, r.BareEOLs())
			}
		}
	}
}

func TestEOLReader(t *testing.T) {
	for _, in := range []string{
		"", "a", "\r\n", "a\r\nb\r\n", "\n", "\r", "a\r", "a\nb", "a\rb", "\r\r\n", "\r\n\n",
		"Subject: x\r\n\r\nbody\nmore\r\n", "x\r\n.\r\n", "\n\n\r\r", "ab\r\r\n\r\n",
		string(bytes.Repeat([]byte("line of text\r\n"), 1000)) + "tail\r",
	} {
		checkEOL(t, []byte(in))
	}
}

// An I/O error is passed on, not taken for the end.
func TestEOLReaderIOError(t *testing.T) {
	boom := errors.New("boom")
	for _, pol := range []BareEOLPolicy{RejectBareEOL, NormalizeBareEOL} {
		r := NewEOLReader(io.MultiReader(bytes.NewReader([]byte("a\nb")), iotest.ErrReader(boom)), pol)
		if _, err := io.ReadAll(r); !errors.Is(err, boom) {
			t.Errorf("policy %d: %v", pol, err)
		}
	}
}

func FuzzEOLReader(f *testing.F) {
	for _, s := range []string{"", "a\r\nb", "a\nb\rc\r", "\r\r\n\n", "x\r\n.\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 1<<12 {
			return
		}
		checkEOL(t, in)
	})
}

// BenchmarkEOLReader checks a 64 KiB CRLF message read in 32 KiB reads.
func BenchmarkEOLReader(b *testing.B) {
	msg := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n"), 64<<10/74)
	p := make([]byte, 32<<10)
	for _, pol := range []struct {
		name string
		p    BareEOLPolicy
	}{{"reject", RejectBareEOL}, {"normalize", NormalizeBareEOL}} {
		b.Run(pol.name, func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			var br bytes.Reader
			var e EOLReader
			for i := 0; i < b.N; i++ {
				br.Reset(msg)
				e.Reset(&br, pol.p)
				for {
					if _, err := e.Read(p); err != nil {
						break
					}
				}
			}
		})
	}
}
