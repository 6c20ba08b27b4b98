package lineio

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// decode reads one dot-stuffed body from in and returns the decoded bytes,
// the final error (nil for a clean end) and what is left unread.
func decode(t testing.TB, in string, opts DotOptions, bufSize, chunk int, oneByte bool) (out, rest string, err error) {
	t.Helper()
	var src io.Reader = strings.NewReader(in)
	if oneByte {
		src = iotest.OneByteReader(src)
	}
	br := bufio.NewReaderSize(src, bufSize)
	d := NewDotReader(br, opts)
	var got bytes.Buffer
	if chunk == 0 {
		// io.Copy through WriteTo.
		var n int64
		n, err = io.Copy(&got, d)
		if n != int64(got.Len()) {
			t.Errorf("WriteTo returned %d, wrote %d", n, got.Len())
		}
	} else {
		buf := make([]byte, chunk)
		for {
			var n int
			n, err = d.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				break
			}
		}
		if err == io.EOF {
			err = nil
		}
	}
	if cerr := d.Close(); cerr != err {
		t.Errorf("Close = %v, Read ended with %v", cerr, err)
	}
	left, _ := io.ReadAll(br)
	return got.String(), string(left), err
}

// variants runs f over buffer sizes and read sizes that split every token.
func variants(t *testing.T, f func(t *testing.T, bufSize, chunk int, oneByte bool)) {
	for _, v := range []struct {
		bufSize, chunk int
		oneByte        bool
	}{{4096, 32 * 1024, false}, {16, 32 * 1024, false}, {16, 1, false}, {16, 2, true}, {16, 3, false}, {4096, 7, true},
		{4096, 0, false}, {16, 0, true}} {
		f(t, v.bufSize, v.chunk, v.oneByte)
	}
}

func TestDotReaderDecode(t *testing.T) {
	tests := []struct {
		name   string
		in     string // S: data lines, then what follows
		policy BareEOLPolicy
		want   string
		err    string // "" or "bare CR"/"bare LF"
		rest   string
	}{
		{"empty body", ".\r\nQUIT\r\n", RejectBareEOL, "", "", "QUIT\r\n"},
		{"one line", "hello\r\n.\r\n", RejectBareEOL, "hello\r\n", "", ""},
		{"stuffed dot", "..\r\n..x\r\n.y\r\n.\r\nNOOP\r\n", RejectBareEOL, ".\r\n.x\r\ny\r\n", "", "NOOP\r\n"},
		{"first line stuffed", "..hidden\r\n.\r\n", RejectBareEOL, ".hidden\r\n", "", ""},
		{"blank lines", "\r\n\r\n.\r\n", RejectBareEOL, "\r\n\r\n", "", ""},
		{"dot inside line", "a.b\r\n a\r\n.\r\n", RejectBareEOL, "a.b\r\n a\r\n", "", ""},
		{"bare LF rejected", "a\nb\r\n.\r\n", RejectBareEOL, "a", "bare LF", ""},
		{"bare CR rejected", "a\rb\r\n.\r\n", RejectBareEOL, "a", "bare CR", ""},
		{"CR CR LF rejected", "a\r\r\n.\r\n", RejectBareEOL, "a", "bare CR", ""},
		{"bare LF normalised", "a\nb\r\n.\r\n", NormalizeBareEOL, "a\r\nb\r\n", "", ""},
		{"bare CR normalised", "a\rb\r\n.\r\n", NormalizeBareEOL, "a\r\nb\r\n", "", ""},
		{"CR CR LF normalised", "a\r\r\n.\r\n", NormalizeBareEOL, "a\r\n\r\n", "", ""},
		{"LF CR normalised", "a\n\rb\r\n.\r\n", NormalizeBareEOL, "a\r\n\r\nb\r\n", "", ""},
		{"dot after bare LF is content", "a\n.b\r\n.\r\n", NormalizeBareEOL, "a\r\n.b\r\n", "", ""},
		{"dot then bare CR", ".\rx\r\n.\r\n", NormalizeBareEOL, "\r\nx\r\n", "", ""},
		{"dot then bare LF", ".\nx\r\n.\r\n", NormalizeBareEOL, "\r\nx\r\n", "", ""},
		{"dot CR dot", "a\r\n.\r.\r\n.\r\n", NormalizeBareEOL, "a\r\n\r\n.\r\n", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			variants(t, func(t *testing.T, bufSize, chunk int, oneByte bool) {
				got, rest, err := decode(t, tt.in, DotOptions{Policy: tt.policy}, bufSize, chunk, oneByte)
				checkBareErr(t, err, tt.err)
				if tt.err == "" && got != tt.want {
					t.Errorf("buf %d chunk %d: data = %q, want %q", bufSize, chunk, got, tt.want)
				}
				if tt.err != "" && !strings.HasPrefix(tt.want, got) && !strings.HasPrefix(got, tt.want) {
					t.Errorf("buf %d chunk %d: data before error = %q, want prefix of %q", bufSize, chunk, got, tt.want)
				}
				if rest != tt.rest {
					t.Errorf("buf %d chunk %d: left unread %q, want %q", bufSize, chunk, rest, tt.rest)
				}
			})
		})
	}
}

