package mime

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testpeer"
)

func exampleBuilder() (*Builder, []byte) {
	png := make([]byte, 3000)
	for i := range png {
		png[i] = byte(i * 7)
	}
	b := &Builder{
		From:    &Address{Name: "Jöran Bäcker", Mailbox: "joran", Host: "bücher.example"},
		To:      []*Address{{Name: "Doe, Jane", Mailbox: "jane", Host: "example.com"}, {Mailbox: "bob", Host: "example.org"}},
		Cc:      []*Address{{Name: "Team", Group: true, Members: []*Address{{Mailbox: "c", Host: "example.net"}}}},
		Bcc:     []*Address{{Mailbox: "hidden", Host: "example.com"}},
		Subject: "Grüße — a long subject line that will need folding because it goes on and on and on past 78",
		Date:    time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC),
		Text:    strings.NewReader("Hello Jane,\n\nthe report is attached. Grüße!\n" + strings.Repeat("long line ", 20) + "\n"),
		HTML:    strings.NewReader("<p>Hello <b>Jane</b>, <img src=\"cid:logo@x\"> Grüße</p>\n"),
		Inline:  []*Attachment{{Filename: "logo.png", ContentID: "logo@x", Body: bytes.NewReader(png)}},
		Attachments: []*Attachment{
			{Filename: "Bericht über 2024 — Übersicht mit sehr langem Namen.pdf", Body: bytes.NewReader(png[:1000])},
			{Filename: "notes.txt", Body: strings.NewReader("plain notes\n")},
		},
	}
	b.Header.Add("X-Mailer", "posthorn test")
	b.Header.Add("X-Note", "Ünïcode extra")
	return b, png
}

// pyParse parses a message with Python's email package and reports what
// it sees, as JSON.
const pyParse = `
import email, email.policy, json, sys, hashlib
msg = email.message_from_binary_file(open(sys.argv[1] if len(sys.argv) > 1 else __import__('os').environ['MSG'], 'rb'), policy=email.policy.default)
out = {"headers": {k: str(msg[k]) for k in ["Subject", "From", "To", "Cc", "Bcc", "X-Note", "Message-ID", "MIME-Version", "Date"] if msg[k] is not None}, "parts": [], "defects": [str(d) for d in msg.defects]}
def walk(p, depth):
    d = {"type": p.get_content_type(), "depth": depth, "filename": p.get_filename(), "cid": p.get("Content-ID"), "defects": [str(x) for x in p.defects]}
    if p.is_multipart():
        out["parts"].append(d)
        for c in p.iter_parts():
            walk(c, depth + 1)
        return
    payload = p.get_payload(decode=True)
    d["sha"] = hashlib.sha256(payload).hexdigest()
    if p.get_content_maintype() == "text":
        d["text"] = p.get_content()
    out["parts"].append(d)
walk(msg, 0)
print(json.dumps(out))
`

type pyPart struct {
	Type     string   `json:"type"`
	Depth    int      `json:"depth"`
	Filename *string  `json:"filename"`
	CID      *string  `json:"cid"`
	SHA      string   `json:"sha"`
	Text     *string  `json:"text"`
	Defects  []string `json:"defects"`
}

type pyResult struct {
	Headers map[string]string `json:"headers"`
	Parts   []pyPart          `json:"parts"`
	Defects []string          `json:"defects"`
}

