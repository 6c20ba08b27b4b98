package mime

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// walkDump walks data with a Reader of the given buffer size (0: the
// default) and describes every part: offsets, type, raw and decoded body.
func walkDump(t testing.TB, data []byte, lim Limits, size int, oneByte bool) []string {
	t.Helper()
	var src io.Reader = bytes.NewReader(data)
	if oneByte {
		src = iotest.OneByteReader(src)
	}
	var r *Reader
	if size == 0 {
		r = NewReader(src, lim)
	} else {
		r = newReaderSize(src, lim, size)
	}
	var parts []*Part
	var bodies []string
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			bodies = append(bodies, "error: "+err.Error())
			break
		}
		raw, err := io.ReadAll(r.Raw())
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
		bodies = append(bodies, fmt.Sprintf("%q", raw))
	}
	var out []string
	for i, p := range parts {
		out = append(out, fmt.Sprintf("%d %s %d/%d/%d %v %s", p.Depth, p.ContentType(), p.HeaderOffset, p.BodyOffset, p.EndOffset, p.Defects, bodies[i]))
	}
	if len(bodies) > len(parts) {
		out = append(out, bodies[len(parts)])
	}
	return out
}

// Delimiters, line breaks and header lines split across buffer refills
// must not change anything.
func TestReaderBufferSizes(t *testing.T) {
	files, _ := filepath.Glob("testdata/corpus/*.eml")
	files = append(files, "testdata/dsn/postfix-bounce.eml")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Join(walkDump(t, data, Limits{}, 0, false), "\n")
		for _, size := range []int{128, 129, 150, 199, 256, 1000} {
			for _, one := range []bool{false, true} {
				got := strings.Join(walkDump(t, data, Limits{}, size, one), "\n")
				if got != want {
					t.Errorf("%s with a %d-byte buffer (one byte reads %v):\n%s\nwant\n%s", f, size, one, got, want)
				}
			}
		}
	}
}

