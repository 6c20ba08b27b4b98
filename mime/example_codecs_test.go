package mime_test

import (
	"bufio"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/posthorn/posthorn/mime"
)

// Build a message with a text and an HTML body, an inline image and an
// attachment, ready for SMTP.
func ExampleBuilder() {
	b := &mime.Builder{
		From:    &mime.Address{Name: "Shop", Mailbox: "orders", Host: "shop.example"},
		To:      []*mime.Address{{Name: "Jöran Bäcker", Mailbox: "joran", Host: "example.com"}},
		Subject: "Your receipt — order 1234",
		Text:    strings.NewReader("Thank you for your order.\n"),
	}
	// The inline image's cid is known as soon as it is added.
	logo := b.AddInline("logo.png", strings.NewReader("\x89PNG..."))
	b.HTML = strings.NewReader(`<p>Thank you for your order.</p><img src="` + logo.URL() + `">`)
	b.AddAttachment("Rechnung März.pdf", strings.NewReader("%PDF-1.4 ..."))
	b.Header.Add("List-Unsubscribe", "<mailto:unsubscribe@shop.example>")
	msg, err := b.Bytes()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(b.Recipients())
	fmt.Println(strings.Contains(string(msg), "filename*=utf-8''Rechnung%20M%C3%A4rz.pdf"))
	fmt.Println(strings.Contains(string(msg), "Content-ID: <"+logo.ContentID+">"))
	// Output:
	// [joran@example.com]
	// true
	// true
}

// Read a header, change one field and write it back: the other fields keep
// their exact bytes.
func ExampleReadHeader() {
	in := "Received: from a.example\r\n\tby b.example; Mon, 4 Mar 2024 10:12:12 +0100\r\n" +
		"subject: =?ISO-8859-1?Q?Andr=E9?= says hi\r\n\r\nbody"
	br := bufio.NewReader(strings.NewReader(in))
	h, err := mime.ReadHeader(br, mime.Limits{})
	if err != nil {
		log.Fatal(err)
	}
	subject, _ := mime.DecodeWords(h.Get("Subject"))
	fmt.Println(subject)
	fmt.Println(h.Get("received"))
	h.Set("X-Seen", "yes")
	var out strings.Builder
	h.WriteTo(&out)
	fmt.Print(strings.ReplaceAll(out.String(), "\r\n", "\n"))
	// Output:
	// André says hi
	// from a.example	by b.example; Mon, 4 Mar 2024 10:12:12 +0100
	// Received: from a.example
	// 	by b.example; Mon, 4 Mar 2024 10:12:12 +0100
	// subject: =?ISO-8859-1?Q?Andr=E9?= says hi
	// X-Seen: yes
}

func ExampleDecodeWords() {
	s, err := mime.DecodeWords("=?UTF-8?B?4oK=?= =?UTF-8?B?rA==?= 100, =?koi8-r?B?8NLJ18XU?=")
	fmt.Println(s, err)
	// Output: € 100, Привет <nil>
}

func ExampleEncodeWords() {
	fmt.Println(mime.EncodeWords("Grüße aus Köln"))
	fmt.Println(mime.EncodeWords("plain ASCII stays"))
	// Output:
	// =?utf-8?b?R3LDvMOfZSBhdXMgS8O2bG4=?=
	// plain ASCII stays
}

func ExampleParseAddressList() {
	list, err := mime.ParseAddressList(`"Joe Q. Public" <john.q.public@example.com>, =?utf-8?q?J=C3=B6rg?= <j@example.org>, Team: a@x.test, b@x.test;`)
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range list {
		if a.Group {
			fmt.Printf("group %q with %d members\n", a.Name, len(a.Members))
			continue
		}
		fmt.Printf("%q %s@%s\n", a.Name, a.Mailbox, a.Host)
	}
	// Output:
	// "Joe Q. Public" john.q.public@example.com
	// "Jörg" j@example.org
	// group "Team" with 2 members
}