func checkBareErr(t *testing.T, err error, want string) {
	t.Helper()
	var be *BareEOLError
	switch want {
	case "":
		if err != nil {
			t.Fatalf("error = %v, want none", err)
		}
	case "bare CR", "bare LF":
		if !errors.As(err, &be) {
			t.Fatalf("error = %v, want *BareEOLError", err)
		}
		if c := map[string]byte{"bare CR": '\r', "bare LF": '\n'}[want]; be.Char != c {
			t.Fatalf("BareEOLError.Char = %q, want %q", be.Char, c)
		}
	}
}

// TestDotReaderSmuggling hides a second transaction behind each fake
// end-of-data sequence (SMTP smuggling, 2023). RFC 5321 §4.5.2 ends the
// data only at <CRLF>.<CRLF>; the reader must read through every fake and
// stop at the real one, leaving exactly the next command unread.
func TestDotReaderSmuggling(t *testing.T) {
	const hidden = "MAIL FROM:<admin@victim.example>\r\nRCPT TO:<x@victim.example>\r\nDATA\r\nSpoofed\r\n"
	const real = "\r\n.\r\n"
	const next = "QUIT\r\n"
	fakes := []struct {
		name  string
		fake  string
		start bool // the fake is at the very start of the data
		bare  string
	}{
		{"LF.LF", "\n.\n", false, "bare LF"},
		{"LF.CRLF", "\n.\r\n", false, "bare LF"},
		{"CR.CR", "\r.\r", false, "bare CR"},
		{"CRLF.LF", "\r\n.\n", false, "bare LF"},
		{"CR.CRLF", "\r.\r\n", false, "bare CR"},
		{"CRLF.CR", "\r\n.\r", false, "bare CR"},
		{"LF.CR", "\n.\r", false, "bare LF"},
		{"CR.LF", "\r.\n", false, "bare CR"},
		{"CRLF.CRCRLF", "\r\n.\r\r\n", false, "bare CR"},
		{"CRLF.NUL CRLF", "\r\n.\x00\r\n", false, ""},
		{"CRLF. CRLF", "\r\n. \r\n", false, ""},
		{"start .LF", ".\n", true, "bare LF"},
		{"start .CR", ".\r", true, "bare CR"},
		{"start LF.CRLF", "\n.\r\n", true, "bare LF"},
		{"start CR.CRLF", "\r.\r\n", true, "bare CR"},
		{"start .CRCRLF", ".\r\r\n", true, "bare CR"},
	}
	for _, f := range fakes {
		in := "Subject: hi\r\n\r\nhello" + f.fake + hidden + "more" + real + next
		if f.start {
			in = f.fake + hidden + "more" + real + next
		}
		for _, policy := range []BareEOLPolicy{RejectBareEOL, NormalizeBareEOL} {
			name := f.name + map[BareEOLPolicy]string{RejectBareEOL: "/reject", NormalizeBareEOL: "/normalize"}[policy]
			t.Run(name, func(t *testing.T) {
				variants(t, func(t *testing.T, bufSize, chunk int, oneByte bool) {
					got, rest, err := decode(t, in, DotOptions{Policy: policy}, bufSize, chunk, oneByte)
					if rest != next {
						t.Fatalf("buf %d chunk %d: left unread %q, want %q (the reader stopped at a fake end)", bufSize, chunk, rest, next)
					}
					if policy == RejectBareEOL {
						checkBareErr(t, err, f.bare)
					} else if err != nil {
						t.Fatalf("error = %v, want none", err)
					}
					if err == nil && !strings.Contains(got, "MAIL FROM:<admin@victim.example>\r\n") {
						t.Fatalf("hidden transaction missing from the data: %q", got)
					}
					if err == nil && !strings.HasSuffix(got, "more\r\n") {
						t.Fatalf("data does not end at the real terminator: %q", got)
					}
				})
			})
		}
	}
	// The genuine end at the very start: an empty body, the rest is
	// commands (RFC 5321 §4.5.2; the first line counts as after a CRLF).
	got, rest, err := decode(t, ".\r\n"+hidden, DotOptions{}, 4096, 512, false)
	if got != "" || err != nil || rest != hidden {
		t.Fatalf(".CRLF at start: data %q err %v rest %q", got, err, rest)
	}
}

