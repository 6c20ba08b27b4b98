package mime

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestBuilderRoundTrip builds a message and reads it back with Reader and
// Index: same structure, headers, file names and decoded bodies, and no
// defects.
func TestBuilderRoundTrip(t *testing.T) {
	b, png := exampleBuilder()
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := exampleBuilder()
	wantText, _ := io.ReadAll(b2.Text)
	wantHTML, _ := io.ReadAll(b2.HTML)
	type leaf struct {
		typ, filename, id string
		body              []byte
	}
	want := []leaf{
		{"multipart/mixed", "", "", nil},
		{"multipart/alternative", "", "", nil},
		{"text/plain", "", "", crlfText(wantText)},
		{"multipart/related", "", "", nil},
		{"text/html", "", "", crlfText(wantHTML)},
		{"image/png", "logo.png", "<logo@x>", png},
		{"application/pdf", "Bericht über 2024 — Übersicht mit sehr langem Namen.pdf", "", png[:1000]},
		{"text/plain", "notes.txt", "", []byte("plain notes\r\n")},
	}
	r := NewReader(bytes.NewReader(raw), Limits{})
	for i := 0; ; i++ {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			if i != len(want) {
				t.Errorf("%d parts, want %d", i, len(want))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i >= len(want) {
			t.Fatalf("extra part %s/%s", p.MediaType, p.SubType)
		}
		w := want[i]
		if got := p.MediaType + "/" + p.SubType; got != w.typ {
			t.Errorf("part %d: %s, want %s", i, got, w.typ)
		}
		if i == 0 {
			subj, _ := DecodeWords(p.Header.Get("Subject"))
			if subj != b.Subject {
				t.Errorf("Subject %q", subj)
			}
			from, err := ParseAddress(p.Header.Get("From"))
			if err != nil || from.Name != "Jöran Bäcker" || from.Host != "xn--bcher-kva.example" {
				t.Errorf("From %+v %v", from, err)
			}
			to, err := ParseAddressList(p.Header.Get("To"))
			if err != nil || len(to) != 2 || to[0].Name != "Doe, Jane" {
				t.Errorf("To %v %v", to, err)
			}
			if _, err := ParseDate(p.Header.Get("Date")); err != nil {
				t.Error(err)
			}
		}
		if p.Filename() != w.filename || p.ID != w.id {
			t.Errorf("part %d: filename %q id %q, want %q %q", i, p.Filename(), p.ID, w.filename, w.id)
		}
		if w.body != nil {
			body, err := io.ReadAll(r.Body())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(body, w.body) {
				t.Errorf("part %d body:\n got %q\nwant %q", i, trunc(body), trunc(w.body))
			}
		}
		if len(p.Defects) > 0 {
			t.Errorf("part %d defects: %v", i, p.Defects)
		}
	}
	root, err := Index(bytes.NewReader(raw), int64(len(raw)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(root.Children) != 3 || len(root.Children[0].Children) != 2 || len(root.Children[0].Children[1].Children) != 2 {
		t.Errorf("Index structure wrong")
	}
}

func crlfText(b []byte) []byte {
	return []byte(strings.ReplaceAll(string(b), "\n", "\r\n"))
}

func trunc(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}

// TestBuilderShapes checks the structure chosen for each combination of
// bodies, inline parts and attachments.
func TestBuilderShapes(t *testing.T) {
	att := func() []*Attachment { return []*Attachment{{Filename: "a.bin", Body: strings.NewReader("\x00\x01")}} }
	tests := []struct {
		name  string
		mod   func(b *Builder)
		shape string
	}{
		{"empty", func(b *Builder) {}, "text/plain"},
		{"text", func(b *Builder) { b.Text = strings.NewReader("hi\n") }, "text/plain"},
		{"html", func(b *Builder) { b.HTML = strings.NewReader("<p>hi</p>") }, "text/html"},
		{"alternative", func(b *Builder) { b.Text = strings.NewReader("hi"); b.HTML = strings.NewReader("<p>hi</p>") },
			"multipart/alternative text/plain text/html"},
		{"attachment only", func(b *Builder) { b.Attachments = att() }, "multipart/mixed application/octet-stream"},
		{"text+attachment", func(b *Builder) { b.Text = strings.NewReader("hi"); b.Attachments = att() },
			"multipart/mixed text/plain application/octet-stream"},
		{"html+inline", func(b *Builder) {
			b.HTML = strings.NewReader("<img src=cid:x>")
			b.Inline = []*Attachment{{Filename: "x.gif", Body: strings.NewReader("GIF89a")}}
		}, "multipart/related text/html image/gif"},
	}
	for _, tt := range tests {
		b := &Builder{From: &Address{Mailbox: "a", Host: "example.com"}, To: []*Address{{Mailbox: "b", Host: "example.org"}}}
		tt.mod(b)
		raw, err := b.Bytes()
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var shape []string
		r := NewReader(bytes.NewReader(raw), Limits{})
		for {
			p, err := r.NextPart()
			if err != nil {
				break
			}
			shape = append(shape, p.MediaType+"/"+p.SubType)
			if len(p.Defects) > 0 {
				t.Errorf("%s: defects %v", tt.name, p.Defects)
			}
		}
		if got := strings.Join(shape, " "); got != tt.shape {
			t.Errorf("%s: %s, want %s\n%s", tt.name, got, tt.shape, raw)
		}
	}
}

// TestBuilderConcurrent builds messages from several goroutines: the
// package holds no mutable state (run with -race).
func TestBuilderConcurrent(t *testing.T) {
	done := make(chan error)
	for range 8 {
		go func() {
			b, _ := exampleBuilder()
			_, err := b.Bytes()
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
