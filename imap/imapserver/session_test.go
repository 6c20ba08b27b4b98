package imapserver_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/internal/tlsutil"
)

// TestExpungeWhileFetching: RFC 9051 §7.5.1 forbids EXPUNGE responses
// during FETCH, STORE and SEARCH by sequence number, so the other
// session's sequence numbers stay valid until a command that may carry
// them (here NOOP, and UID FETCH which is allowed to).
func TestExpungeWhileFetching(t *testing.T) {
	ts := newTestServer(t)
	for range 3 {
		ts.deliver(msg1)
	}
	c1, c2 := ts.login(), ts.login()
	c1.run(`C: a1 SELECT INBOX
S: ~ a1 OK`)
	c2.run(`C: b1 SELECT INBOX
S: ~ b1 OK
C: b2 STORE 2 +FLAGS.SILENT (\Deleted)
S: b2 OK STORE completed
C: b3 EXPUNGE
S: * 2 EXPUNGE
S: b3 OK EXPUNGE completed`)
	// RFC 2180 §4.1.1: message 2 is still served until c1 is told, and
	// the pending flag change comes before the FETCH's own data (RFC
	// 9051 §7.5.2).
	c1.run(`
C: a2 FETCH 1:3 (UID)
S: * 2 FETCH (UID 2 FLAGS (\Deleted \Recent))
S: * 1 FETCH (UID 1)
S: * 2 FETCH (UID 2)
S: * 3 FETCH (UID 3)
S: a2 OK [EXPUNGEISSUED] FETCH completed
C: a3 STORE 3 +FLAGS (\Flagged)
S: * 3 FETCH (FLAGS (\Flagged \Recent))
S: a3 OK STORE completed
C: a4 SEARCH ALL
S: * SEARCH 1 3
S: a4 OK SEARCH completed
C: a5 NOOP
S: * 2 EXPUNGE
S: a5 OK NOOP completed
C: a6 FETCH 2 UID
S: * 2 FETCH (UID 3)
S: a6 OK FETCH completed`)
	// UID commands may carry EXPUNGE at once.
	c2.run(`C: b4 UID STORE 1 +FLAGS.SILENT (\Deleted)
S: * 2 FETCH (UID 3 FLAGS (\Flagged))
S: b4 OK STORE completed
C: b5 UID EXPUNGE 1
S: * 1 EXPUNGE
S: b5 OK EXPUNGE completed`)
	c1.run(`
C: a7 UID FETCH 1:* UID
S: * 1 FETCH (UID 1 FLAGS (\Deleted \Recent))
S: * 1 EXPUNGE
S: * 1 FETCH (UID 3)
S: a7 OK FETCH completed`)
}

// TestIdle: RFC 2177; an IDLE session hears of other sessions' changes.
func TestIdle(t *testing.T) {
	ts := newTestServer(t)
	ts.deliver(msg1)
	ts.deliver(msg1)
	c1, c2 := ts.login(), ts.login()
	c1.run(`C: a1 SELECT INBOX
S: ~ a1 OK
C: a2 IDLE
S: + idling`)
	c2.run(`C: b1 SELECT INBOX
S: ~ b1 OK`)
	ts.deliver(msg2)
	// RFC 3501 §2.3.2: c1 selected first and heard of message 3 first,
	// so all three are recent in c1's session and none in c2's.
	c1.run(`S: * 3 EXISTS
S: * 3 RECENT`)
	c2.run(`C: b2 STORE 1 +FLAGS (\Flagged)
S: * 1 FETCH (FLAGS (\Flagged))
S: * 3 EXISTS
S: * 0 RECENT
S: b2 OK STORE completed`)
	c1.run(`S: * 1 FETCH (UID 1 FLAGS (\Flagged \Recent))`)
	c2.run(`C: b3 STORE 2 +FLAGS.SILENT (\Deleted)
S: b3 OK STORE completed
C: b4 EXPUNGE
S: * 2 EXPUNGE
S: b4 OK EXPUNGE completed`)
	c1.run(`
S: * 2 FETCH (UID 2 FLAGS (\Deleted \Recent))
S: * 2 EXPUNGE
C: DONE
S: a2 OK IDLE completed
C: a3 NOOP
S: a3 OK NOOP completed`)
}

func TestIMAP4rev2(t *testing.T) {
	ts := newTestServer(t)
	ts.deliver(msg1)
	c := ts.login()
	// RFC 9051 §6.3.1, §6.3.2 (no RECENT, LIST in SELECT), §7.3.4 (ESEARCH).
	c.run(`
C: a1 ENABLE IMAP4rev2
S: * ENABLED IMAP4rev2
S: a1 OK ENABLE completed
C: a2 SELECT INBOX
S: * 1 EXISTS
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: ~ UIDNEXT 2
S: * LIST () "/" INBOX
S: a2 OK [READ-WRITE] SELECT completed
C: a3 SEARCH UNSEEN
S: * ESEARCH (TAG "a3") ALL 1
S: a3 OK SEARCH completed
C: a4 SEARCH SEEN
S: * ESEARCH (TAG "a4")
S: a4 OK SEARCH completed
C: a5 CREATE "Entwürfe"
S: a5 OK CREATE completed
C: a6 LIST "" Entw*
S: * LIST (\HasNoChildren) "/" "Entwürfe"
S: a6 OK LIST completed
C: a7 ID ("name" "test")
S: * ID ("name" "posthorn")
S: a7 OK ID completed`)
}

