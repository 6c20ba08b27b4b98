package sendapp

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/tlsutil"
	"github.com/posthorn/posthorn/mime"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/smtpserver"
)

type creds map[string]string

func (c creds) VerifyPassword(_ context.Context, user, pass string) error {
	if p, ok := c[user]; ok && p == pass {
		return nil
	}
	return sasl.ErrAuthFailed
}

type sink struct {
	mu   sync.Mutex
	msgs []string
}

func (s *sink) NewSession(context.Context, *smtpserver.ConnInfo) (smtpserver.Session, error) {
	return &sess{s: s}, nil
}

type sess struct{ s *sink }

func (*sess) Mail(context.Context, smtp.Mailbox, *smtp.MailOptions) error { return nil }
func (*sess) Rcpt(context.Context, smtp.Mailbox, *smtp.RcptOptions) error { return nil }
func (x *sess) Data(_ context.Context, r io.Reader) error {
	b, err := io.ReadAll(r)
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, string(b))
	x.s.mu.Unlock()
	return err
}
func (*sess) Reset(context.Context)       {}
func (*sess) Close(context.Context) error { return nil }

// Both programs send the same message through our submission server, and
// what arrives has the same parts.
func TestBothSend(t *testing.T) {
	tc, err := tlsutil.NewTestCert()
	if err != nil {
		t.Fatal(err)
	}
	rec := &sink{}
	srv := &smtpserver.Server{Hostname: "localhost", Mode: smtpserver.ModeSubmission, Backend: rec,
		TLSConfig: tc.ServerConfig(), Auth: &sasl.Registry{Credentials: creds{"shop": "pw"}, Mechanisms: []string{"PLAIN"}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	logo, pdf := []byte("\x89PNG\r\n\x1a\nlogo"), []byte("%PDF-1.4 receipt")

	if err := SendPosthorn(ctx, "localhost:"+port, tc.CertPEM, "shop", "pw", logo, pdf); err != nil {
		t.Fatalf("posthorn: %v", err)
	}
	p, _ := strconv.Atoi(port)
	if err := SendGoMail(ctx, "localhost", p, tc.CertPEM, "shop", "pw", logo, pdf); err != nil {
		t.Fatalf("go-mail: %v", err)
	}
	if len(rec.msgs) != 2 {
		t.Fatalf("%d messages arrived", len(rec.msgs))
	}
	for i, name := range []string{"posthorn", "go-mail"} {
		var types []string
		var cid, html string
		r := mime.NewReader(strings.NewReader(rec.msgs[i]), mime.Limits{})
		for {
			part, err := r.NextPart()
			if err != nil {
				break
			}
			body, _ := io.ReadAll(r.Text())
			types = append(types, part.ContentType())
			switch part.ContentType() {
			case "text/html":
				html = string(body)
			case "image/png":
				cid = strings.Trim(part.Header.Get("Content-ID"), "<>")
			}
		}
		got := strings.Join(types, " ")
		for _, want := range []string{"text/plain", "text/html", "image/png", "application/pdf"} {
			if !strings.Contains(got, want) {
				t.Errorf("%s: no %s part in %s", name, want, got)
			}
		}
		if cid == "" || !strings.Contains(html, "cid:"+cid) {
			t.Errorf("%s: HTML %q does not reference the inline part %q", name, html, cid)
		}
	}
}

// TestLineCounts prints the two programs' sizes in non-blank, non-comment
// lines (gofmt'd files, imports included) and keeps posthorn's below
// go-mail's.
func TestLineCounts(t *testing.T) {
	count := func(file string) int {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		n := 0
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			l := strings.TrimSpace(sc.Text())
			if l != "" && !strings.HasPrefix(l, "//") {
				n++
			}
		}
		return n
	}
	// posthorn.go carries the package clause and doc; gomail.go repeats
	// the clause, so both count it once.
	ph, gm := count("posthorn.go"), count("gomail.go")
	t.Logf("lines: posthorn %d, go-mail %d", ph, gm)
	if ph >= gm {
		t.Errorf("posthorn takes %d lines, go-mail %d", ph, gm)
	}
}
