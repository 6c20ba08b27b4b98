package imapclient

import (
	"bytes"
	"context"
	"encoding/base64"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
	"github.com/posthorn/posthorn/sasl"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The trace never shows a password: not LOGIN's arguments, also when the
// password goes as a literal (8-bit, or with CR LF in it; RFC 9051
// §6.2.3, §4.3), not AUTHENTICATE's initial response or continuation
// lines (§6.2.2), on the client's side or the server's; message literals
// (APPEND, FETCH BODY[]) are elided after a few lines.
func TestTraceRedacts(t *testing.T) {
	var srvTrace, cliTrace lockedBuffer
	store := imapmem.New()
	users := map[string]string{"alice": "alicepw", "carol": "pässwörd", "dave": "p{1}\r\nq"}
	for u, p := range users {
		if err := store.AddUser(u, p); err != nil {
			t.Fatal(err)
		}
	}
	srv := &imapserver.Server{Backend: store, AllowInsecureAuth: true, Trace: &srvTrace}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	opts := &Options{AllowInsecureAuth: true, Trace: &cliTrace}
	const msg = "Subject: t\r\n\r\n1\r\n2\r\n3\r\n4\r\n5\r\n6 BODY-MARKER\r\n"
	for _, login := range []func(ctx context.Context, c *Client) error{
		func(ctx context.Context, c *Client) error { return c.loginCommand(ctx, "carol", users["carol"]) },
		func(ctx context.Context, c *Client) error { return c.loginCommand(ctx, "dave", users["dave"]) },
		func(ctx context.Context, c *Client) error { return c.Login(ctx, "alice", "alicepw") }, // SCRAM
		func(ctx context.Context, c *Client) error {
			return c.Auth(ctx, sasl.NewPlainClient("", "alice", "alicepw"))
		},
		func(ctx context.Context, c *Client) error {
			return c.Auth(ctx, sasl.NewLoginClient("alice", "alicepw"))
		},
	} {
		ctx := testCtx(t)
		c, err := Dial(ctx, ln.Addr().String(), opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := login(ctx, c); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Append(ctx, "INBOX", int64(len(msg)), strings.NewReader(msg), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Select(ctx, "INBOX", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Fetch(ctx, imap.NumSetOf(1), []imap.FetchAtt{{Item: imap.FetchBodySection, Section: &imap.FetchSection{}}}, nil).Collect(); err != nil {
			t.Fatal(err)
		}
		if err := c.Logout(ctx); err != nil {
			t.Fatal(err)
		}
	}
	secrets := []string{"alicepw", "pässwörd", "p{1}", base64.StdEncoding.EncodeToString([]byte("\x00alice\x00alicepw")),
		base64.StdEncoding.EncodeToString([]byte("alicepw")), "BODY-MARKER"}
	for side, tr := range map[string]string{"client": cliTrace.String(), "server": srvTrace.String()} {
		for _, s := range secrets {
			if strings.Contains(tr, s) {
				t.Errorf("%s trace shows %q:\n%s", side, s, tr)
			}
		}
		for _, want := range []string{"LOGIN [redacted]", "AUTHENTICATE SCRAM-SHA-256", "AUTHENTICATE PLAIN [redacted]", "+ [redacted]", "C: [redacted]", "more lines elided]", "LOGOUT"} {
			if !strings.Contains(tr, want) {
				t.Errorf("%s trace lacks %q:\n%s", side, want, tr)
			}
		}
	}
}

// After COMPRESS (RFC 4978) the trace follows the inflated protocol on
// both sides, not the compressed bytes.
func TestTraceCompress(t *testing.T) {
	var srvTrace, cliTrace lockedBuffer
	store := imapmem.New()
	if err := store.AddUser("alice", "alicepw"); err != nil {
		t.Fatal(err)
	}
	srv := &imapserver.Server{Backend: store, AllowInsecureAuth: true, Trace: &srvTrace}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	ctx := testCtx(t)
	c, err := Dial(ctx, ln.Addr().String(), &Options{Trace: &cliTrace})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(ctx, "alice", "alicepw"); err != nil {
		t.Fatal(err)
	}
	if err := c.Compress(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(ctx, "INBOX", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	for side, tr := range map[string]string{"client": cliTrace.String(), "server": srvTrace.String()} {
		for _, want := range []string{"COMPRESS DEFLATE", "SELECT INBOX", "SELECT completed", "LOGOUT"} {
			if !strings.Contains(tr, want) {
				t.Errorf("%s trace lacks %q:\n%s", side, want, tr)
			}
		}
		if !utf8.ValidString(tr) {
			t.Errorf("%s trace holds compressed bytes:\n%q", side, tr)
		}
	}
}
