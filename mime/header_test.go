package mime

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func readHeaderString(t *testing.T, s string, lim Limits) (Header, error) {
	t.Helper()
	return ReadHeader(bufio.NewReader(strings.NewReader(s)), lim)
}

func TestHeaderRoundTrip(t *testing.T) {
	inputs := []string{
		"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\n",
		"Subject: folded\r\n  over\r\n\tlines\r\nX-Empty:\r\n\r\n",
		"subject : obs\nfrom: lf-only\n\n",
		" continuation first\r\nSubject: x\r\n\r\n",
		"From sender@example.com Thu Nov 26 04:40:29 2026\nSubject: mbox\n\n",
		"Subject: x\r\nno colon here\r\nTo: y\r\n\r\n",
		"Subject: crcrlf\r\r\nTo: y\r\r\n\r\r\n",
		"Subject: no blank line at end\r\n",
		"Subject: no final newline",
		"DKIM-Signature: v=1; a=rsa-sha256; d=example.com;\r\n\ts=sel; b=abc\r\n  def\r\n\r\n",
	}
	for _, in := range inputs {
		h, err := readHeaderString(t, in, Limits{})
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		var b bytes.Buffer
		if _, err := h.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		if b.String() != in {
			t.Errorf("round trip:\n got %q\nwant %q", b.String(), in)
		}
		if h.RawSize() != int64(len(in)) {
			t.Errorf("%q: RawSize %d, want %d", in, h.RawSize(), len(in))
		}
	}
}

func TestHeaderGet(t *testing.T) {
	h, err := readHeaderString(t, "Subject: folded\r\n  over\r\n\tlines \r\nsubject : second\r\nReceived: a\r\nRECEIVED: b\r\n\r\nbody", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Get("SUBJECT"); got != "folded  over\tlines" {
		t.Errorf("Get = %q", got)
	}
	if got := h.Values("received"); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("Values = %q", got)
	}
	if f := h.Fields(); len(f) != 4 || f[1].Key != "subject" || f[3].Key != "RECEIVED" {
		t.Errorf("Fields = %+v", f)
	}
}

