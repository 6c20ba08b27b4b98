package lineio

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type lineResult struct {
	line string
	long bool // *LineTooLongError
}

func readAllLines(t *testing.T, r *Reader) ([]lineResult, error) {
	t.Helper()
	var got []lineResult
	for {
		line, err := r.ReadLine()
		var tl *LineTooLongError
		switch {
		case err == nil:
			got = append(got, lineResult{line: string(line)})
		case errors.As(err, &tl):
			if tl.Limit != r.Limit() {
				t.Fatalf("LineTooLongError.Limit = %d, want %d", tl.Limit, r.Limit())
			}
			got = append(got, lineResult{long: true})
		default:
			return got, err
		}
	}
}

func TestReaderLines(t *testing.T) {
	long := strings.Repeat("x", 40)
	tests := []struct {
		name    string
		in      string
		max     int
		bufSize int
		want    []lineResult
		wantErr error
	}{
		{"crlf", "EHLO a\r\nQUIT\r\n", 20, 16, []lineResult{{line: "EHLO a"}, {line: "QUIT"}}, io.EOF},
		{"lf", "a\nb\n", 20, 16, []lineResult{{line: "a"}, {line: "b"}}, io.EOF},
		{"empty lines", "\r\n\n", 20, 16, []lineResult{{line: ""}, {line: ""}}, io.EOF},
		{"cr inside kept", "a\rb\r\n", 20, 16, []lineResult{{line: "a\rb"}}, io.EOF},
		{"exactly max", "abcde\r\nz\r\n", 5, 16, []lineResult{{line: "abcde"}, {line: "z"}}, io.EOF},
		{"one over max in buffer", "abcdef\r\nz\r\n", 5, 16, []lineResult{{long: true}, {line: "z"}}, io.EOF},
		{"long line over buffer, next line kept", long + "\r\nNOOP\r\n", 20, 16, []lineResult{{long: true}, {line: "NOOP"}}, io.EOF},
		{"long line fits limit, not buffer", long + "\r\nNOOP\r\n", 40, 16, []lineResult{{line: long}, {line: "NOOP"}}, io.EOF},
		{"long line one over limit", long + "\r\nNOOP\r\n", 39, 16, []lineResult{{long: true}, {line: "NOOP"}}, io.EOF},
		{"long line lf fits", long + "\nNOOP\n", 40, 16, []lineResult{{line: long}, {line: "NOOP"}}, io.EOF},
		{"two long lines", long + "\r\n" + long + "\r\nok\r\n", 10, 16, []lineResult{{long: true}, {long: true}, {line: "ok"}}, io.EOF},
		{"eof inside line", "a\r\nbc", 20, 16, []lineResult{{line: "a"}}, io.ErrUnexpectedEOF},
		{"eof inside long line", long, 10, 16, nil, io.ErrUnexpectedEOF},
		{"eof inside discarded line", long + long, 50, 16, nil, io.ErrUnexpectedEOF},
		{"empty input", "", 20, 16, nil, io.EOF},
	}
	for _, tt := range tests {
		for _, oneByte := range []bool{false, true} {
			name := tt.name
			var src io.Reader = strings.NewReader(tt.in)
			if oneByte {
				src = iotest.OneByteReader(src)
				name += "/onebyte"
			}
			t.Run(name, func(t *testing.T) {
				r := NewReader(bufio.NewReaderSize(src, tt.bufSize), tt.max)
				got, err := readAllLines(t, r)
				if err != tt.wantErr {
					t.Errorf("final error = %v, want %v", err, tt.wantErr)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("lines = %+v, want %+v", got, tt.want)
				}
				for i := range got {
					if got[i] != tt.want[i] {
						t.Errorf("line %d = %+v, want %+v", i, got[i], tt.want[i])
					}
				}
			})
		}
	}
}

// TestReaderStaysInStep is the server's view: an over-long command is
// answered and the next command is read normally (RFC 5321 §4.5.3.1.4).
func TestReaderStaysInStep(t *testing.T) {
	in := "MAIL FROM:<" + strings.Repeat("a", 5000) + ">\r\nRSET\r\n"
	r := NewReader(bufio.NewReader(strings.NewReader(in)), 510)
	_, err := r.ReadLine()
	var tl *LineTooLongError
	if !errors.As(err, &tl) || tl.Limit != 510 {
		t.Fatalf("first ReadLine error = %v, want *LineTooLongError{510}", err)
	}
	line, err := r.ReadLine()
	if err != nil || string(line) != "RSET" {
		t.Fatalf("second ReadLine = %q, %v; want RSET", line, err)
	}
}

