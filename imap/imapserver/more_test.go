package imapserver_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/internal/tlsutil"
	"github.com/posthorn/posthorn/sasl"
)

// TestAutologout: RFC 9051 §5.4; before login the timer is short.
func TestAutologout(t *testing.T) {
	ts := newTestServer(t, func(s *imapserver.Server) { s.Limits.LoginTimeout = 200 * time.Millisecond })
	c := ts.dial()
	c.run(`S: * BYE Autologout; idle for too long`)
	c.expectClosed()
}

// TestServeTLS: implicit TLS (RFC 8314).
func TestServeTLS(t *testing.T) {
	cert, err := tlsutil.NewTestCert()
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t)
	srv := &imapserver.Server{Backend: ts.store, TLSConfig: cert.ServerConfig()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(ln)
	defer srv.Close()
	conn, err := tls.Dial("tcp", ln.Addr().String(), cert.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &testConn{t: t, conn: conn, br: bufio.NewReader(conn)}
	c.run(`
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 AUTH=SCRAM-SHA-256-PLUS...
C: a1 LOGIN alice secret
S: a1 OK [CAPABILITY...`)
}

// TestAuthenticateSCRAM runs SCRAM-SHA-256 (RFC 7677) through the sasl
// client against the server.
func TestAuthenticateSCRAM(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	cl, err := sasl.NewSCRAMClient(sasl.SCRAMOptions{Hash: sasl.SHA256, Username: "alice", Password: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	mech, ir, err := cl.Start()
	if err != nil {
		t.Fatal(err)
	}
	c.send("s1 AUTHENTICATE " + mech + " " + base64.StdEncoding.EncodeToString(ir))
	for {
		l := c.readLine()
		if strings.HasPrefix(l, "s1 ") {
			if !strings.HasPrefix(l, "s1 OK [CAPABILITY") {
				t.Fatalf("got %q", l)
			}
			break
		}
		if !strings.HasPrefix(l, "+ ") {
			t.Fatalf("got %q", l)
		}
		chal, err := base64.StdEncoding.DecodeString(l[2:])
		if err != nil {
			t.Fatal(err)
		}
		resp, err := cl.Next(chal)
		if err != nil {
			t.Fatal(err)
		}
		c.send(base64.StdEncoding.EncodeToString(resp))
	}
}

// TestLiteralMinus: RFC 7888 §5: LITERAL- limits {n+} to 4096 octets;
// a bigger one in APPEND is read and refused with BAD [TOOBIG].
func TestLiteralMinus(t *testing.T) {
	ts := newTestServer(t, func(s *imapserver.Server) { s.LiteralMinus = true })
	c := ts.dial()
	c.run(`
C: a1 CAPABILITY
S: ~ LITERAL- ENABLE
S: a1 OK CAPABILITY completed
C: a2 LOGIN alice secret
S: ~ a2 OK
C: a3 APPEND INBOX {4097+}
C: ` + strings.Repeat("x", 4097) + `
S: a3 BAD [TOOBIG]...
C: a4 APPEND INBOX {5+}
C: hello
S: a4 OK [APPENDUID...`)
}

// TestUTF8Append: RFC 6855 §4.
func TestUTF8Append(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login()
	c.run(`
C: a1 ENABLE UTF8=ACCEPT
S: * ENABLED UTF8=ACCEPT
S: a1 OK ENABLE completed
C: a2 APPEND INBOX UTF8 (~{20+}
C: Subject: Grüße
C:
C: )
S: a2 OK [APPENDUID...
C: a3 STATUS INBOX (MESSAGES)
S: * STATUS INBOX (MESSAGES 1)
S: a3 OK STATUS completed`)
}

// TestNoSecretsLogged: passwords and SASL data never reach the log.
func TestNoSecretsLogged(t *testing.T) {
	var buf bytes.Buffer
	ts := newTestServer(t, func(s *imapserver.Server) {
		s.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	c := ts.dial()
	c.run(`
C: a1 LOGIN alice hunter2
S: ~ a1 NO
C: a2 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==
S: ~ a2 OK
C: a3 LOGOUT
S: ~ a3 OK`)
	c.expectClosed()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ts.srv.Shutdown(ctx)
	log := buf.String()
	for _, secret := range []string{"hunter2", "secret", "AGFsaWNlAHNlY3JldA"} {
		if strings.Contains(log, secret) {
			t.Errorf("log contains %q:\n%s", secret, log)
		}
	}
	if !strings.Contains(log, "user=alice") {
		t.Errorf("log lacks the user:\n%s", log)
	}
}

// TestListRecursiveMatch: RFC 5258 §3.5 CHILDINFO.
func TestListRecursiveMatch(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login()
	c.run(`
C: a1 CREATE Lists/go-nuts
S: a1 OK CREATE completed
C: a2 SUBSCRIBE Lists/go-nuts
S: a2 OK SUBSCRIBE completed
C: a3 LIST (SUBSCRIBED RECURSIVEMATCH) "" L%
S: * LIST (\HasChildren) "/" Lists ("CHILDINFO" ("SUBSCRIBED"))
S: a3 OK LIST completed
C: a4 LIST (RECURSIVEMATCH) "" %
S: a4 BAD RECURSIVEMATCH needs another selection option
C: a5 LIST "" Lists/%
S: * LIST (\HasNoChildren) "/" Lists/go-nuts
S: a5 OK LIST completed`)
}

// TestSelectedMailboxDeleted: another session deletes the selected
// mailbox; the session is told and closed.
func TestSelectedMailboxDeleted(t *testing.T) {
	ts := newTestServer(t)
	c1, c2 := ts.login(), ts.login()
	c1.run(`C: a1 SELECT Junk
S: ~ a1 OK`)
	c2.run(`C: b1 DELETE Junk
S: b1 OK DELETE completed`)
	c1.run(`C: a2 NOOP
S: * BYE [NONEXISTENT] Selected mailbox was deleted`)
	c1.expectClosed()
}