// A read boundary must never change what is parsed. Before a fix, the
// scanner kept a view of the read buffer across a refill that found no more
// bytes but slid the buffered ones to the front, and handed out "0\n\n" for
// a part whose raw bytes are "0\r\n".
func TestReaderReadBoundaries(t *testing.T) {
	for _, in := range []string{
		"Content-Type: multipart/mixed; boundary=d\n--d\n0\r\n",
		"Content-Type: multipart/mixed; boundary=d\n\n--d\n\nab\r\r\n",
		"Content-Type: multipart/mixed; boundary=d\r\n\r\n--d\r\n\r\nx\r\n--d\r\n\r\ny\r\n-",
	} {
		want := walkDumpSplit(t, []byte(in), len(in))
		for split := 0; split < len(in); split++ {
			if got := walkDumpSplit(t, []byte(in), split); !slices.Equal(got, want) {
				t.Errorf("%q split at %d:\n%s\nwant\n%s", in, split, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
		if want, got := walkDump(t, []byte(in), Limits{}, 0, false), walkDump(t, []byte(in), Limits{}, 0, true); !slices.Equal(got, want) {
			t.Errorf("%q one byte at a time:\n%s\nwant\n%s", in, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// walkDumpSplit is walkDump over a source that returns data in two reads,
// the first ending at split.
func walkDumpSplit(t testing.TB, data []byte, split int) []string {
	t.Helper()
	mr := NewReader(io.MultiReader(bytes.NewReader(data[:split]), bytes.NewReader(data[split:])), Limits{})
	var out []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			return append(out, "error: "+err.Error())
		}
		raw, err := io.ReadAll(mr.Raw())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d %s %d/%d %q", p.Depth, p.ContentType(), p.HeaderOffset, p.BodyOffset, raw))
	}
}

const sectionMsg = "From: a@example.org\r\n" +
	"Subject: sections\r\n" +
	"Content-Type: multipart/mixed; boundary=\"X\"\r\n" +
	"\r\n" +
	"preamble\r\n" +
	"--X\r\n" +
	"Content-Type: text/plain\r\n" +
	"\r\n" +
	"part one\r\n" +
	"two lines\r\n" +
	"--X\r\n" +
	"Content-Type: message/rfc822\r\n" +
	"\r\n" +
	"Subject: inner\r\n" +
	"Content-Type: multipart/alternative; boundary=\"Y\"\r\n" +
	"\r\n" +
	"--Y\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"Content-ID: <c1@example.org>\r\n" +
	"Content-Description: the text\r\n" +
	"Content-Language: de, en\r\n" +
	"Content-Location: http://example.org/t\r\n" +
	"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n" +
	"Content-Disposition: inline; filename=\"t.txt\"\r\n" +
	"\r\n" +
	"aGVsbG8=\r\n" +
	"--Y\r\n" +
	"Content-Type: text/html\r\n" +
	"\r\n" +
	"<p>hi</p>\r\n" +
	"--Y--\r\n" +
	"--X\r\n" +
	"Content-Type: message/rfc822\r\n" +
	"\r\n" +
	"Subject: single\r\n" +
	"\r\n" +
	"just text\r\n" +
	"--X--\r\n" +
	"epilogue\r\n"

// TestIndexSections checks IMAP section numbering (RFC 9051 §6.4.5) and
// the BODYSTRUCTURE fields (§7.5.2) on a message with enclosed messages.
func TestIndexSections(t *testing.T) {
	data := []byte(sectionMsg)
	root, err := Index(bytes.NewReader(data), int64(len(data)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	body := func(p *Part) string { return string(data[p.BodyOffset:p.EndOffset]) }
	mimeHdr := func(p *Part) string { return string(data[p.HeaderOffset:p.BodyOffset]) }
	for _, c := range []struct {
		section []int
		typ     string
		body    string
		lines   int64
	}{
		{nil, "multipart/mixed", sectionMsg[strings.Index(sectionMsg, "preamble"):], 0},
		{[]int{1}, "text/plain", "part one\r\ntwo lines", 2},
		{[]int{2}, "message/rfc822", sectionMsg[strings.Index(sectionMsg, "Subject: inner"):strings.Index(sectionMsg, "\r\n--X\r\nContent-Type: message/rfc822\r\n\r\nSubject: single")], 19},
		{[]int{2, 1}, "text/plain", "aGVsbG8=", 1},
		{[]int{2, 2}, "text/html", "<p>hi</p>", 1},
		{[]int{3}, "message/rfc822", "Subject: single\r\n\r\njust text", 3},
		{[]int{3, 1}, "text/plain", "just text", 1}, // a non-multipart message: section 1 is its body
	} {
		p := root.Lookup(c.section...)
		if p == nil {
			t.Errorf("section %v not found", c.section)
			continue
		}
		if p.ContentType() != c.typ || body(p) != c.body || (c.lines > 0 && p.BodyLines != c.lines) {
			t.Errorf("section %v: %s %q lines %d; want %s %q lines %d", c.section, p.ContentType(), body(p), p.BodyLines, c.typ, c.body, c.lines)
		}
	}
	for _, s := range [][]int{{0}, {4}, {1, 1}, {2, 3}, {3, 2}, {3, 1, 1}} {
		if p := root.Lookup(s...); p != nil {
			t.Errorf("section %v found: %s", s, p.ContentType())
		}
	}
	// BODY[2.1.MIME] and the fields BODYSTRUCTURE needs.
	p := root.Lookup(2, 1)
	if !strings.HasPrefix(mimeHdr(p), "Content-Type: text/plain; charset=utf-8\r\n") || !strings.HasSuffix(mimeHdr(p), "\r\n\r\n") {
		t.Errorf("MIME header %q", mimeHdr(p))
	}
	if p.Params["charset"] != "utf-8" || p.ID != "<c1@example.org>" || p.Description != "the text" || p.Encoding != "base64" ||
		p.Disposition != "inline" || p.DispositionParams["filename"] != "t.txt" || strings.Join(p.Language, ",") != "de,en" ||
		p.Location != "http://example.org/t" || p.MD5 != "Q2hlY2sgSW50ZWdyaXR5IQ==" || p.Size() != 8 || p.Filename() != "t.txt" {
		t.Errorf("fields: %+v", p)
	}
	// The enclosed message's header: BODY[2.HEADER].
	m := root.Lookup(2).Message
	if got := string(data[m.HeaderOffset:m.BodyOffset]); !strings.HasPrefix(got, "Subject: inner\r\n") || strings.TrimSpace(m.Header.Get("Subject")) != "inner" {
		t.Errorf("enclosed header %q", got)
	}
	checkIndex(t, data, Limits{})
}

// A non-multipart message: section 1 is the body (RFC 9051 §6.4.5).
func TestIndexSinglePart(t *testing.T) {
	data := []byte("Subject: x\r\n\r\nline 1\r\nline 2\r\n")
	root, err := Index(bytes.NewReader(data), int64(len(data)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if p := root.Lookup(1); p != root || root.BodyOffset != 14 || root.EndOffset != int64(len(data)) || root.BodyLines != 2 {
		t.Errorf("root %+v", root)
	}
	if root.Lookup(2) != nil {
		t.Error("section 2 found")
	}
}

func TestIndexEmpty(t *testing.T) {
	root, err := Index(bytes.NewReader(nil), 0, Limits{})
	if err != nil || root == nil || root.EndOffset != 0 || root.ContentType() != "text/plain" {
		t.Fatalf("%+v %v", root, err)
	}
}

// The Reader's memory is bounded by its buffers, not by the message: a
// 2 MB base64 attachment, a quoted-printable part and a latin-1 text part
// are read and decoded within 48 KiB, the read buffer, one decoder scratch
// buffer and the latin-1 converter's (about 150 KiB before issue 20).
func TestReaderBytesAllocated(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n")
	sb.WriteString("Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	for i := 0; i < 2000; i++ {
		sb.WriteString("Gr=FC=DFe aus M=FCnchen, eine Zeile quoted-printable Text.\r\n")
	}
	sb.WriteString("--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	line := strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3", 2)[:76] + "\r\n"
	for sb.Len() < 2<<20 {
		sb.WriteString(line)
	}
	sb.WriteString("--b--\r\n")
	data := sb.String()
	parse := func() {
		r := NewReader(strings.NewReader(data), Limits{})
		for {
			if _, err := r.NextPart(); err != nil {
				break
			}
			if _, err := io.Copy(io.Discard, r.Text()); err != nil {
				t.Fatal(err)
			}
		}
	}
	parse()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	parse()
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 48<<10 {
		t.Errorf("reading a %d-byte message allocated %d bytes, want at most 48 KiB", len(data), n)
	}
}