func ExampleAddress_String() {
	a := &mime.Address{Name: "Doe, Jane", Mailbox: "jane", Host: "bücher.example"}
	fmt.Println(a)
	// Output: "Doe, Jane" <jane@xn--bcher-kva.example>
}

func ExampleParseMediaType() {
	typ, params, err := mime.ParseMediaType(`attachment; filename*0*=utf-8''R%C3%A9sum%C3%A9; filename*1=".pdf"`)
	fmt.Println(typ, params["filename"], err)
	// Output: attachment Résumé.pdf <nil>
}

func ExampleFormatMediaType() {
	fmt.Println(mime.FormatMediaType("attachment", map[string]string{"filename": "Résumé.pdf"}))
	fmt.Println(mime.FormatMediaType("text/plain", map[string]string{"charset": "utf-8", "format": "flowed"}))
	// Output:
	// attachment; filename*=utf-8''R%C3%A9sum%C3%A9.pdf
	// text/plain; charset=utf-8; format=flowed
}

func ExampleParseDate() {
	for _, s := range []string{"Fri, 21 Nov 1997 09:55:06 -0600", "21 Nov 97 09:55:06 GMT", "Mon Jan  2 15:04:05 2006"} {
		t, err := mime.ParseDate(s)
		fmt.Println(t.Format(time.RFC3339), err)
	}
	// Output:
	// 1997-11-21T09:55:06-06:00 <nil>
	// 1997-11-21T09:55:06Z <nil>
	// 2006-01-02T15:04:05Z <nil>
}

// Write a multipart/alternative body by hand.
func ExampleMultipartWriter() {
	var sb strings.Builder
	mw := mime.NewMultipartWriter(&sb)
	mw.SetBoundary("b1")
	var h mime.Header
	h.Add("Content-Type", mw.ContentType("alternative", nil))
	h.WriteTo(&sb)
	for _, p := range []struct{ typ, body string }{{"text/plain", "hi"}, {"text/html", "<p>hi</p>"}} {
		var ph mime.Header
		ph.Add("Content-Type", p.typ+"; charset=utf-8")
		w, _ := mw.CreatePart(&ph)
		fmt.Fprint(w, p.body)
	}
	mw.Close()
	fmt.Print(strings.ReplaceAll(sb.String(), "\r\n", "\n"))
	// Output:
	// Content-Type: multipart/alternative; boundary=b1
	//
	// --b1
	// Content-Type: text/plain; charset=utf-8
	//
	// hi
	// --b1
	// Content-Type: text/html; charset=utf-8
	//
	// <p>hi</p>
	// --b1--
}

func ExampleCharsetDecoder() {
	dec, err := mime.CharsetDecoder("ks_c_5601-1987")
	if err != nil {
		log.Fatal(err)
	}
	s, _ := dec.String("\xc7\xd1\xb1\xdb")
	fmt.Println(s)
	// Output: 한글
}

// A mail server adds its trace field on top of a received header without
// touching the rest, so DKIM signatures over it stay valid.
func ExampleHeader_Prepend() {
	in := "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel;\r\n\tbh=...; b=...\r\nSubject: hi\r\n\r\n"
	h, err := mime.ReadHeader(bufio.NewReader(strings.NewReader(in)), mime.Limits{})
	if err != nil {
		log.Fatal(err)
	}
	date := mime.FormatDate(time.Date(2024, 3, 4, 10, 12, 13, 0, time.UTC))
	h.Prepend("Received", "from client.example (client.example [192.0.2.1]) by mx.example.org with ESMTPS; "+date)
	var out strings.Builder
	h.WriteTo(&out)
	fmt.Print(strings.ReplaceAll(out.String(), "\r\n", "\n"))
	// Output:
	// Received: from client.example (client.example [192.0.2.1]) by mx.example.org
	//  with ESMTPS; Mon, 04 Mar 2024 10:12:13 +0000
	// DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel;
	// 	bh=...; b=...
	// Subject: hi
}
