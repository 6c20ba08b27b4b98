package imapserver_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"mime/quotedprintable"
	"net"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
)

// benchWords is the vocabulary of generated bodies; the search word of
// BenchmarkSearchBody ("marzipanlode") is put into 1% of the messages.
var benchWords = strings.Fields(`the of and to in is that for it as was with be by on not he this are or his
from at which but have an they you were her she there been one all we their has would when if so no
mail server client message folder inbox draft sent archive meeting report budget quarterly review
Grüße straße café naïve résumé déjà über Zürich façade coöperate`)

func benchText(r *rand.Rand, n int, hit bool) string {
	var b strings.Builder
	col := 0
	at := -1
	if hit {
		at = r.IntN(n / 2)
	}
	for b.Len() < n {
		w := benchWords[r.IntN(len(benchWords))]
		if at >= 0 && b.Len() >= at {
			w, at = "Marzipanlode", -1
		}
		if col+len(w) > 72 {
			b.WriteString("\r\n")
			col = 0
		} else if col > 0 {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += len(w)
	}
	b.WriteString("\r\n")
	return b.String()
}

func qpLatin1(s string) string {
	var latin []byte
	for _, r := range s {
		if r < 0x100 {
			latin = append(latin, byte(r))
		} else {
			latin = append(latin, '?')
		}
	}
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	w.Write(latin)
	w.Close()
	return b.String()
}

// benchCorpus generates n varied messages like ../shared/bench's corpus:
// ~60% text/plain (us-ascii 7bit, utf-8 8bit, utf-8 QP), ~25%
// multipart/alternative (QP latin-1 text and HTML), ~10% multipart/mixed
// with a base64 attachment, ~5% nested with message/rfc822 and an image.
func benchCorpus(n int) []string {
	out := make([]string, n)
	for i := range n {
		r := rand.New(rand.NewPCG(7, uint64(i)))
		hit := i%100 == 42
		hdr := fmt.Sprintf("From: Sender %d <s%d@example.org>\r\nTo: alice@example.org\r\nSubject: Message %d\r\nDate: Mon, 7 Feb 2024 21:52:25 -0800\r\nMessage-ID: <%d@example.org>\r\nMIME-Version: 1.0\r\n", i, i, i, i)
		text := benchText(r, 1000+r.IntN(7000), hit)
		switch k := r.IntN(100); {
		case k < 20:
			out[i] = hdr + "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + strings.Map(func(r rune) rune {
				if r >= 0x80 {
					return 'e'
				}
				return r
			}, text)
		case k < 40:
			out[i] = hdr + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text
		case k < 60:
			var b bytes.Buffer
			w := quotedprintable.NewWriter(&b)
			w.Write([]byte(text))
			w.Close()
			out[i] = hdr + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + b.String()
		case k < 85:
			out[i] = hdr + "Content-Type: multipart/alternative; boundary=b1\r\n\r\n--b1\r\n" +
				"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qpLatin1(text) +
				"\r\n--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>" + text + "</p></body></html>\r\n--b1--\r\n"
		case k < 95:
			att := make([]byte, 20000+r.IntN(60000))
			for j := range att {
				att[j] = byte(r.Uint32())
			}
			out[i] = hdr + "Content-Type: multipart/mixed; boundary=b2\r\n\r\n--b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text +
				"--b2\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64Lines(att) + "--b2--\r\n"
		default:
			img := make([]byte, 5000+r.IntN(20000))
			for j := range img {
				img[j] = byte(r.Uint32())
			}
			out[i] = hdr + "Content-Type: multipart/mixed; boundary=b3\r\n\r\n--b3\r\nContent-Type: multipart/related; boundary=b4\r\n\r\n--b4\r\n" +
				"Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + "--b4\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64Lines(img) +
				"--b4--\r\n--b3\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@example.org\r\nSubject: fwd\r\n\r\n" + benchText(r, 500, false) + "--b3--\r\n"
		}
	}
	return out
}

func b64Lines(p []byte) string {
	s := base64.StdEncoding.EncodeToString(p)
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76])
		b.WriteString("\r\n")
		s = s[76:]
	}
	b.WriteString(s)
	b.WriteString("\r\n")
	return b.String()
}

// BenchmarkSearchBody measures UID SEARCH BODY and TEXT over 2,000 varied
// messages (the imap-fetch line `UID SEARCH BODY "marzipanlode"`); ns/msg
// is the time per message searched.
func BenchmarkSearchBody(b *testing.B) {
	const n = 2000
	store := imapmem.New()
	store.AddUser("alice", "secret")
	var total int64
	for _, m := range benchCorpus(n) {
		total += int64(len(m))
		if _, err := store.Deliver(context.Background(), "alice", strings.NewReader(m)); err != nil {
			b.Fatal(err)
		}
	}
	srv := &imapserver.Server{Backend: store, AllowInsecureAuth: true}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReaderSize(c, 64<<10)
	br.ReadString('\n')
	fmt.Fprintf(c, "a LOGIN alice secret\r\nb SELECT INBOX\r\nw UID FETCH 1:* BODYSTRUCTURE\r\n")
	readUntil(b, br, "w ")
	for _, key := range []string{"BODY", "TEXT"} {
		b.Run(key, func(b *testing.B) {
			fmt.Fprintf(c, "s UID SEARCH %s \"marzipanlode\"\r\n", key)
			l, _ := br.ReadString('\n')
			if got := len(strings.Fields(l)) - 2; got != n/100 {
				b.Fatalf("%d hits: %q", got, l)
			}
			readUntil(b, br, "s ")
			b.ReportAllocs()
			b.SetBytes(total) // the mailbox searched
			b.ResetTimer()
			for range b.N {
				fmt.Fprintf(c, "s UID SEARCH %s \"marzipanlode\"\r\n", key)
				readUntil(b, br, "s ")
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/msg")
		})
	}
}
