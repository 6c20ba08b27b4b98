package lineio

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/textproto"
	"strings"
	"testing"
	"testing/iotest"
)

func encode(t testing.TB, chunks ...string) string {
	t.Helper()
	var out bytes.Buffer
	w := NewDotWriter(&out)
	for _, c := range chunks {
		n, err := w.Write([]byte(c))
		if err != nil || n != len(c) {
			t.Fatalf("Write(%q) = %d, %v", c, n, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestDotWriter(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string
		want   string // C: what goes on the wire after DATA
	}{
		{"empty", nil, ".\r\n"},
		{"empty write", []string{""}, ".\r\n"},
		{"one line", []string{"hello\r\n"}, "hello\r\n.\r\n"},
		{"no final CRLF", []string{"hello"}, "hello\r\n.\r\n"},
		{"first line dot", []string{".hidden\r\n"}, "..hidden\r\n.\r\n"},
		{"lone dot line", []string{"a\r\n.\r\nb\r\n"}, "a\r\n..\r\nb\r\n.\r\n"},
		{"body is a dot", []string{"."}, "..\r\n.\r\n"},
		{"bare LF", []string{"a\nb"}, "a\r\nb\r\n.\r\n"},
		{"bare CR", []string{"a\rb"}, "a\r\nb\r\n.\r\n"},
		{"CR CR LF", []string{"a\r\r\nb"}, "a\r\n\r\nb\r\n.\r\n"},
		{"LF CR", []string{"a\n\rb"}, "a\r\n\r\nb\r\n.\r\n"},
		{"smuggle LF.LF", []string{"a\n.\nb"}, "a\r\n..\r\nb\r\n.\r\n"},
		{"smuggle LF.CRLF", []string{"a\n.\r\nb"}, "a\r\n..\r\nb\r\n.\r\n"},
		{"smuggle CR.CR", []string{"a\r.\rb"}, "a\r\n..\r\nb\r\n.\r\n"},
		{"CRLF split across writes", []string{"a\r", "\nb\r\n"}, "a\r\nb\r\n.\r\n"},
		{"dot after split CRLF", []string{"a\r", "\n.b"}, "a\r\n..b\r\n.\r\n"},
		{"dot in own write", []string{"a\r\n", ".", "\r\n"}, "a\r\n..\r\n.\r\n"},
		{"CR at end", []string{"a\r"}, "a\r\n.\r\n"},
		{"ends with CRLF", []string{"a\r\n"}, "a\r\n.\r\n"},
		{"ends with LF", []string{"a\n"}, "a\r\n.\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := encode(t, tt.chunks...); got != tt.want {
				t.Fatalf("wire = %q, want %q", got, tt.want)
			}
			// The same bytes written one at a time give the same wire.
			whole := strings.Join(tt.chunks, "")
			var bytewise []string
			for i := range len(whole) {
				bytewise = append(bytewise, whole[i:i+1])
			}
			if got := encode(t, bytewise...); got != tt.want {
				t.Fatalf("byte by byte: wire = %q, want %q", got, tt.want)
			}
			// And through ReadFrom, with reads of one byte and of more.
			for _, r := range []io.Reader{iotest.OneByteReader(strings.NewReader(whole)), iotest.HalfReader(strings.NewReader(whole))} {
				var out bytes.Buffer
				w := NewDotWriter(&out)
				if n, err := w.ReadFrom(r); err != nil || n != int64(len(whole)) {
					t.Fatalf("ReadFrom = %d, %v", n, err)
				}
				if err := w.Close(); err != nil || out.String() != tt.want {
					t.Fatalf("ReadFrom: wire = %q (%v), want %q", out.String(), err, tt.want)
				}
			}
		})
	}
}

// A DotWriter reused through Reset encodes each body afresh and copies
// with its one buffer: no allocation per body.
func TestDotWriterResetReusesBuffer(t *testing.T) {
	var out bytes.Buffer
	var w DotWriter
	body := strings.Repeat("line\r\n.dot\r\n", 5000)
	var r strings.Reader
	// Hide strings.Reader's WriteTo, as an *os.File's falls back to
	// io.Copy: ReadFrom is what copies.
	var src io.Reader = struct{ io.Reader }{&r}
	send := func() {
		out.Reset()
		r.Reset(body)
		w.Reset(&out)
		if _, err := io.Copy(&w, src); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	send()
	want := out.String()
	if allocs := testing.AllocsPerRun(20, send); allocs != 0 {
		t.Errorf("%v allocations per body", allocs)
	}
	if out.String() != want || !strings.HasPrefix(want, "line\r\n..dot\r\n") || !strings.HasSuffix(want, "\r\n.\r\n") {
		t.Errorf("second body differs")
	}
	// A failed body's error does not outlive Reset.
	w.Reset(&failWriter{})
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("no error from a failing writer")
	}
	w.Reset(&out)
	if _, err := w.Write([]byte("x")); err != nil {
		t.Fatalf("after Reset: %v", err)
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("broken pipe")
	}
	f.n--
	return len(p), nil
}

func TestDotWriterErrors(t *testing.T) {
	w := NewDotWriter(&failWriter{n: 1})
	if _, err := w.Write([]byte("a\r\n.b\r\n")); err == nil {
		t.Fatal("Write succeeded on a broken writer")
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("Write after error succeeded")
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close succeeded after error")
	}
	w = NewDotWriter(io.Discard)
	w.Close()
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("Write after Close succeeded")
	}
}

