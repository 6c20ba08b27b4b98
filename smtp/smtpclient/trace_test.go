package smtpclient

import (
	"bytes"
	"encoding/base64"
	"strings"
	"sync"
	"testing"

	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp/smtpserver"
	"github.com/stretchr/testify/require"
)

// lockedBuffer is a trace sink shared by goroutines.
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

// The trace of a session shows the protocol and never the password: not
// in AUTH PLAIN's initial response, not in AUTH LOGIN's continuation
// lines (RFC 4954 §4), on the client's side and the server's; and the
// message body is elided after a few lines.
func TestTraceRedacts(t *testing.T) {
	const pw = "s3cret-pw"
	var srvTrace, cliTrace lockedBuffer
	reg := &sasl.Registry{Credentials: creds{"alice": pw}, AllowPlaintext: true, Mechanisms: []string{"PLAIN", "LOGIN"}}
	addr := serve(t, &smtpserver.Server{Backend: &recorder{}, Auth: reg, Trace: &srvTrace}, false)
	ctx := ctxT(t)
	opts := &Options{AllowInsecureAuth: true, Trace: &cliTrace}

	c, err := Dial(ctx, addr, opts)
	require.NoError(t, err)
	require.NoError(t, c.Login(ctx, "alice", pw)) // PLAIN, initial response
	msg := "Subject: t\r\n\r\n1\r\n2\r\n3\r\n4\r\n5\r\n6 BODY-MARKER\r\n"
	_, err = c.Send(ctx, &Envelope{From: "alice@example.org", To: []string{"bob@example.org"}}, strings.NewReader(msg), int64(len(msg)))
	require.NoError(t, err)
	require.NoError(t, c.Quit(ctx))

	c, err = Dial(ctx, addr, opts)
	require.NoError(t, err)
	require.NoError(t, c.Auth(ctx, sasl.NewLoginClient("alice", pw))) // 334 continuations
	require.NoError(t, c.Quit(ctx))

	secrets := []string{pw, base64.StdEncoding.EncodeToString([]byte(pw)),
		base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + pw)), "BODY-MARKER"}
	for side, tr := range map[string]string{"client": cliTrace.String(), "server": srvTrace.String()} {
		for _, s := range secrets {
			require.NotContains(t, tr, s, "%s trace:\n%s", side, tr)
		}
		for _, want := range []string{"C: AUTH PLAIN [redacted]", "C: AUTH LOGIN", "S: 334 [redacted]", "C: [redacted]", "S: 235", "C: MAIL FROM:<alice@example.org>", "more lines elided]", "C: QUIT"} {
			require.Contains(t, tr, want, "%s trace:\n%s", side, tr)
		}
	}
}