func TestReaderRawInterleaved(t *testing.T) {
	// An IMAP literal: a line announcing {5}, five raw bytes, then more lines.
	in := "a1 APPEND INBOX {5}\r\nhello)\r\na2 NOOP\r\n"
	r := NewReader(bufio.NewReaderSize(strings.NewReader(in), 16), 100)
	line, err := r.ReadLine()
	if err != nil || string(line) != "a1 APPEND INBOX {5}" {
		t.Fatalf("ReadLine = %q, %v", line, err)
	}
	lit := make([]byte, 5)
	if _, err := io.ReadFull(r, lit); err != nil || string(lit) != "hello" {
		t.Fatalf("literal = %q, %v", lit, err)
	}
	for _, want := range []string{")", "a2 NOOP"} {
		line, err := r.ReadLine()
		if err != nil || string(line) != want {
			t.Fatalf("ReadLine = %q, %v; want %q", line, err, want)
		}
	}
	if r.Bufio() == nil {
		t.Fatal("Bufio returned nil")
	}
}

func TestNewReaderDefaultLimit(t *testing.T) {
	if got := NewReader(bufio.NewReader(strings.NewReader("")), 0).Limit(); got != DefaultMaxLine {
		t.Fatalf("Limit = %d, want %d", got, DefaultMaxLine)
	}
}

// repeatReader serves the same content forever without allocating.
type repeatReader struct {
	data []byte
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.data[r.off:])
		n += c
		r.off = (r.off + c) % len(r.data)
	}
	return n, nil
}

func TestReaderNoAllocs(t *testing.T) {
	src := &repeatReader{data: []byte("a0001 UID FETCH 1:* (FLAGS)\r\nshort\r\n" + strings.Repeat("y", 300) + "\r\n")}
	r := NewReader(bufio.NewReaderSize(src, 1024), 1000)
	// Warm up, then every line must come without an allocation.
	for range 10 {
		if _, err := r.ReadLine(); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := r.ReadLine(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("ReadLine allocates %.1f times per line, want 0", allocs)
	}
	// Lines longer than the buffer reuse the scratch buffer.
	long := &repeatReader{data: []byte(strings.Repeat("z", 100) + "\r\n")}
	r = NewReader(bufio.NewReaderSize(long, 16), 200)
	for range 10 {
		if _, err := r.ReadLine(); err != nil {
			t.Fatal(err)
		}
	}
	allocs = testing.AllocsPerRun(1000, func() {
		if _, err := r.ReadLine(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("long ReadLine allocates %.1f times per line, want 0", allocs)
	}
}

func BenchmarkReadLine(b *testing.B) {
	data := []byte("a0001 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT)])\r\n")
	r := NewReader(bufio.NewReader(&repeatReader{data: data}), 1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := r.ReadLine(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadLineTooLong(b *testing.B) {
	data := []byte(strings.Repeat("x", 10000) + "\r\n")
	r := NewReader(bufio.NewReader(&repeatReader{data: data}), 1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := r.ReadLine(); err == nil {
			b.Fatal("no error")
		}
	}
}

func FuzzLineReader(f *testing.F) {
	for _, s := range []string{
		"EHLO a\r\nQUIT\r\n", "a\nb\n", "\r\n\n", "a\rb\r\n", strings.Repeat("x", 40) + "\r\nNOOP\r\n",
		"abc", "", "\r", "\n", "x\r\r\n",
	} {
		f.Add([]byte(s), 10, 16)
	}
	f.Fuzz(func(t *testing.T, in []byte, max, bufSize int) {
		if max <= 0 || max > 1<<12 || bufSize <= 0 || bufSize > 1<<12 {
			t.Skip()
		}
		// Reference: split on LF, strip one CR before it.
		var want []lineResult
		rest := string(in)
		for {
			i := strings.IndexByte(rest, '\n')
			if i < 0 {
				break
			}
			l := strings.TrimSuffix(rest[:i], "\r")
			rest = rest[i+1:]
			if len(l) > max {
				want = append(want, lineResult{long: true})
			} else {
				want = append(want, lineResult{line: l})
			}
		}
		wantErr := io.EOF
		if rest != "" {
			wantErr = io.ErrUnexpectedEOF
		}
		r := NewReader(bufio.NewReaderSize(iotest.HalfReader(strings.NewReader(string(in))), bufSize), max)
		got, err := readAllLines(t, r)
		if err != wantErr {
			t.Fatalf("final error = %v, want %v", err, wantErr)
		}
		if len(got) != len(want) {
			t.Fatalf("got %d lines, want %d: %+v vs %+v", len(got), len(want), got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("line %d = %+v, want %+v", i, got[i], want[i])
			}
		}
		if cap(r.buf) > max+2 {
			t.Fatalf("scratch buffer grew to %d for limit %d", cap(r.buf), max)
		}
	})
}
