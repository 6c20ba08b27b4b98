package mime_test

import (
	"fmt"
	"io"
	"strings"

	"github.com/posthorn/posthorn/mime"
)

const exampleMessage = "From: Alice <alice@example.org>\r\n" +
	"Subject: photos\r\n" +
	"Content-Type: multipart/mixed; boundary=\"frontier\"\r\n" +
	"\r\n" +
	"--frontier\r\n" +
	"Content-Type: text/plain; charset=iso-8859-1\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Gr=FC=DFe aus K=F6ln\r\n" +
	"--frontier\r\n" +
	"Content-Type: image/png\r\n" +
	"Content-Disposition: attachment; filename=\"dot.png\"\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"iVBORw0KGgo=\r\n" +
	"--frontier--\r\n"

// Walk every part of a message, reading text as UTF-8 and attachments
// decoded.
func ExampleReader() {
	r := mime.NewReader(strings.NewReader(exampleMessage), mime.Limits{})
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		switch {
		case p.IsMultipart():
			fmt.Printf("%d %s\n", p.Depth, p.ContentType())
		case p.MediaType == "text":
			b, _ := io.ReadAll(r.Text())
			fmt.Printf("%d %s %q\n", p.Depth, p.ContentType(), b)
		default:
			n, _ := io.Copy(io.Discard, r.Body())
			fmt.Printf("%d %s %s, %d bytes\n", p.Depth, p.ContentType(), p.Filename(), n)
		}
	}
	// Output:
	// 0 multipart/mixed
	// 1 text/plain "Grüße aus Köln"
	// 1 image/png dot.png, 8 bytes
}

// Broken mail is read anyway; what was wrong is in Defects.
func ExampleReader_defects() {
	msg := "Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8*gd29ybGQ\r\n" // stray "*", no padding, no final boundary
	r := mime.NewReader(strings.NewReader(msg), mime.Limits{})
	var parts []*mime.Part
	for {
		p, err := r.NextPart()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(r.Body())
		if len(b) > 0 {
			fmt.Printf("%q\n", b)
		}
		parts = append(parts, p)
	}
	for _, p := range parts {
		for _, d := range p.Defects {
			fmt.Println(p.ContentType(), d.Kind)
		}
	}
	// Output:
	// "hello world"
	// multipart/mixed missing final boundary
	// text/plain invalid base64 characters
	// text/plain invalid base64 padding
}