func TestDotReaderLimits(t *testing.T) {
	body := strings.Repeat("0123456789\r\n", 100) // 1200 bytes, lines of 10
	in := body + ".\r\nNEXT\r\n"
	t.Run("size", func(t *testing.T) {
		variants(t, func(t *testing.T, bufSize, chunk int, oneByte bool) {
			got, rest, err := decode(t, in, DotOptions{MaxSize: 1000}, bufSize, chunk, oneByte)
			var tl *TooLargeError
			if !errors.As(err, &tl) || tl.Limit != 1000 {
				t.Fatalf("error = %v, want *TooLargeError{1000}", err)
			}
			if len(got) > 1000 || !strings.HasPrefix(body, got) {
				t.Fatalf("delivered %d bytes, not a prefix within the limit", len(got))
			}
			if rest != "NEXT\r\n" {
				t.Fatalf("left unread %q", rest)
			}
		})
	})
	t.Run("size exact", func(t *testing.T) {
		got, _, err := decode(t, in, DotOptions{MaxSize: 1200}, 16, 5, false)
		if err != nil || got != body {
			t.Fatalf("err %v, %d bytes", err, len(got))
		}
	})
	t.Run("line", func(t *testing.T) {
		long := "ok\r\n" + strings.Repeat("x", 999) + "\r\nok\r\n.\r\nNEXT\r\n"
		variants(t, func(t *testing.T, bufSize, chunk int, oneByte bool) {
			_, rest, err := decode(t, long, DotOptions{MaxLine: 998}, bufSize, chunk, oneByte)
			var tl *LineTooLongError
			if !errors.As(err, &tl) || tl.Limit != 998 {
				t.Fatalf("error = %v, want *LineTooLongError{998}", err)
			}
			if rest != "NEXT\r\n" {
				t.Fatalf("left unread %q", rest)
			}
		})
	})
	t.Run("line exact", func(t *testing.T) {
		// The stuffing dot does not count (RFC 5321 §4.5.3.1.6).
		ok := ".." + strings.Repeat("x", 997) + "\r\n.\r\n"
		got, _, err := decode(t, ok, DotOptions{MaxLine: 998}, 16, 3, false)
		if err != nil || len(got) != 1000 {
			t.Fatalf("err %v, %d bytes", err, len(got))
		}
	})
	t.Run("first error wins", func(t *testing.T) {
		_, rest, err := decode(t, "a\nb\r\n"+body+".\r\nNEXT\r\n", DotOptions{MaxSize: 10}, 4096, 4096, false)
		var be *BareEOLError
		if !errors.As(err, &be) || be.Offset != 1 {
			t.Fatalf("error = %v, want *BareEOLError at 1", err)
		}
		if rest != "NEXT\r\n" {
			t.Fatalf("left unread %q", rest)
		}
	})
}