// FuzzDotReader checks that any content survives DotWriter then DotReader
// with bare CR and LF turned into CRLF, that the reader stops exactly at the
// writer's terminator, and that raw input never makes the reader misbehave.
func FuzzDotReader(f *testing.F) {
	for _, s := range []string{
		"", ".", "..", ".\r\n", "a\r\n.\r\nb", "\n.\n", "\n.\r\n", "\r.\r", "\r\n.\n", "\r.\r\n",
		"\r\n.\r", "x\r\r\n", ".\rx", "line1\r\nline2\r\n", "\r\n\r\n.\r\n", "a\r",
	} {
		f.Add([]byte(s), uint16(16), uint16(3), uint16(0), uint16(0))
	}
	f.Add([]byte("abc\r\ndefgh\r\n.\r\n"), uint16(20), uint16(0), uint16(8), uint16(4))
	f.Add([]byte("abcdefgh\r\nx\r\n.\r\n"), uint16(20), uint16(5), uint16(100), uint16(4))
	f.Fuzz(func(t *testing.T, content []byte, bufSize, chunk, maxSize, maxLine uint16) {
		bs, cs := int(bufSize%512)+16, int(chunk%65) // cs 0: WriteTo
		// Round trip.
		var wire bytes.Buffer
		w := NewDotWriter(&wire)
		w.Write(content)
		w.Close()
		wire.WriteString("NEXT")
		want := normalise(content)
		for _, policy := range []BareEOLPolicy{RejectBareEOL, NormalizeBareEOL} {
			got, rest, err := decode(t, wire.String(), DotOptions{Policy: policy}, bs, cs, false)
			if err != nil || got != want || rest != "NEXT" {
				t.Fatalf("round trip of %q: got %q err %v rest %q, want %q", content, got, err, rest, want)
			}
		}
		// Raw input against a byte-at-a-time model of RFC 5321 §4.5.2.
		for _, policy := range []BareEOLPolicy{RejectBareEOL, NormalizeBareEOL} {
			mOut, mBare, mRest, mEnd := model(content, policy)
			got, rest, err := decode(t, string(content), DotOptions{Policy: policy}, bs, cs, false)
			if !mEnd {
				if err != io.ErrUnexpectedEOF {
					t.Fatalf("%q: err %v, want io.ErrUnexpectedEOF", content, err)
				}
				continue
			}
			if rest != mRest {
				t.Fatalf("%q policy %d: rest %q, model %q", content, policy, rest, mRest)
			}
			var be *BareEOLError
			if mBare >= 0 && policy == RejectBareEOL {
				if !errors.As(err, &be) || be.Offset != int64(mBare) {
					t.Fatalf("%q: err %v, model bare at %d", content, err, mBare)
				}
				continue
			}
			if err != nil || got != mOut {
				t.Fatalf("%q policy %d: got %q err %v, model %q", content, policy, got, err, mOut)
			}
		}
		// With limits: any violation is reported, always after consuming
		// up to the real terminator; no violation, no error.
		if maxSize == 0 && maxLine == 0 {
			return
		}
		opts := DotOptions{Policy: NormalizeBareEOL, MaxSize: int64(maxSize), MaxLine: int(maxLine)}
		mOut, _, mRest, mEnd := model(content, NormalizeBareEOL)
		if !mEnd {
			return
		}
		over := opts.MaxSize > 0 && int64(len(mOut)) > opts.MaxSize
		for _, l := range strings.Split(mOut, "\r\n") {
			over = over || (opts.MaxLine > 0 && len(l) > opts.MaxLine)
		}
		got, rest, err := decode(t, string(content), opts, bs, cs, false)
		if rest != mRest {
			t.Fatalf("%q limits %+v: rest %q, model %q", content, opts, rest, mRest)
		}
		var tl *TooLargeError
		var ll *LineTooLongError
		switch {
		case !over && (err != nil || got != mOut):
			t.Fatalf("%q limits %+v: got %q err %v, model %q", content, opts, got, err, mOut)
		case over && !errors.As(err, &tl) && !errors.As(err, &ll):
			t.Fatalf("%q limits %+v: err %v, want a limit error", content, opts, err)
		case over && !strings.HasPrefix(mOut, got):
			t.Fatalf("%q limits %+v: delivered %q, not a prefix of %q", content, opts, got, mOut)
		}
	})
}