func TestBuilderPython(t *testing.T) {
	testpeer.Python(t)
	b, _ := exampleBuilder()
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	checkWireForm(t, raw)
	file := filepath.Join(t.TempDir(), "msg.eml")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	var res pyResult
	out := testpeer.RunPython(t, pyParse, "MSG="+file)
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	wantHeaders := map[string]string{
		"Subject":      b.Subject,
		"From":         "Jöran Bäcker <joran@xn--bcher-kva.example>",
		"To":           `"Doe, Jane" <jane@example.com>, bob@example.org`,
		"Cc":           "Team: c@example.net;",
		"X-Note":       "Ünïcode extra",
		"MIME-Version": "1.0",
		"Date":         "Fri, 01 Mar 2024 12:00:00 +0000",
	}
	for k, v := range wantHeaders {
		if res.Headers[k] != v {
			t.Errorf("Python sees %s = %q, want %q", k, res.Headers[k], v)
		}
	}
	if _, ok := res.Headers["Bcc"]; ok {
		t.Error("Bcc written")
	}
	if !strings.HasSuffix(res.Headers["Message-ID"], "@xn--bcher-kva.example>") {
		t.Errorf("Message-ID %q", res.Headers["Message-ID"])
	}
	var shape []string
	for _, p := range res.Parts {
		shape = append(shape, strings.Repeat(" ", p.Depth)+p.Type)
		if len(p.Defects) > 0 {
			t.Errorf("Python defects in %s: %v", p.Type, p.Defects)
		}
	}
	wantShape := []string{"multipart/mixed", " multipart/alternative", "  text/plain", "  multipart/related", "   text/html", "   image/png", " application/pdf", " text/plain"}
	if strings.Join(shape, "\n") != strings.Join(wantShape, "\n") {
		t.Errorf("structure:\n%s\nwant\n%s", strings.Join(shape, "\n"), strings.Join(wantShape, "\n"))
	}
	if len(res.Defects) > 0 {
		t.Errorf("Python defects: %v", res.Defects)
	}
	if len(res.Parts) != len(wantShape) {
		return
	}
	b2, png := exampleBuilder()
	_ = b2
	if txt := res.Parts[2].Text; txt == nil || *txt != "Hello Jane,\n\nthe report is attached. Grüße!\n"+strings.Repeat("long line ", 20)+"\n" {
		t.Errorf("text body %q", deref(txt))
	}
	if txt := res.Parts[4].Text; txt == nil || *txt != "<p>Hello <b>Jane</b>, <img src=\"cid:logo@x\"> Grüße</p>\n" {
		t.Errorf("html body %q", deref(txt))
	}
	if p := res.Parts[5]; deref(p.CID) != "<logo@x>" || deref(p.Filename) != "logo.png" || p.SHA != sha(png) {
		t.Errorf("inline part %+v", p)
	}
	if p := res.Parts[6]; deref(p.Filename) != "Bericht über 2024 — Übersicht mit sehr langem Namen.pdf" || p.SHA != sha(png[:1000]) {
		t.Errorf("attachment %+v (filename %q)", p, deref(p.Filename))
	}
	if p := res.Parts[7]; deref(p.Filename) != "notes.txt" || deref(p.Text) != "plain notes\n" {
		t.Errorf("text attachment %+v", p)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// checkWireForm checks RFC 5322 §2.1.1 and §2.3 on a built message: CRLF
// line ends only, 7-bit, lines within 78 characters.
func checkWireForm(t *testing.T, raw []byte) {
	t.Helper()
	if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) ||
		bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\r")) {
		t.Error("bare CR or LF in output")
	}
	for i, l := range strings.Split(string(raw), "\r\n") {
		if len(l) > 78 {
			t.Errorf("line %d has %d characters: %q", i+1, len(l), l)
		}
		for _, c := range []byte(l) {
			if c >= 0x80 || c == 0 {
				t.Errorf("line %d is not 7-bit: %q", i+1, l)
				break
			}
		}
	}
}

func TestBuilderInjection(t *testing.T) {
	base := func() *Builder {
		return &Builder{From: &Address{Mailbox: "a", Host: "example.com"}, Text: strings.NewReader("x")}
	}
	cases := map[string]func(b *Builder){
		"subject":  func(b *Builder) { b.Subject = "hi\r\nBcc: victim@example.com" },
		"name":     func(b *Builder) { b.To = []*Address{{Name: "x\nBcc: v@x", Mailbox: "a", Host: "b"}} },
		"host":     func(b *Builder) { b.To = []*Address{{Mailbox: "a", Host: "b\r\nX: y"}} },
		"filename": func(b *Builder) { b.Attachments = []*Attachment{{Filename: "a\r\nX: y", Body: strings.NewReader("")}} },
		"ctype": func(b *Builder) {
			b.Attachments = []*Attachment{{ContentType: "text/plain\r\nX: y", Body: strings.NewReader("")}}
		},
		"msgid":     func(b *Builder) { b.MessageID = "a@b>\r\nX: y" },
		"owned":     func(b *Builder) { b.Header.AddRaw([]byte("Content-Type: text/html\r\n")) },
		"no from":   func(b *Builder) { b.From = nil },
		"host list": func(b *Builder) { b.To = []*Address{{Mailbox: "a", Host: "x.test>, victim@example.com"}} },
		"cid": func(b *Builder) {
			b.HTML = strings.NewReader("x")
			b.Inline = []*Attachment{{ContentID: "a>b", Body: strings.NewReader("")}}
		},
		"multipart": func(b *Builder) {
			b.Attachments = []*Attachment{{ContentType: "multipart/mixed", Body: strings.NewReader("")}}
		},
	}
	for name, mod := range cases {
		b := base()
		mod(b)
		raw, err := b.Bytes()
		var be *BuildError
		if !errors.As(err, &be) {
			t.Errorf("%s: err = %v, want *BuildError; output:\n%s", name, err, raw)
		}
	}
	// Header.Add refuses CR/LF itself.
	b := base()
	if err := b.Header.Add("X-A", "a\r\nBcc: x"); err == nil {
		t.Error("Header.Add accepted CRLF")
	}
}

