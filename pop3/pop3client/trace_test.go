package pop3client_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/posthorn/posthorn/pop3/pop3client"
	"github.com/posthorn/posthorn/pop3/pop3server"
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

// The trace never shows the password: not after PASS (RFC 1939 §7), not
// in AUTH's initial response or continuation lines (RFC 5034 §4), on
// either side; a message fetched with RETR is elided after a few lines.
func TestTraceRedacts(t *testing.T) {
	var srvTrace, cliTrace lockedBuffer
	e := env(t, &pop3server.Server{AllowInsecureAuth: true, Trace: &srvTrace})
	e.Backend.Deliver("alice", []byte("Subject: t\r\n\r\n1\r\n2\r\n3\r\n4\r\n5\r\n6 BODY-MARKER\r\n"))
	opts := &pop3client.Options{AllowInsecureAuth: true, Trace: &cliTrace}
	for _, login := range []func(c *pop3client.Client) error{
		func(c *pop3client.Client) error { return c.User(ctxT(t), "alice", "secret") },
		func(c *pop3client.Client) error { return c.Auth(ctxT(t), sasl.NewPlainClient("", "alice", "secret")) },
		func(c *pop3client.Client) error { return c.Auth(ctxT(t), sasl.NewLoginClient("alice", "secret")) },
	} {
		ctx := ctxT(t)
		c, err := pop3client.Dial(ctx, e.Addr, opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := login(c); err != nil {
			t.Fatal(err)
		}
		n, _, err := c.Stat(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.Retr(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, r)
		r.Close()
		if err := c.Quit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	secrets := []string{"secret", base64.StdEncoding.EncodeToString([]byte("secret")),
		base64.StdEncoding.EncodeToString([]byte("\x00alice\x00secret")), "BODY-MARKER"}
	for side, tr := range map[string]string{"client": cliTrace.String(), "server": srvTrace.String()} {
		for _, s := range secrets {
			if strings.Contains(tr, s) {
				t.Errorf("%s trace shows %q:\n%s", side, s, tr)
			}
		}
		for _, want := range []string{"C: USER alice", "C: PASS [redacted]", "C: AUTH PLAIN [redacted]", "C: AUTH LOGIN", "S: + [redacted]", "more lines elided]", "C: QUIT"} {
			if !strings.Contains(tr, want) {
				t.Errorf("%s trace lacks %q:\n%s", side, want, tr)
			}
		}
	}
}