// normalise is what a DotWriter+DotReader round trip must give: every bare
// CR or LF as CRLF, and a final CRLF if content did not end with one.
func normalise(content []byte) string {
	var b strings.Builder
	for i := 0; i < len(content); i++ {
		switch c := content[i]; c {
		case '\r':
			b.WriteString("\r\n")
			if i+1 < len(content) && content[i+1] == '\n' {
				i++
			}
		case '\n':
			b.WriteString("\r\n")
		default:
			b.WriteByte(c)
		}
	}
	if s := b.String(); s != "" && !strings.HasSuffix(s, "\r\n") {
		b.WriteString("\r\n")
	}
	return b.String()
}

// model decodes in byte by byte: the output, the offset of the first bare
// CR/LF (-1 if none), the rest after the terminator, and whether the
// terminator was found.
func model(in []byte, policy BareEOLPolicy) (string, int, string, bool) {
	var out strings.Builder
	bare := -1
	lineStart := true
	for i := 0; i < len(in); {
		if lineStart && in[i] == '.' {
			if i+2 >= len(in) {
				return "", bare, "", false
			}
			if in[i+1] == '\r' && in[i+2] == '\n' {
				return out.String(), bare, string(in[i+3:]), true
			}
			i++
		}
		lineStart = false
		switch c := in[i]; {
		case c == '\r' && i+1 >= len(in):
			return "", bare, "", false
		case c == '\r' && in[i+1] == '\n':
			out.WriteString("\r\n")
			i += 2
			lineStart = true
		case c == '\r' || c == '\n':
			if bare < 0 {
				bare = i
			}
			out.WriteString("\r\n")
			i++
		default:
			out.WriteByte(c)
			i++
		}
	}
	return "", bare, "", false
}

// body1MiB is a mail-like 1 MiB body: 76-character lines, some dot-led.
func body1MiB() (content, wire []byte) {
	var c bytes.Buffer
	line := []byte(strings.Repeat("abcdefghij", 7) + "klmnop")
	for i := 0; c.Len() < 1<<20; i++ {
		if i%50 == 0 {
			c.WriteByte('.')
		}
		c.Write(line)
		c.WriteString("\r\n")
	}
	var w bytes.Buffer
	dw := NewDotWriter(&w)
	dw.Write(c.Bytes())
	dw.Close()
	return c.Bytes(), w.Bytes()
}