func TestDotReaderUnexpectedEOF(t *testing.T) {
	for _, in := range []string{"", "abc", "abc\r\n", "abc\r\n.", "abc\r\n.\r", "abc\r", ".", "a\nb", "\r\n.\n"} {
		for _, policy := range []BareEOLPolicy{RejectBareEOL, NormalizeBareEOL} {
			_, _, err := decode(t, in, DotOptions{Policy: policy}, 16, 4, false)
			if err != io.ErrUnexpectedEOF {
				t.Errorf("%q policy %d: error = %v, want io.ErrUnexpectedEOF", in, policy, err)
			}
		}
	}
}

// TestDotReaderDoesNotReadAhead: the peer sends the body and waits for our
// reply; the reader must return at the terminator without waiting for more.
func TestDotReaderDoesNotReadAhead(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() {
		for _, s := range []string{"line\r", "\n", ".", "\r", "\n"} {
			if _, err := pw.Write([]byte(s)); err != nil {
				return
			}
		}
	}()
	done := make(chan error, 1)
	go func() {
		d := NewDotReader(bufio.NewReader(pr), DotOptions{})
		b, err := io.ReadAll(d)
		if err == nil && string(b) != "line\r\n" {
			err = errors.New("wrong data " + string(b))
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("DotReader waited for bytes after the terminator")
	}
}

func TestDotReaderCloseEarly(t *testing.T) {
	br := bufio.NewReaderSize(strings.NewReader("a\r\nb\r\n..c\r\n.\r\nRSET\r\n"), 16)
	d := NewDotReader(br, DotOptions{})
	p := make([]byte, 2)
	if _, err := d.Read(p); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if _, err := d.Read(p); err == nil {
		t.Fatal("Read after Close succeeded")
	}
	rest, _ := io.ReadAll(br)
	if string(rest) != "RSET\r\n" {
		t.Fatalf("left unread %q", rest)
	}
	if d.RawSize() != int64(len("a\r\nb\r\n..c\r\n.\r\n")) {
		t.Fatalf("RawSize = %d", d.RawSize())
	}
}

func TestDotReaderBareEOLsCounted(t *testing.T) {
	d := NewDotReader(bufio.NewReader(strings.NewReader("a\nb\rc\r\n.\r\n")), DotOptions{Policy: NormalizeBareEOL})
	if _, err := io.ReadAll(d); err != nil {
		t.Fatal(err)
	}
	if d.BareEOLs() != 2 {
		t.Fatalf("BareEOLs = %d, want 2", d.BareEOLs())
	}
}

type errWriter struct{ after int }

func (e *errWriter) Write(p []byte) (int, error) {
	if e.after <= 0 {
		return 0, errors.New("disk full")
	}
	e.after--
	return len(p), nil
}

// TestDotReaderWriteToError: the backend fails; Close still consumes the
// body so the server can reply and read the next command.
func TestDotReaderWriteToError(t *testing.T) {
	body := strings.Repeat("line\r\n", 5000)
	br := bufio.NewReaderSize(strings.NewReader(body+".\r\nQUIT\r\n"), 64)
	d := NewDotReader(br, DotOptions{})
	if _, err := io.Copy(&errWriter{after: 3}, d); err == nil || err.Error() != "disk full" {
		t.Fatalf("io.Copy = %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if rest, _ := io.ReadAll(br); string(rest) != "QUIT\r\n" {
		t.Fatalf("left unread %q", rest)
	}
}

// TestDotReaderPendingLFThenWriteTo mixes a one-byte Read that leaves an LF
// pending with WriteTo.
func TestDotReaderPendingLFThenWriteTo(t *testing.T) {
	d := NewDotReader(bufio.NewReader(strings.NewReader("\r\nab\r\n.\r\n")), DotOptions{})
	p := make([]byte, 1)
	if n, err := d.Read(p); n != 1 || err != nil || p[0] != '\r' {
		t.Fatalf("Read = %d %v %q", n, err, p)
	}
	var out bytes.Buffer
	if _, err := d.WriteTo(&out); err != nil || out.String() != "\nab\r\n" {
		t.Fatalf("WriteTo = %q, %v", out.String(), err)
	}
}
