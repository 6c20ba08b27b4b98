package imapserver

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// ColdCorpus returns n messages of a realistic mix for cold FETCH
// benchmarks, the same for every call: 60 % text/plain of 1-8 KB, 25 %
// multipart/alternative (quoted-printable text and HTML), 10 %
// multipart/mixed with a base64 attachment of 20-200 KB, 5 % nested
// (alternative inside mixed, a message/rfc822 and an inline image).
// Exported for the external test package only.
func ColdCorpus(n int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("the quick brown fox jumps over a lazy dog while report budget meeting " +
		"schedule quarterly results attached please find review draft minutes tomorrow")
	text := func(size int) string {
		var b strings.Builder
		col := 0
		for b.Len() < size {
			w := words[r.IntN(len(words))]
			if col+len(w) > 72 {
				b.WriteString("\r\n")
				col = 0
			}
			b.WriteString(w)
			b.WriteByte(' ')
			col += len(w) + 1
		}
		b.WriteString("\r\n")
		return b.String()
	}
	b64 := func(size int) string {
		raw := make([]byte, size)
		for i := range raw {
			raw[i] = byte(r.Uint32())
		}
		s := base64.StdEncoding.EncodeToString(raw)
		var b strings.Builder
		for len(s) > 76 {
			b.WriteString(s[:76] + "\r\n")
			s = s[76:]
		}
		b.WriteString(s + "\r\n")
		return b.String()
	}
	header := func(i int) string {
		return fmt.Sprintf("Return-Path: <sender%d@example.org>\r\n"+
			"Received: from mx.example.org (mx.example.org [192.0.2.1])\r\n\tby mail.example.net with ESMTPS id %d\r\n\tfor <alice@example.net>; Mon, 7 Dec 2026 10:00:00 +0000\r\n"+
			"From: Sender %d <sender%d@example.org>\r\n"+
			"To: Alice <alice@example.net>, bob@example.net\r\n"+
			"Cc: =?utf-8?q?J=C3=BCrgen?= <juergen@example.net>\r\n"+
			"Subject: %s %d\r\n"+
			"Date: Mon, 7 Dec 2026 10:%02d:00 +0000\r\n"+
			"Message-ID: <%d.%d@example.org>\r\n"+
			"In-Reply-To: <%d.0@example.org>\r\n"+
			"MIME-Version: 1.0\r\n", i, i, i, i, words[i%len(words)], i, i%60, i, r.Uint32(), i-1)
	}
	msgs := make([]string, n)
	for i := range msgs {
		h := header(i)
		switch k := r.IntN(100); {
		case k < 60:
			msgs[i] = h + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text(1000+r.IntN(7000))
		case k < 85:
			msgs[i] = h + "Content-Type: multipart/alternative; boundary=\"=_alt\"\r\n\r\n" +
				"--=_alt\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
				text(2000+r.IntN(4000)) + "--=_alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>" +
				text(4000+r.IntN(8000)) + "</p></body></html>\r\n--=_alt--\r\n"
		case k < 95:
			msgs[i] = h + "Content-Type: multipart/mixed; boundary=\"=_mix\"\r\n\r\n" +
				"--=_mix\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text(1000+r.IntN(3000)) +
				"--=_mix\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
				b64(20000+r.IntN(180000)) + "--=_mix--\r\n"
		default:
			msgs[i] = h + "Content-Type: multipart/mixed; boundary=\"=_out\"\r\n\r\n" +
				"--=_out\r\nContent-Type: multipart/alternative; boundary=\"=_in\"\r\n\r\n" +
				"--=_in\r\nContent-Type: text/plain\r\n\r\n" + text(1500) +
				"--=_in\r\nContent-Type: text/html\r\n\r\n<p>" + text(3000) + "</p>\r\n--=_in--\r\n" +
				"--=_out\r\nContent-Type: message/rfc822\r\n\r\n" + header(i+1) + "Content-Type: text/plain\r\n\r\n" + text(2000) +
				"--=_out\r\nContent-Type: image/png; name=\"a.png\"\r\nContent-ID: <img1@example.org>\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
				b64(8000) + "--=_out--\r\n"
		}
	}
	return msgs
}

// BenchmarkParseCold is what a cold FETCH of a structure item costs per
// message in-process, without the connection: the parse of a message
// seen for the first time (a fresh ParseCache slot each time) through a
// session of a server with the default cache, over ColdCorpus(200).
// cpu-ns/msg is the process's CPU time (GC included) per message.
func BenchmarkParseCold(b *testing.B) { benchParseCold(b, false) }

// BenchmarkParseColdEnvelope is BenchmarkParseCold for a FETCH of
// ENVELOPE alone, which parses only the header.
func BenchmarkParseColdEnvelope(b *testing.B) { benchParseCold(b, true) }

// BenchmarkParseColdEnvelopeThenWhole is a FETCH of ENVELOPE alone and
// then one of BODYSTRUCTURE on messages seen for the first time: the
// header-only parse, then the whole one (which reuses its ENVELOPE).
func BenchmarkParseColdEnvelopeThenWhole(b *testing.B) {
	corpus := ColdCorpus(200)
	srv := &Server{}
	srv.init()
	s := &session{srv: srv}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := CPUNow()
	for i := range b.N {
		m := &cacheMsg{data: corpus[i%len(corpus)]}
		for _, h := range []bool{true, false} {
			if _, err := s.parse(m, h); err != nil {
				b.Fatal(err)
			}
		}
	}
	ReportCPU(b, cpu, 1)
}

func benchParseCold(b *testing.B, headerOnly bool) {
	corpus := ColdCorpus(200)
	total := 0
	for _, m := range corpus {
		total += len(m)
	}
	srv := &Server{}
	srv.init()
	s := &session{srv: srv}
	b.ReportAllocs()
	b.SetBytes(int64(total / len(corpus)))
	b.ResetTimer()
	cpu := CPUNow()
	for i := range b.N {
		m := &cacheMsg{data: corpus[i%len(corpus)]}
		if _, err := s.parse(m, headerOnly); err != nil {
			b.Fatal(err)
		}
	}
	ReportCPU(b, cpu, 1)
}