// BenchmarkDotDecode compares the DotReader with a plain
// bufio.Reader.ReadSlice('\n') loop over the same 1 MiB wire body. Both
// deliver the decoded bytes into a 32 KiB buffer, as a consumer would.
func BenchmarkDotDecode(b *testing.B) {
	_, wire := body1MiB()
	b.Run("DotReader", func(b *testing.B) {
		src := bytes.NewReader(wire)
		br := bufio.NewReader(src)
		buf := make([]byte, 32*1024)
		b.ReportAllocs()
		b.SetBytes(int64(len(wire)))
		for b.Loop() {
			src.Reset(wire)
			br.Reset(src)
			d := NewDotReader(br, DotOptions{})
			for {
				_, err := d.Read(buf)
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("DotReaderWriteTo", func(b *testing.B) {
		src := bytes.NewReader(wire)
		br := bufio.NewReader(src)
		b.ReportAllocs()
		b.SetBytes(int64(len(wire)))
		for b.Loop() {
			src.Reset(wire)
			br.Reset(src)
			if _, err := NewDotReader(br, DotOptions{}).WriteTo(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReadSliceWrite", func(b *testing.B) {
		src := bytes.NewReader(wire)
		br := bufio.NewReader(src)
		b.ReportAllocs()
		b.SetBytes(int64(len(wire)))
		for b.Loop() {
			src.Reset(wire)
			br.Reset(src)
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					b.Fatal(err)
				}
				if len(line) > 0 && line[0] == '.' {
					if len(line) == 3 && line[1] == '\r' {
						break
					}
					line = line[1:]
				}
				io.Discard.Write(line)
			}
		}
	})
	b.Run("ReadSlice", func(b *testing.B) {
		src := bytes.NewReader(wire)
		br := bufio.NewReader(src)
		buf := make([]byte, 32*1024)
		b.ReportAllocs()
		b.SetBytes(int64(len(wire)))
		for b.Loop() {
			src.Reset(wire)
			br.Reset(src)
			n := 0
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					b.Fatal(err)
				}
				if len(line) > 0 && line[0] == '.' {
					if len(line) == 3 && line[1] == '\r' {
						break
					}
					line = line[1:]
				}
				if n+len(line) > len(buf) {
					n = 0
				}
				n += copy(buf[n:], line)
			}
		}
	})
	b.Run("TextprotoDotReader", func(b *testing.B) {
		src := bytes.NewReader(wire)
		br := bufio.NewReader(src)
		buf := make([]byte, 32*1024)
		b.ReportAllocs()
		b.SetBytes(int64(len(wire)))
		for b.Loop() {
			src.Reset(wire)
			br.Reset(src)
			d := textproto.NewReader(br).DotReader()
			for {
				_, err := d.Read(buf)
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("ReadSliceNoCopy", func(b *testing.B) {
		src := bytes.NewReader(wire)
		br := bufio.NewReader(src)
		b.ReportAllocs()
		b.SetBytes(int64(len(wire)))
		for b.Loop() {
			src.Reset(wire)
			br.Reset(src)
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					b.Fatal(err)
				}
				if len(line) == 3 && line[0] == '.' && line[1] == '\r' {
					break
				}
			}
		}
	})
}

func BenchmarkDotWriter(b *testing.B) {
	content, wire := body1MiB()
	out := bytes.NewBuffer(make([]byte, 0, len(wire)))
	b.ReportAllocs()
	b.SetBytes(int64(len(content)))
	for b.Loop() {
		out.Reset()
		w := NewDotWriter(out)
		w.Write(content)
		w.Close()
	}
}

// dotModel is DotWriter byte by byte: RFC 5321 §4.5.2 stuffing, every
// bare CR and LF written as CRLF.
func dotModel(content []byte) string {
	var out []byte
	lineStart, skipLF := true, false
	for _, c := range content {
		if skipLF {
			skipLF = false
			if c == '\n' {
				continue
			}
		}
		if lineStart && c == '.' {
			out = append(out, '.')
		}
		lineStart = false
		switch c {
		case '\r', '\n':
			out = append(out, '\r', '\n')
			lineStart, skipLF = true, c == '\r'
		default:
			out = append(out, c)
		}
	}
	if !lineStart {
		out = append(out, '\r', '\n')
	}
	return string(append(out, ".\r\n"...))
}

// FuzzDotWriter checks DotWriter, written to in pieces of any size,
// against dotModel.
func FuzzDotWriter(f *testing.F) {
	for _, s := range []string{
		"", ".", "a\r\n.b\r\n", "a\nb\r\n", "a\rb\r\n", "a\r", "\r\n.\r\n\r\r\n\n.", "line\r\nline\r\n.x\r\nend",
	} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, content []byte, chunk uint8) {
		want := dotModel(content)
		var out bytes.Buffer
		w := NewDotWriter(&out)
		for p := content; len(p) > 0; {
			n := len(p)
			if chunk > 0 {
				n = min(n, int(chunk))
			}
			if k, err := w.Write(p[:n]); k != n || err != nil {
				t.Fatalf("Write = %d, %v", k, err)
			}
			p = p[n:]
		}
		w.Close()
		if out.String() != want {
			t.Fatalf("%q in pieces of %d: %q, model %q", content, chunk, out.String(), want)
		}
	})
}
