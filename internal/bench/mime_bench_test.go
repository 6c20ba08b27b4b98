package bench

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	stdmime "mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"

	gomessage "github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // charsets for go-message, as an application would
	gomail "github.com/emersion/go-message/mail"

	"github.com/posthorn/posthorn/mime"
)

// Side-by-side MIME parsing: posthorn's mime.Reader, go-message's
// mail.Reader and the standard library (net/mail + mime/multipart). Each
// parser walks the whole part tree, decodes the transfer encoding of every
// leaf (and ISO-8859-1 text to UTF-8) into io.Discard, and decodes the
// Subject, From, To and Date header fields.
//
//	cd internal/bench && go test -run '^$' -bench MIME -count 6 | tee mime.txt
//	go run golang.org/x/perf/cmd/benchstat@latest -col /parser mime.txt

type mimeStats struct {
	leaves  int
	decoded int64
}

func parsePosthorn(data []byte) (mimeStats, error) {
	var st mimeStats
	r := mime.NewReader(bytes.NewReader(data), mime.Limits{})
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return st, nil
		}
		if err != nil {
			return st, err
		}
		if p.Depth == 0 {
			posthornHeaderWork(&p.Header)
		}
		if p.MediaType == "multipart" && len(p.Params["boundary"]) > 0 || p.IsMessage() {
			continue
		}
		p.Filename()
		n, err := io.Copy(io.Discard, r.Text())
		if err != nil {
			return st, err
		}
		st.leaves++
		st.decoded += n
	}
}

var stdWords = &stdmime.WordDecoder{}

type latin1 struct {
	r   io.Reader
	buf []byte
}

func (l *latin1) Read(p []byte) (int, error) {
	n := len(p) / 2
	if n == 0 {
		n = 1
	}
	if cap(l.buf) < n {
		l.buf = make([]byte, n)
	}
	m, err := l.r.Read(l.buf[:n])
	j := 0
	for _, c := range l.buf[:m] {
		if c < 0x80 {
			p[j] = c
			j++
		} else {
			p[j], p[j+1] = 0xC0|c>>6, 0x80|c&0x3F
			j += 2
		}
	}
	return j, err
}

func parseStdlib(data []byte) (mimeStats, error) {
	var st mimeStats
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return st, err
	}
	stdWords.DecodeHeader(m.Header.Get("Subject"))
	m.Header.AddressList("From")
	m.Header.AddressList("To")
	m.Header.Date()
	return st, stdWalk(textproto.MIMEHeader(m.Header), m.Body, &st, 0)
}

func stdWalk(h textproto.MIMEHeader, body io.Reader, st *mimeStats, depth int) error {
	if depth > 32 {
		return fmt.Errorf("too deep")
	}
	mt, params, err := stdmime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		mt, params = "text/plain", nil
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := stdWalk(p.Header, p, st, depth+1); err != nil {
				return err
			}
		}
	}
	if cd := h.Get("Content-Disposition"); cd != "" {
		stdmime.ParseMediaType(cd)
	}
	r := body
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r)
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	}
	if strings.HasPrefix(mt, "text/") && strings.EqualFold(params["charset"], "iso-8859-1") {
		r = &latin1{r: r}
	}
	n, err := io.Copy(io.Discard, r)
	st.leaves++
	st.decoded += n
	return err
}

func parseGoMessage(data []byte) (mimeStats, error) {
	var st mimeStats
	mr, err := gomail.CreateReader(bytes.NewReader(data))
	if err != nil && !gomessage.IsUnknownCharset(err) {
		return st, err
	}
	mr.Header.Subject()
	mr.Header.AddressList("From")
	mr.Header.AddressList("To")
	mr.Header.Date()
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil && !gomessage.IsUnknownCharset(err) {
			return st, err
		}
		if ah, ok := p.Header.(*gomail.AttachmentHeader); ok {
			ah.Filename()
		}
		n, err := io.Copy(io.Discard, p.Body)
		if err != nil {
			return st, err
		}
		st.leaves++
		st.decoded += n
	}
	return st, mr.Close()
}

var mimeParsers = []struct {
	name  string
	parse func([]byte) (mimeStats, error)
}{
	{"posthorn", parsePosthorn},
	{"go-message", parseGoMessage},
	{"stdlib", parseStdlib},
}

// TestMIMEParsersAgree checks that the three parsers see the same leaves
// and decode the same number of bytes, so the benchmark compares like work.
func TestMIMEParsersAgree(t *testing.T) {
	for _, m := range benchMessages() {
		var ref mimeStats
		for i, p := range mimeParsers {
			st, err := p.parse(m.data)
			if err != nil {
				t.Fatalf("%s on %s: %v", p.name, describe(m.name, m.data), err)
			}
			if i == 0 {
				ref = st
			} else if st != ref {
				t.Errorf("%s on %s: %+v, posthorn %+v", p.name, m.name, st, ref)
			}
		}
	}
}

func BenchmarkMIME(b *testing.B) {
	for _, m := range benchMessages() {
		for _, p := range mimeParsers {
			b.Run("msg="+m.name+"/parser="+p.name, func(b *testing.B) {
				b.SetBytes(int64(len(m.data)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := p.parse(m.data); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkMIMEIndex indexes the large message: the allocations must not
// grow with the body size.
func BenchmarkMIMEIndex(b *testing.B) {
	for _, m := range benchMessages() {
		b.Run("msg="+m.name, func(b *testing.B) {
			b.SetBytes(int64(len(m.data)))
			b.ReportAllocs()
			r := bytes.NewReader(m.data)
			for b.Loop() {
				if _, err := mime.Index(r, int64(len(m.data)), mime.Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// posthornHeaderWork decodes the same header fields as the other parsers.
func posthornHeaderWork(h *mime.Header) {
	mime.DecodeWords(h.Get("Subject"))
	mime.ParseAddressList(h.Get("From"))
	mime.ParseAddressList(h.Get("To"))
	mime.ParseDate(h.Get("Date"))
}
