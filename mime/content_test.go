package mime

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestReadContentNested(t *testing.T) {
	raw, err := os.ReadFile("testdata/corpus/nested-rfc822.eml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ReadContent(bytes.NewReader(raw), Limits{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "forwarded message" || len(c.From) != 1 || c.From[0].Addr() != "alice@example.org" {
		t.Fatalf("header view: %q %v", c.Subject, c.From)
	}
	if c.Text != "See the forwarded message." {
		t.Fatalf("Text = %q", c.Text)
	}
	// The first text/html is inside the forwarded message.
	if c.HTML != "<p>Gr&uuml;&szlig;e</p>" {
		t.Fatalf("HTML = %q", c.HTML)
	}
	var got []string
	for _, p := range c.Parts {
		got = append(got, p.Section+" "+p.ContentType+" "+strconv.FormatBool(p.IsAttachment()))
	}
	want := []string{
		" multipart/mixed false",
		"1 text/plain false",
		"2 message/rfc822 false",
		"2 multipart/alternative false", // the enclosed message's parts continue below 2
		"2.1 text/plain true",           // not the first text/plain of the message
		"2.2 text/html false",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("parts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The second text/plain is kept as data, decoded and in UTF-8.
	if d := string(c.Parts[4].Data); d != "Grüße" {
		t.Fatalf("inner text/plain data = %q", d)
	}
}

func TestReadContentSinglePart(t *testing.T) {
	raw := "Subject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
	c, err := ReadContent(strings.NewReader(raw), Limits{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "café" || c.Text != "hello\r\n" || len(c.Parts) != 1 || c.Parts[0].Section != "1" || !c.Parts[0].Body {
		t.Fatalf("%q %q %+v", c.Subject, c.Text, c.Parts)
	}
}

func TestReadContentAttachments(t *testing.T) {
	raw := "Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=notes.txt\r\n\r\nnot the body\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nthe body\r\n" +
		"--b\r\nContent-Type: image/png; name=\"x.png\"\r\nContent-ID: <img1@x>\r\nContent-Disposition: inline\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw==\r\n" +
		"--b--\r\n"
	c, err := ReadContent(strings.NewReader(raw), Limits{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.Text != "the body" {
		t.Fatalf("Text = %q: an attachment disposition must not make the body", c.Text)
	}
	att := c.Parts[1]
	if !att.IsAttachment() || att.Filename != "notes.txt" || string(att.Data) != "not the body" {
		t.Fatalf("attachment: %+v", att)
	}
	img := c.Parts[3]
	if img.Filename != "x.png" || img.ContentID != "img1@x" || img.Disposition != "inline" || !bytes.Equal(img.Data, []byte("\x89PNG")) || img.Size != 4 {
		t.Fatalf("inline image: %+v", img)
	}
}

func TestReadContentBound(t *testing.T) {
	raw := "Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\n\r\n" + strings.Repeat("a", 100) + "\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\n\r\n" + strings.Repeat("b", 100) + "\r\n" +
		"--b--\r\n"
	c, err := ReadContent(strings.NewReader(raw), Limits{}, 150)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Parts[1].Data) != 100 || len(c.Parts[2].Data) != 50 {
		t.Fatalf("kept %d and %d bytes; want 100 and 50", len(c.Parts[1].Data), len(c.Parts[2].Data))
	}
	if len(c.Defects) != 1 || !strings.Contains(c.Defects[0], "part 2 cut") {
		t.Fatalf("defects %q", c.Defects)
	}
}

func TestReadContentDefectsAndLimits(t *testing.T) {
	raw := "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nno end\r\n"
	c, err := ReadContent(strings.NewReader(raw), Limits{}, 0)
	if err != nil || c.Text != "no end\r\n" || len(c.Defects) == 0 {
		t.Fatalf("err %v text %q defects %q: a missing final boundary is a defect, not an error", err, c.Text, c.Defects)
	}
	many := "Content-Type: multipart/mixed; boundary=b\r\n\r\n" + strings.Repeat("--b\r\n\r\nx\r\n", 20) + "--b--\r\n"
	c, err = ReadContent(strings.NewReader(many), Limits{MaxParts: 5}, 0)
	var le *LimitError
	if !errors.As(err, &le) || le.Kind != LimitParts || len(c.Parts) != 5 {
		t.Fatalf("err %v, %d parts; want a parts LimitError after 5", err, len(c.Parts))
	}
	_, err = ReadContent(io.MultiReader(strings.NewReader("Subject: x\r\n\r\n"), errReader{}), Limits{}, 0)
	if !errors.Is(err, errBroken) {
		t.Fatalf("read error: %v", err)
	}
}

var errBroken = errors.New("broken")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBroken }

// checkContentSections asserts that each leaf's section number finds that
// leaf through Index and Part.Lookup, so the two numberings agree.
func checkContentSections(t *testing.T, data []byte, lim Limits) {
	c, err := ReadContent(bytes.NewReader(data), lim, 1<<20)
	if err != nil {
		return
	}
	root, err := Index(bytes.NewReader(data), int64(len(data)), lim)
	if err != nil {
		t.Fatalf("Index failed where ReadContent did not: %v", err)
	}
	var walked []*Part
	root.Walk(func(p *Part) bool { walked = append(walked, p); return true })
	if len(walked) != len(c.Parts) {
		t.Fatalf("%d parts indexed, %d read", len(walked), len(c.Parts))
	}
	for i, cp := range c.Parts {
		if cp.Container {
			continue
		}
		var nums []int
		for _, s := range strings.Split(cp.Section, ".") {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("part %d: bad section %q", i, cp.Section)
			}
			nums = append(nums, n)
		}
		if got := root.Lookup(nums...); got != walked[i] {
			t.Fatalf("part %d (%s, section %s): Lookup finds another part", i, cp.ContentType, cp.Section)
		}
	}
}

func TestReadContentSectionsCorpus(t *testing.T) {
	files, _ := os.ReadDir("testdata/corpus")
	for _, f := range files {
		data, err := os.ReadFile("testdata/corpus/" + f.Name())
		if err != nil {
			t.Fatal(err)
		}
		t.Run(f.Name(), func(t *testing.T) { checkContentSections(t, data, Limits{}) })
	}
}

// FuzzReadContent reads arbitrary messages: no panic, bounded memory, and
// section numbers that agree with Index's tree.
func FuzzReadContent(f *testing.F) {
	fuzzSeeds(f, "testdata/corpus")
	f.Fuzz(func(t *testing.T, data []byte) {
		checkContentSections(t, data, Limits{MaxParts: 500, MaxHeaderBytes: 64 << 10})
	})
}

// A multipart read as a leaf because it lies beyond MaxDepth is presented
// as a non-multipart body (its BODYSTRUCTURE is a leaf), so section 1 of
// its enclosing message addresses it; Lookup used to answer nil.
func TestLookupMultipartLeafBeyondDepth(t *testing.T) {
	raw := "Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: message/rfc822\r\n\r\n" +
		"Content-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\n\r\ninner\r\n--i--\r\n--o--\r\n"
	lim := Limits{MaxDepth: 2} // the enclosed multipart is at depth 2, its parts would be at 3
	root, err := Index(strings.NewReader(raw), int64(len(raw)), lim)
	if err != nil {
		t.Fatal(err)
	}
	leaf := root.Lookup(1, 1)
	if leaf == nil || leaf.IsContainer() || leaf.MediaType != "multipart" {
		t.Fatalf("Lookup(1, 1) = %+v; want the multipart read as a leaf", leaf)
	}
	checkContentSections(t, []byte(raw), lim)
}