func TestChooseEncoding(t *testing.T) {
	tests := []struct {
		body     string
		complete bool
		text     bool
		want     string
	}{
		{"hello\r\nworld\r\n", true, true, "7bit"},
		{strings.Repeat("x", 79), true, true, "quoted-printable"},
		{"Viele Grüße aus Köln, bis bald", true, true, "quoted-printable"},
		{"日本語のテキスト", true, true, "base64"},
		{"hello", false, true, "quoted-printable"},
		{"a\x00b", true, true, "base64"},
		{"hello", true, false, "base64"},
	}
	for _, tt := range tests {
		if got := chooseEncoding([]byte(tt.body), tt.complete, tt.text); got != tt.want {
			t.Errorf("chooseEncoding(%q, %v, %v) = %s, want %s", tt.body, tt.complete, tt.text, got, tt.want)
		}
	}
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestBuilderPythonSimple checks single-part messages with each transfer
// encoding through Python's email package.
func TestBuilderPythonSimple(t *testing.T) {
	testpeer.Python(t)
	bodies := map[string]string{
		"7bit":             "Short ASCII lines.\nSecond line.\n",
		"quoted-printable": "Grüße aus Köln, " + strings.Repeat("a long line that goes past 78 characters ", 5) + "\n. lone dot\nFrom the start\n",
		"base64":           strings.Repeat("日本語のテキストです。", 30) + "\n",
	}
	for enc, body := range bodies {
		b := &Builder{
			From:    &Address{Name: "山田太郎", Mailbox: "taro", Host: "example.jp"},
			To:      []*Address{{Mailbox: "hanako", Host: "example.jp"}},
			Subject: "日本語の件名がとても長い場合でも正しく折り返されることを確認します。" + enc,
			Text:    strings.NewReader(body),
		}
		raw, err := b.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		checkWireForm(t, raw)
		if !strings.Contains(string(raw), "Content-Transfer-Encoding: "+enc+"\r\n") {
			t.Errorf("%s not chosen:\n%s", enc, raw)
		}
		file := filepath.Join(t.TempDir(), "msg.eml")
		os.WriteFile(file, raw, 0o600)
		var res pyResult
		if err := json.Unmarshal(testpeer.RunPython(t, pyParse, "MSG="+file), &res); err != nil {
			t.Fatal(err)
		}
		if res.Headers["Subject"] != b.Subject || res.Headers["From"] != "山田太郎 <taro@example.jp>" {
			t.Errorf("%s: headers %q", enc, res.Headers)
		}
		// Base64 text is in canonical form, CRLF line ends (RFC 2045
		// §6.8), which Python's get_content() keeps.
		if len(res.Parts) != 1 || strings.ReplaceAll(deref(res.Parts[0].Text), "\r\n", "\n") != body {
			t.Errorf("%s: Python reads %+v", enc, res.Parts)
		}
		if len(res.Defects) > 0 {
			t.Errorf("%s: defects %v", enc, res.Defects)
		}
	}
}

// TestBuilderLineLengths checks that long names, subjects and file names
// still give lines of at most 78 characters (RFC 5322 §2.1.1).
func TestBuilderLineLengths(t *testing.T) {
	long := strings.Repeat("Ünïcödé ", 12)
	b := &Builder{
		From:        &Address{Name: long, Mailbox: "a", Host: "example.com"},
		ReplyTo:     []*Address{{Name: long, Mailbox: "r", Host: "example.com"}},
		To:          []*Address{{Name: long, Mailbox: "b", Host: "example.org"}, {Name: "x", Mailbox: "c", Host: "example.org"}},
		Subject:     long + long,
		Text:        strings.NewReader(strings.Repeat("word ", 400)),
		Attachments: []*Attachment{{Filename: long + ".pdf", Body: strings.NewReader("%PDF")}},
	}
	b.Header.Add("X-Long", long)
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	checkWireForm(t, raw)
}

// The cid of an inline part is known when it is added, before WriteTo reads
// the HTML that references it (issue 15).
func TestBuilderContentIDUpFront(t *testing.T) {
	b := &Builder{From: &Address{Mailbox: "a", Host: "example.org"}}
	img := b.AddInline("a.png", strings.NewReader("png"))
	if img.ContentID == "" || img.URL() != "cid:"+img.ContentID {
		t.Fatalf("no cid up front: %q %q", img.ContentID, img.URL())
	}
	lit := &Attachment{Filename: "b.png", Body: strings.NewReader("png")}
	url := lit.URL()
	b.Inline = append(b.Inline, lit)
	b.HTML = strings.NewReader(`<img src="` + img.URL() + `"><img src="` + url + `">`)
	b.AddAttachment("c.txt", strings.NewReader("c"))
	msg, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{img.ContentID, lit.ContentID} {
		if !strings.Contains(string(msg), "Content-ID: <"+id+">") {
			t.Errorf("Content-ID %s not written:\n%s", id, msg)
		}
	}
	if img.ContentID == lit.ContentID || "cid:"+lit.ContentID != url {
		t.Errorf("cids: %q %q %q", img.ContentID, lit.ContentID, url)
	}
	if len(b.Attachments) != 1 || b.Attachments[0].Filename != "c.txt" {
		t.Errorf("attachments: %v", b.Attachments)
	}
}