// TestPipelining: commands sent in one write are answered in order.
func TestPipelining(t *testing.T) {
	ts := newTestServer(t)
	ts.deliver(msg1)
	c := ts.dial()
	c.send("p1 LOGIN alice secret\r\np2 SELECT INBOX\r\np3 FETCH 1 UID\r\np4 NOOP\r\np5 LOGOUT")
	c.run(`
S: ~ p1 OK
S: ~ p2 OK
S: * 1 FETCH (UID 1)
S: p3 OK FETCH completed
S: p4 OK NOOP completed
S: * BYE Logging out
S: p5 OK LOGOUT completed`)
	c.expectClosed()
}

func TestHostileInput(t *testing.T) {
	ts := newTestServer(t, func(s *imapserver.Server) { s.Limits.MaxLineLength = 1000 })
	c := ts.login()
	c.run(`
C: a1 LIST "" ` + strings.Repeat("x", 2000) + `
S: a1 BAD...
C: a2 SEARCH ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((ALL))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))
S: a2 BAD...
C: a3 FETCH 1 FLAGS
S: a3 BAD [CLIENTBUG] FETCH not allowed in this state
C: a4 CREATE "&Jjo"
S: a4 NO [CANNOT] Invalid modified UTF-7 mailbox name
C: a5 LIST "" "*&AGE-"
S: a5 OK LIST completed
C: a6 BLURDYBLOOP
S: a6 BAD unknown command BLURDYBLOOP
C: a7 NOOP
S: a7 OK NOOP completed`)
}

func TestStartTLS(t *testing.T) {
	cert, err := tlsutil.NewTestCert()
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, func(s *imapserver.Server) {
		s.AllowInsecureAuth = false
		s.TLSConfig = cert.ServerConfig()
	})
	c := ts.dial()
	c.run(`
C: a1 CAPABILITY
S: * CAPABILITY IMAP4rev1 IMAP4rev2 STARTTLS LOGINDISABLED...
S: a1 OK CAPABILITY completed
C: a2 STARTTLS
S: a2 OK Begin TLS negotiation now`)
	tc := tls.Client(c.conn, cert.ClientConfig())
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.conn, c.br = tc, bufio.NewReader(tc)
	c.run(`
C: a3 CAPABILITY
S: * CAPABILITY IMAP4rev1 IMAP4rev2 AUTH=SCRAM-SHA-256-PLUS AUTH=SCRAM-SHA-256...
S: a3 OK CAPABILITY completed
C: a4 LOGIN alice secret
S: a4 OK [CAPABILITY...`)

	// Plaintext pipelined behind STARTTLS is refused (CVE-2011-0411 class).
	c2 := ts.dial()
	c2.send("b1 STARTTLS\r\nb2 LOGIN alice secret")
	c2.run(`S: * BYE Data pipelined behind STARTTLS`)
	c2.expectClosed()
}

func TestShutdown(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login()
	c2 := ts.login()
	c2.run(`C: a1 SELECT INBOX
S: ~ a1 OK
C: a2 IDLE
S: + idling`)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	c.run(`S: * BYE Server shutting down`)
	c.expectClosed()
	c2.run(`S: * BYE Server shutting down`)
	if _, err := net.Dial("tcp", ts.addr); err == nil {
		t.Error("listener still open")
	}
}

// panicBackend panics in ListMailboxes.
type panicBackend struct{ imapserver.Backend }
type panicUser struct{ imapserver.User }

func (b panicBackend) User(ctx context.Context, name string, info *imapserver.ConnInfo) (imapserver.User, error) {
	u, err := b.Backend.User(ctx, name, info)
	return panicUser{u}, err
}
func (panicUser) ListMailboxes(context.Context) ([]imapserver.MailboxInfo, error) {
	panic("backend bug")
}

func TestBackendPanic(t *testing.T) {
	ts := newTestServer(t, func(s *imapserver.Server) { s.Backend = panicBackend{s.Backend} })
	c := ts.login()
	c.run(`C: a1 LIST "" *
S: * BYE [SERVERBUG] Internal error`)
	c.expectClosed()
	// The server is still serving.
	c2 := ts.login()
	c2.run(`C: a1 NOOP
S: a1 OK NOOP completed`)
}

func TestConnLimitPerIP(t *testing.T) {
	ts := newTestServer(t, func(s *imapserver.Server) { s.Limits.MaxConnectionsPerIP = 1 })
	ts.dial()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || l != "* BYE [UNAVAILABLE] Too many connections\r\n" {
		t.Fatalf("got %q, %v", l, err)
	}
	var ne net.Error
	_ = errors.As(err, &ne)
}
