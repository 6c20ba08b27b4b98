package mime

import (
	"bufio"
	"bytes"
	"io"
	stdmime "mime"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"
)

// benchHeader is a typical received message header (~2.5 KB).
var benchHeader = "Return-Path: <sender@example.com>\r\n" +
	"Delivered-To: user@example.org\r\n" +
	"Received: from mail.example.com (mail.example.com [192.0.2.10])\r\n\tby mx.example.org (Postfix) with ESMTPS id 4F3A21C0123\r\n\tfor <user@example.org>; Mon, 4 Mar 2024 10:12:13 +0100 (CET)\r\n" +
	"Received: from [10.0.0.5] (unknown [198.51.100.7])\r\n\tby mail.example.com (Postfix) with ESMTPSA id 9B1C2D3E4F\r\n\tfor <user@example.org>; Mon, 4 Mar 2024 10:12:12 +0100 (CET)\r\n" +
	"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com;\r\n\ts=mail; t=1709543532; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n\th=From:To:Subject:Date:From;\r\n\tb=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZSBidXQgaXQgaXMgbG9uZyBlbm91Z2gg\r\n\t dG8gbG9vayBsaWtlIG9uZSBpbiBhIGJlbmNobWFyayBvZiBoZWFkZXIgcGFyc2luZw==\r\n" +
	"Authentication-Results: mx.example.org; dkim=pass header.d=example.com; spf=pass smtp.mailfrom=example.com\r\n" +
	"Message-ID: <20240304091212.12345@mail.example.com>\r\n" +
	"Date: Mon, 4 Mar 2024 10:12:12 +0100\r\n" +
	"From: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.com>\r\n" +
	"To: Jane Doe <jane@example.org>, \"Smith, Bob\" <bob@example.org>, team@example.org\r\n" +
	"Cc: =?ISO-8859-1?Q?Andr=E9?= Pirard <andre@example.net>\r\n" +
	"Subject: =?UTF-8?B?UXVhcnRhbHNiZXJpY2h0IMO8YmVyIGRpZSBFbnR3aWNrbHVuZw==?=\r\n =?UTF-8?B?IGRlciBWZXJrw6R1ZmU=?=\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"------------8A3F2C1B0E9D7A6F5E4D3C2B\"\r\n" +
	"X-Mailer: Example Mail 1.2\r\n" +
	"List-Unsubscribe: <mailto:unsub@example.com>, <https://example.com/unsub?id=123>\r\n" +
	"\r\n"

func BenchmarkReadHeader(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchHeader)))
	r := strings.NewReader(benchHeader)
	br := bufio.NewReader(r)
	for b.Loop() {
		r.Reset(benchHeader)
		br.Reset(r)
		h, err := ReadHeader(br, Limits{})
		if err != nil || h.Len() != 16 {
			b.Fatal(err, h.Len())
		}
	}
}

func BenchmarkHeaderWriteTo(b *testing.B) {
	h, _ := ReadHeader(bufio.NewReader(strings.NewReader(benchHeader)), Limits{})
	var buf bytes.Buffer
	b.ReportAllocs()
	b.SetBytes(int64(len(benchHeader)))
	for b.Loop() {
		buf.Reset()
		h.WriteTo(&buf)
	}
}

