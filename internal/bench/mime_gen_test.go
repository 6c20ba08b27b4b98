package bench

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"mime/quotedprintable"
	"strings"
)

// The three benchmark messages, generated deterministically: the shapes
// the issue asks for (small text, medium mixed ⊃ alternative with QP text
// and QP latin-1 HTML plus a 64 KiB base64 attachment, large with a 5 MiB
// base64 attachment).

var words = strings.Fields(`the of and to in is that for it as was with be by on not he this are or his
from at which but have an they you were her she there been one all we their has would when if so no
Präsentation Bericht Grüße Straße naïve café résumé déjà señor Jürgen Ærø message mailbox server relay`)

func genText(r *rand.Rand, n int, latin bool) string {
	var b strings.Builder
	line := 0
	for b.Len() < n {
		w := words[r.IntN(len(words))]
		if !latin && strings.ContainsFunc(w, func(c rune) bool { return c > 127 }) {
			w = "plain"
		}
		if line+len(w)+1 > 72 {
			b.WriteString("\r\n")
			line = 0
		} else if line > 0 {
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += len(w)
	}
	b.WriteString("\r\n")
	return b.String()
}

func toLatin1(s string) []byte {
	var out []byte
	for _, c := range s {
		out = append(out, byte(c))
	}
	return out
}

func qpEncode(b []byte) string {
	var buf bytes.Buffer
	w := quotedprintable.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.String()
}

func b64Lines(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) > 76 {
		out.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	out.WriteString(s + "\r\n")
	return out.String()
}

func header(subject string) string {
	return "Return-Path: <alice@example.org>\r\n" +
		"Received: from mx.example.org (mx.example.org [192.0.2.1])\r\n\tby mail.example.net with ESMTPS id 4AB12CD34\r\n\tfor <bob@example.net>; Tue, 2 Jan 2024 10:00:00 +0100\r\n" +
		"Message-ID: <20240102100000.12345@example.org>\r\n" +
		"Date: Tue, 2 Jan 2024 10:00:00 +0100\r\n" +
		"From: \"Martin, Alice\" <alice@example.org>\r\n" +
		"To: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.net>, bob@example.net\r\n" +
		"Subject: " + subject + "\r\n" +
		"MIME-Version: 1.0\r\n"
}

func genSmall() []byte {
	r := rand.New(rand.NewPCG(1, 1))
	return []byte(header("small: text only message") +
		"Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" + genText(r, 9500, false))
}

func genMedium() []byte {
	r := rand.New(rand.NewPCG(1, 2))
	text := genText(r, 36<<10, true)
	html := "<html><body><p>" + strings.ReplaceAll(text, "\r\n", "</p>\r\n<p>") + "</p></body></html>\r\n"
	att := make([]byte, 64<<10)
	for i := range att {
		att[i] = byte(r.Uint32())
	}
	var b strings.Builder
	b.WriteString(header("medium: =?iso-8859-1?q?Pr=E4sentation_und_Bericht?="))
	b.WriteString("Content-Type: multipart/mixed; boundary=\"=_outer_7d3a\"\r\n\r\nThis is a multi-part message in MIME format.\r\n")
	b.WriteString("--=_outer_7d3a\r\nContent-Type: multipart/alternative; boundary=\"=_inner_91fc\"\r\n\r\n")
	b.WriteString("--=_inner_91fc\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	b.WriteString(qpEncode(toLatin1(text)))
	b.WriteString("\r\n--=_inner_91fc\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	b.WriteString(qpEncode(toLatin1(html)))
	b.WriteString("\r\n--=_inner_91fc--\r\n")
	b.WriteString("--=_outer_7d3a\r\nContent-Type: application/pdf; name=\"slides.pdf\"\r\nContent-Disposition: attachment; filename=\"slides.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	b.WriteString(b64Lines(att))
	b.WriteString("--=_outer_7d3a--\r\n")
	return []byte(b.String())
}

func genLarge() []byte {
	r := rand.New(rand.NewPCG(1, 3))
	att := make([]byte, 5<<20)
	for i := range att {
		att[i] = byte(r.Uint32())
	}
	var b strings.Builder
	b.WriteString(header("large: video attachment"))
	b.WriteString("Content-Type: multipart/mixed; boundary=\"b0_large\"\r\n\r\n")
	b.WriteString("--b0_large\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	b.WriteString(qpEncode([]byte(genText(r, 4096, true))))
	b.WriteString("\r\n--b0_large\r\nContent-Type: video/mp4; name=\"clip.mp4\"\r\nContent-Disposition: attachment; filename=\"clip.mp4\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	b.WriteString(b64Lines(att))
	b.WriteString("--b0_large--\r\n")
	return []byte(b.String())
}

var benchMessages = func() []struct {
	name string
	data []byte
} {
	return []struct {
		name string
		data []byte
	}{{"small", genSmall()}, {"medium", genMedium()}, {"large", genLarge()}}
}

func describe(name string, data []byte) string { return fmt.Sprintf("%s (%d bytes)", name, len(data)) }
