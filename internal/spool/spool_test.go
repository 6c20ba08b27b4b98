package spool

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"
)

func TestSpool(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 100, 4 << 10, 64 << 10, 64<<10 + 1, 100 << 10} {
		data := bytes.Repeat([]byte("abcdefg\r\n"), n/9+1)[:n]
		for _, how := range []string{"ReadFrom", "Write"} {
			s := &Spool{Dir: dir}
			var err error
			if how == "ReadFrom" {
				_, err = s.ReadFrom(iotest.HalfReader(bytes.NewReader(data)))
			} else {
				for i := 0; i < n && err == nil; i += 1000 {
					_, err = s.Write(data[i:min(i+1000, n)])
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Size() != int64(n) || s.InMemory() != (n < DefaultMemLimit || how == "Write" && n == DefaultMemLimit) {
				t.Errorf("%s %d: size %d, in memory %v", how, n, s.Size(), s.InMemory())
			}
			got, err := io.ReadAll(io.NewSectionReader(s, 0, s.Size()+10))
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("%s %d: read back %d octets, %v", how, n, len(got), err)
			}
			if n > 4<<10 {
			} else if err := iotest.TestReader(io.NewSectionReader(s, 0, s.Size()), data); err != nil {
				t.Errorf("%s %d: %v", how, n, err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestSpoolReadFromError(t *testing.T) {
	s := &Spool{Dir: t.TempDir(), MemLimit: 10}
	defer s.Close()
	r := io.MultiReader(strings.NewReader(strings.Repeat("x", 25)), iotest.ErrReader(errors.New("boom")))
	n, err := s.ReadFrom(r)
	if err == nil || err.Error() != "boom" || n != 25 {
		t.Fatalf("ReadFrom = %d, %v", n, err)
	}
}

// With Buf of MemLimit octets, spooling a message that fits allocates
// nothing, and the buffer is the caller's again after Close.
func TestSpoolBuf(t *testing.T) {
	buf := make([]byte, 0, DefaultMemLimit)
	data := bytes.Repeat([]byte("x"), 10000)
	var r bytes.Reader
	allocs := testing.AllocsPerRun(10, func() {
		r.Reset(data)
		s := Spool{Buf: buf}
		if _, err := s.ReadFrom(&r); err != nil || s.Size() != int64(len(data)) {
			t.Fatal(err)
		}
		s.Close()
	})
	if allocs != 0 {
		t.Errorf("%v allocations", allocs)
	}
	// Past the limit it moves to a file, the buffer serving as the copy
	// buffer, and reads back intact.
	big := bytes.Repeat([]byte("0123456789"), 20000)
	s := Spool{Dir: t.TempDir(), Buf: buf}
	defer s.Close()
	if _, err := s.ReadFrom(bytes.NewReader(big)); err != nil || s.InMemory() {
		t.Fatalf("%v, in memory %v", err, s.InMemory())
	}
	got := make([]byte, len(big))
	if _, err := s.ReadAt(got, 0); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("read back: %v", err)
	}
}