func TestHeaderSoftErrors(t *testing.T) {
	h, err := readHeaderString(t, " first\r\nSubject: x\r\nbroken line\r\nBad Name: y\r\n\r\n", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	errs := h.Errors()
	if len(errs) != 3 {
		t.Fatalf("Errors = %v", errs)
	}
	var mf *MalformedFieldError
	if !errors.As(errs[1], &mf) || mf.Line != 3 || mf.Text != "broken line" {
		t.Errorf("err = %#v", errs[1])
	}
	if h.Get("Bad Name") != "" || h.Get("Subject") != "x" {
		t.Error("lookup of malformed field")
	}
}

func TestHeaderEdit(t *testing.T) {
	in := "Received: one\r\nSubject: old\r\nX-A: 1\r\nsubject: dup\r\n\r\n"
	h, _ := readHeaderString(t, in, Limits{})
	if err := h.Set("Subject", "new"); err != nil {
		t.Fatal(err)
	}
	if err := h.Add("X-B", "2"); err != nil {
		t.Fatal(err)
	}
	h.Del("x-a")
	var b bytes.Buffer
	h.WriteTo(&b)
	want := "Received: one\r\nSubject: new\r\nX-B: 2\r\n\r\n"
	if b.String() != want {
		t.Errorf("got %q want %q", b.String(), want)
	}
	for _, v := range []string{"a\r\nBcc: evil", "a\nb", "a\rb", "a\x00"} {
		var fe *FieldError
		if err := h.Add("X-Inject", v); !errors.As(err, &fe) {
			t.Errorf("Add(%q) = %v, want *FieldError", v, err)
		}
	}
	for _, k := range []string{"", "A B", "A:B", "Ä"} {
		if err := h.Set(k, "v"); err == nil {
			t.Errorf("Set key %q accepted", k)
		}
	}
}

func TestHeaderFold(t *testing.T) {
	var h Header
	long := strings.Repeat("word ", 40)
	if err := h.Add("Subject", long); err != nil {
		t.Fatal(err)
	}
	raw := string(h.Fields()[0].Raw)
	for _, l := range strings.Split(strings.TrimSuffix(raw, "\r\n"), "\r\n") {
		if len(l) > 78 {
			t.Errorf("line of %d: %q", len(l), l)
		}
	}
	if got := h.Get("subject"); got != strings.TrimSpace(long) {
		t.Errorf("unfolded %q", got)
	}
	if err := h.Add("X-Long", strings.Repeat("x", 1000)); err == nil {
		t.Error("unfoldable 1000-char line accepted")
	}
}

func TestHeaderLimits(t *testing.T) {
	in := "A: 1\r\nB: 2\r\nC: 3\r\n\r\nbody"
	br := bufio.NewReader(strings.NewReader(in))
	h, err := ReadHeader(br, Limits{MaxHeaderFields: 2})
	var le *LimitError
	if !errors.As(err, &le) || le.Kind != LimitHeaderFields {
		t.Fatalf("err = %v", err)
	}
	if h.Len() != 2 {
		t.Errorf("kept %d fields", h.Len())
	}
	rest, _ := io.ReadAll(br)
	if string(rest) != "body" {
		t.Errorf("not in step: rest %q", rest)
	}
	br = bufio.NewReaderSize(strings.NewReader("A: "+strings.Repeat("x", 10000)+"\r\nB: 2\r\n\r\nbody"), 16)
	_, err = ReadHeader(br, Limits{MaxHeaderBytes: 100})
	if !errors.As(err, &le) || le.Kind != LimitHeaderBytes {
		t.Fatalf("err = %v", err)
	}
	rest, _ = io.ReadAll(br)
	if string(rest) != "body" {
		t.Errorf("not in step: rest %q", rest)
	}
	if _, err := readHeaderString(t, "", Limits{}); err != io.EOF {
		t.Errorf("empty input: %v", err)
	}
}

func TestReadHeaderStop(t *testing.T) {
	in := "Content-Type: text/plain\r\nHello body\r\nmore\r\n"
	br := bufio.NewReader(strings.NewReader(in))
	h, n, err := readHeader(br, Limits{}, true)
	if err != nil || h.Len() != 1 || n != 26 || len(h.end) != 0 {
		t.Fatalf("h=%v n=%d err=%v", h.Fields(), n, err)
	}
	rest, _ := io.ReadAll(br)
	if string(rest) != "Hello body\r\nmore\r\n" {
		t.Errorf("rest %q", rest)
	}
	// mbox From line is kept even in stop mode.
	br = bufio.NewReader(strings.NewReader("From x Thu\nA: b\n\nbody"))
	h, _, _ = readHeader(br, Limits{}, true)
	if h.Len() != 2 || h.Get("a") != "b" {
		t.Errorf("mbox: %v", h.Fields())
	}
}

func TestHeaderPrepend(t *testing.T) {
	h, _ := readHeaderString(t, "Subject: x\r\n\r\n", Limits{})
	if err := h.Prepend("Received", "from a by b; Mon, 4 Mar 2024 10:12:12 +0100"); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	h.WriteTo(&b)
	if want := "Received: from a by b; Mon, 4 Mar 2024 10:12:12 +0100\r\nSubject: x\r\n\r\n"; b.String() != want {
		t.Errorf("got %q", b.String())
	}
	if err := h.Prepend("X", "a\nb"); err == nil {
		t.Error("Prepend accepted LF")
	}
}

func TestParseHeader(t *testing.T) {
	h, body, err := ParseHeader([]byte("Subject: hi\r\nFrom: a@example.org\r\n\r\nbody\r\n"))
	if err != nil || h.Get("Subject") != "hi" || string(body) != "body\r\n" {
		t.Fatalf("got %q %q %v", h.Get("Subject"), body, err)
	}
	h, body, err = ParseHeader([]byte("Subject: only\n"))
	if err != nil || h.Get("Subject") != "only" || len(body) != 0 {
		t.Fatalf("header block: got %q %q %v", h.Get("Subject"), body, err)
	}
	if _, body, err = ParseHeader(nil); err != nil || len(body) != 0 {
		t.Fatalf("empty: %q %v", body, err)
	}
	var lerr *LimitError
	if _, _, err = ParseHeader([]byte(strings.Repeat("X-A: b\r\n", DefaultMaxHeaderFields+1) + "\r\n")); !errors.As(err, &lerr) {
		t.Fatalf("over the default field limit: %v", err)
	}
}