func BenchmarkDecodeWords(b *testing.B) {
	inputs := []string{
		"=?UTF-8?B?UXVhcnRhbHNiZXJpY2h0IMO8YmVyIGRpZSBFbnR3aWNrbHVuZw==?= =?UTF-8?B?IGRlciBWZXJrw6R1ZmU=?=",
		"=?ISO-8859-1?Q?Andr=E9?= Pirard",
		"Plain ASCII subject without any encoded words",
		"=?gb2312?B?1tDOxA==?= mixed =?shift_jis?B?k/qWe4zq?=",
	}
	n := 0
	for _, s := range inputs {
		n += len(s)
	}
	b.ReportAllocs()
	b.SetBytes(int64(n))
	for b.Loop() {
		for _, s := range inputs {
			if _, err := DecodeWords(s); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkParseAddressList(b *testing.B) {
	const list = `"Joe Q. Public" <john.q.public@example.com>, Mary Smith <mary@x.test>, jdoe@example.org, ` +
		`=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.com>, A Group:Ed Jones <c@a.test>,joe@where.test;, ` +
		`"Smith, Bob" <bob@example.org>`
	b.ReportAllocs()
	b.SetBytes(int64(len(list)))
	for b.Loop() {
		l, err := ParseAddressList(list)
		if err != nil || len(l) != 6 {
			b.Fatal(err, len(l))
		}
	}
}

func BenchmarkParseMediaType(b *testing.B) {
	const v = `attachment; filename*0*=UTF-8''Bericht%20%C3%BCber; filename*1*=%202024.pdf; size=12345; creation-date="Mon, 4 Mar 2024 10:12:12 +0100"`
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		if _, _, err := ParseMediaType(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseDate(b *testing.B) {
	const v = "Mon, 4 Mar 2024 10:12:12 +0100 (CET)"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseDate(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuilder(b *testing.B) {
	body := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit. Grüße.\n", 150)
	att := bytes.Repeat([]byte{1, 2, 3, 250}, 16<<10)
	b.ReportAllocs()
	for b.Loop() {
		bl := &Builder{
			From: &Address{Name: "A", Mailbox: "a", Host: "example.com"}, To: []*Address{{Mailbox: "b", Host: "example.org"}},
			Subject: "Report", Text: strings.NewReader(body), HTML: strings.NewReader("<p>" + body + "</p>"),
			Attachments: []*Attachment{{Filename: "data.bin", Body: bytes.NewReader(att)}},
		}
		n, err := bl.WriteTo(discard{})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(n)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// The standard library on the same inputs, for comparison.

func BenchmarkStdlibReadMIMEHeader(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchHeader)))
	r := strings.NewReader(benchHeader)
	br := bufio.NewReader(r)
	for b.Loop() {
		r.Reset(benchHeader)
		br.Reset(r)
		if _, err := textproto.NewReader(br).ReadMIMEHeader(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStdlibDecodeHeader(b *testing.B) {
	inputs := []string{
		"=?UTF-8?B?UXVhcnRhbHNiZXJpY2h0IMO8YmVyIGRpZSBFbnR3aWNrbHVuZw==?= =?UTF-8?B?IGRlciBWZXJrw6R1ZmU=?=",
		"=?ISO-8859-1?Q?Andr=E9?= Pirard",
		"Plain ASCII subject without any encoded words",
		"=?gb2312?B?1tDOxA==?= mixed =?shift_jis?B?k/qWe4zq?=",
	}
	n := 0
	for _, s := range inputs {
		n += len(s)
	}
	dec := &stdmime.WordDecoder{CharsetReader: func(charset string, r io.Reader) (io.Reader, error) {
		d, err := CharsetDecoder(charset)
		if err != nil {
			return nil, err
		}
		return d.Reader(r), nil
	}}
	b.ReportAllocs()
	b.SetBytes(int64(n))
	for b.Loop() {
		for _, s := range inputs {
			if _, err := dec.DecodeHeader(s); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkStdlibParseAddressList(b *testing.B) {
	const list = `"Joe Q. Public" <john.q.public@example.com>, Mary Smith <mary@x.test>, jdoe@example.org, ` +
		`=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.com>, A Group:Ed Jones <c@a.test>,joe@where.test;, ` +
		`"Smith, Bob" <bob@example.org>`
	b.ReportAllocs()
	b.SetBytes(int64(len(list)))
	for b.Loop() {
		if _, err := mail.ParseAddressList(list); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStdlibParseMediaType(b *testing.B) {
	const v = `attachment; filename*0*=UTF-8''Bericht%20%C3%BCber; filename*1*=%202024.pdf; size=12345; creation-date="Mon, 4 Mar 2024 10:12:12 +0100"`
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		if _, _, err := stdmime.ParseMediaType(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStdlibParseDate(b *testing.B) {
	const v = "Mon, 4 Mar 2024 10:12:12 +0100 (CET)"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := mail.ParseDate(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseMediaTypeSimple(b *testing.B) {
	const v = `text/plain; charset="utf-8"`
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		if _, _, err := ParseMediaType(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStdlibParseMediaTypeSimple(b *testing.B) {
	const v = `text/plain; charset="utf-8"`
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		if _, _, err := stdmime.ParseMediaType(v); err != nil {
			b.Fatal(err)
		}
	}
}
