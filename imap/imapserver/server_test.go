package imapserver_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
	"github.com/posthorn/posthorn/imap/imapserver/maildir"
	"github.com/posthorn/posthorn/internal/wiretest"
)

// testServer runs a Server with a store holding user "alice" (password
// "secret") on 127.0.0.1: imapmem, or with POSTHORN_TEST_STORE=maildir
// the Maildir store in a temporary directory, so that the same tests
// hold for both stores (.ci/run runs the package both ways).
type testServer struct {
	t     *testing.T
	srv   *imapserver.Server
	store testStore
	addr  string
}

// testStore is what the tests use of a store beyond imapserver.Backend:
// the methods imapmem and maildir share.
type testStore interface {
	imapserver.Backend
	AddUser(username, password string) error
	Deliver(ctx context.Context, username string, r io.Reader) (uint32, error)
	DeliverTo(ctx context.Context, username, mailbox string, r io.Reader, flags []string, date time.Time) (uint32, error)
	SetQuota(username string, storage, messages int64) error
	LockMaildrop(ctx context.Context, username string) (uidls []string, sizes []int64, unlock func(), err error)
	DeleteMaildropMessages(ctx context.Context, username string, uidls []string) error
}

// newTestStore returns the store the tests run over (see testServer).
func newTestStore(t testing.TB) testStore {
	if os.Getenv("POSTHORN_TEST_STORE") == "maildir" {
		s, err := maildir.Open(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	return imapmem.New()
}

func newTestServer(t *testing.T, configure ...func(*imapserver.Server)) *testServer {
	t.Helper()
	store := newTestStore(t)
	if err := store.AddUser("alice", "secret"); err != nil {
		t.Fatal(err)
	}
	srv := &imapserver.Server{Backend: store, AllowInsecureAuth: true}
	for _, f := range configure {
		f(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-done; err != imapserver.ErrServerClosed {
			t.Errorf("Serve returned %v", err)
		}
	})
	return &testServer{t: t, srv: srv, store: store, addr: ln.Addr().String()}
}

// deliver adds a message to alice's INBOX.
func (ts *testServer) deliver(msg string) {
	ts.t.Helper()
	if _, err := ts.store.Deliver(context.Background(), "alice", strings.NewReader(msg)); err != nil {
		ts.t.Fatal(err)
	}
}

// testConn is a raw client connection.
type testConn struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

func (ts *testServer) dial() *testConn {
	ts.t.Helper()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(func() { c.Close() })
	tc := &testConn{t: ts.t, conn: c, br: bufio.NewReader(c)}
	if l := tc.readLine(); !strings.HasPrefix(l, "* OK [CAPABILITY IMAP4rev1 IMAP4rev2") {
		ts.t.Fatalf("greeting %q", l)
	}
	return tc
}

// login dials and logs in as alice.
func (ts *testServer) login() *testConn {
	c := ts.dial()
	c.run(`
C: L1 LOGIN alice secret
S: L1 OK [CAPABILITY ...`)
	return c
}

func (c *testConn) readLine() string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := c.br.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (got %q)", err, l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

func (c *testConn) send(line string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(line + "\r\n")); err != nil {
		c.t.Fatal(err)
	}
}

// run plays a transcript with the runner all server tests share
// (internal/wiretest): "C: " lines are sent, "S: " lines must arrive in
// that order; an S line ending in "..." is a prefix; "S: ~ text" skips
// lines up to one containing text.
func (c *testConn) run(script string) {
	c.t.Helper()
	wiretest.New(c.t, c.conn, c.br).Script(script)
}

// expectClosed checks that the server closed the connection.
func (c *testConn) expectClosed() {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if l, err := c.br.ReadString('\n'); err == nil {
		c.t.Fatalf("connection still open, got %q", l)
	}
}

const msg1 = "From: Bob <bob@example.org>\r\n" +
	"To: alice@example.org\r\n" +
	"Subject: Hello\r\n" +
	"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n" +
	"Message-ID: <1@example.org>\r\n" +
	"\r\n" +
	"Hello Alice,\r\nhow are you?\r\n"

const msg2 = "From: Carol <carol@example.org>\r\n" +
	"To: alice@example.org\r\n" +
	"Subject: Report\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=xx\r\n" +
	"\r\n" +
	"--xx\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"See attached marzipan.\r\n" +
	"--xx\r\n" +
	"Content-Type: application/octet-stream\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"aGVsbG8=\r\n" +
	"--xx--\r\n"

func TestGreetingAndCapability(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	// RFC 9051 §6.1.1; LOGINDISABLED absent because AllowInsecureAuth.
	c.run(`
C: a1 CAPABILITY
S: * CAPABILITY IMAP4rev1 IMAP4rev2 AUTH=SCRAM-SHA-256 AUTH=SCRAM-SHA-1 AUTH=PLAIN AUTH=LOGIN SASL-IR LITERAL+ ENABLE IDLE UIDPLUS MOVE NAMESPACE ID UNSELECT CHILDREN SPECIAL-USE CREATE-SPECIAL-USE LIST-EXTENDED LIST-STATUS STATUS=SIZE ESEARCH SEARCHRES UTF8=ACCEPT APPENDLIMIT=67108864 BINARY CONDSTORE QRESYNC
S: a1 OK CAPABILITY completed
C: a2 NOOP
S: a2 OK NOOP completed
C: a3 SELECT INBOX
S: a3 BAD [CLIENTBUG] SELECT not allowed in this state
C: a4 LOGIN alice wrong
S: a4 NO [AUTHENTICATIONFAILED] Authentication failed
C: a5 LOGIN alice secret
S: a5 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+...
C: a6 LOGOUT
S: * BYE Logging out
S: a6 OK LOGOUT completed`)
	c.expectClosed()
}

func TestLoginDisabledWithoutTLS(t *testing.T) {
	ts := newTestServer(t, func(s *imapserver.Server) { s.AllowInsecureAuth = false })
	c := ts.dial()
	// RFC 9051 §6.2.3: LOGINDISABLED, and LOGIN refused.
	c.run(`
C: a1 CAPABILITY
S: * CAPABILITY IMAP4rev1 IMAP4rev2 LOGINDISABLED AUTH=SCRAM-SHA-256 AUTH=SCRAM-SHA-1 SASL-IR LITERAL+...
S: a1 OK CAPABILITY completed
C: a2 LOGIN alice secret
S: a2 NO [PRIVACYREQUIRED] LOGIN is disabled without TLS; use STARTTLS
C: a3 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==
S: a3 NO [PRIVACYREQUIRED] Mechanism not available without TLS`)
}

func TestAuthenticatePlain(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	// RFC 4959 SASL-IR, then the continuation form of RFC 9051 §6.2.2.
	c.run(`
C: a1 AUTHENTICATE PLAIN AGFsaWNlAHdyb25n
S: a1 NO [AUTHENTICATIONFAILED] Authentication failed
C: a2 AUTHENTICATE PLAIN
S: +...
C: *
S: a2 BAD Authentication aborted
C: a3 AUTHENTICATE PLAIN
S: +...
C: AGFsaWNlAHNlY3JldA==
S: a3 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+...`)
}

func TestNotIMAP(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.run(`
C: GET / HTTP/1.1
S: * BYE Not an IMAP command`)
	c.expectClosed()
}

func TestTooManyAuthFailures(t *testing.T) {
	ts := newTestServer(t, func(s *imapserver.Server) { s.Limits.MaxAuthFailures = 2 })
	c := ts.dial()
	c.run(`
C: a1 LOGIN alice x
S: a1 NO [AUTHENTICATIONFAILED] Authentication failed
C: a2 LOGIN alice y
S: * BYE Too many authentication failures`)
	c.expectClosed()
}

func TestSelectFetch(t *testing.T) {
	ts := newTestServer(t)
	ts.deliver(msg1)
	ts.deliver(msg2)
	c := ts.login()
	st, _ := ts.store.User(context.Background(), "alice", nil)
	status, _ := st.Status(context.Background(), "INBOX")
	v := status.UIDValidity
	// RFC 3501 §6.3.1 (IMAP4rev1 session).
	c.run(fmt.Sprintf(`
C: a1 SELECT inbox
S: * 2 EXISTS
S: * 2 RECENT
S: * OK [UNSEEN 1] First unseen
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
S: * OK [UIDVALIDITY %d] UIDs valid
S: * OK [UIDNEXT 3] Predicted next UID
S: a1 OK [READ-WRITE] SELECT completed
C: a2 FETCH 1:* (UID FLAGS RFC822.SIZE)
S: * 1 FETCH (UID 1 FLAGS (\Recent) RFC822.SIZE %d)
S: * 2 FETCH (UID 2 FLAGS (\Recent) RFC822.SIZE %d)
S: a2 OK FETCH completed
C: a3 FETCH 1 ENVELOPE
S: * 1 FETCH (ENVELOPE ("Mon, 7 Feb 1994 21:52:25 -0800" "Hello" (("Bob" NIL "bob" "example.org")) (("Bob" NIL "bob" "example.org")) (("Bob" NIL "bob" "example.org")) ((NIL NIL "alice" "example.org")) NIL NIL NIL "<1@example.org>"))
S: a3 OK FETCH completed
C: a4 FETCH 2 BODYSTRUCTURE
(The line count of a body without a final line break is imap/internal/imapmsg's call.)
S: * 2 FETCH (BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 22 ...
S: a4 OK FETCH completed
C: a5 FETCH 2 (BODY.PEEK[1] BINARY.PEEK[2] BINARY.SIZE[2])
S: * 2 FETCH (BODY[1] {22}
S: See attached marzipan. BINARY[2] {5}
S: hello BINARY.SIZE[2] 5)
S: a5 OK FETCH completed
C: a6 UID FETCH 1 (BODY[HEADER.FIELDS (Subject)] BODY.PEEK[TEXT]<0.5>)
S: * 1 FETCH (UID 1 BODY[HEADER.FIELDS (Subject)] {18}
S: Subject: Hello
S:
S:  BODY[TEXT]<0> {5}
S: Hello FLAGS (\Seen \Recent))
S: a6 OK FETCH completed
C: a7 FETCH 1 FLAGS
S: * 1 FETCH (FLAGS (\Seen \Recent))
S: a7 OK FETCH completed
C: a8 FETCH 3 FLAGS
S: a8 BAD Invalid sequence number
C: a9 UID FETCH 3:5 FLAGS
S: a9 OK FETCH completed`, v, len(msg1), len(msg2)))
}

func TestStoreSearchExpunge(t *testing.T) {
	ts := newTestServer(t)
	ts.deliver(msg1)
	ts.deliver(msg2)
	ts.deliver(msg1)
	c := ts.login()
	c.run(`
C: a1 SELECT INBOX
S: * 3 EXISTS...
S: ~ a1 OK [READ-WRITE]
C: a2 STORE 1:2 +FLAGS (\Deleted $Work)
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work \*)] Flags permitted
S: * 1 FETCH (FLAGS (\Deleted $Work \Recent))
S: * 2 FETCH (FLAGS (\Deleted $Work \Recent))
S: a2 OK STORE completed
C: a3 UID STORE 2 -FLAGS.SILENT ($Work)
S: a3 OK STORE completed
C: a4 SEARCH DELETED
S: * SEARCH 1 2
S: a4 OK SEARCH completed
C: a5 UID SEARCH RETURN (MIN COUNT) KEYWORD $Work
S: * ESEARCH (TAG "a5") UID MIN 1 COUNT 1
S: a5 OK SEARCH completed
C: a6 SEARCH BODY marzipan
S: * SEARCH 2
S: a6 OK SEARCH completed
C: a7 SEARCH OR SUBJECT report FROM bob NOT DELETED
S: * SEARCH 3
S: a7 OK SEARCH completed
C: a8 SEARCH RETURN (SAVE) DELETED
S: a8 OK SEARCH completed
C: a9 FETCH $ UID
S: * 1 FETCH (UID 1)
S: * 2 FETCH (UID 2)
S: a9 OK FETCH completed
C: b1 UID EXPUNGE 2
S: * 2 EXPUNGE
S: b1 OK EXPUNGE completed
C: b2 EXPUNGE
S: * 1 EXPUNGE
S: b2 OK EXPUNGE completed
C: b3 UID FETCH 1:* UID
S: * 1 FETCH (UID 3)
S: b3 OK FETCH completed`)
}

func TestMailboxCommands(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login()
	c.run(`
C: a1 CREATE Projects/Posthorn
S: a1 OK CREATE completed
C: a2 CREATE Projects
S: a2 NO [ALREADYEXISTS] Mailbox already exists
C: a3 CREATE Stuff (USE (\Important))
S: a3 NO [USEATTR] Special-use attribute not supported
C: a4 LIST "" %
S: * LIST (\HasNoChildren \Archive) "/" Archive
S: * LIST (\HasNoChildren \Drafts) "/" Drafts
S: * LIST (\HasNoChildren) "/" INBOX
S: * LIST (\HasNoChildren \Junk) "/" Junk
S: * LIST (\HasChildren) "/" Projects
S: * LIST (\HasNoChildren \Sent) "/" Sent
S: * LIST (\HasNoChildren \Trash) "/" Trash
S: a4 OK LIST completed
C: a5 LIST "" ""
S: * LIST (\Noselect) "/" ""
S: a5 OK LIST completed
C: a6 RENAME Projects Work
S: a6 OK RENAME completed
C: a7 SUBSCRIBE Work/Posthorn
S: a7 OK SUBSCRIBE completed
C: a8 LIST (SUBSCRIBED) "" Work/*
S: * LIST (\HasNoChildren \Subscribed) "/" Work/Posthorn
S: a8 OK LIST completed
C: a9 LIST (SPECIAL-USE) "" * RETURN (STATUS (MESSAGES SIZE))
S: * LIST (\HasNoChildren \Archive) "/" Archive
S: * STATUS Archive (MESSAGES 0 SIZE 0)
S: * LIST (\HasNoChildren \Drafts) "/" Drafts
S: * STATUS Drafts (MESSAGES 0 SIZE 0)
S: * LIST (\HasNoChildren \Junk) "/" Junk
S: * STATUS Junk (MESSAGES 0 SIZE 0)
S: * LIST (\HasNoChildren \Sent) "/" Sent
S: * STATUS Sent (MESSAGES 0 SIZE 0)
S: * LIST (\HasNoChildren \Trash) "/" Trash
S: * STATUS Trash (MESSAGES 0 SIZE 0)
S: a9 OK LIST completed
C: b1 CREATE "Entw&APw-rfe"
S: b1 OK CREATE completed
C: b2 LIST "" Entw*
S: * LIST (\HasNoChildren) "/" Entw&APw-rfe
S: b2 OK LIST completed
C: b3 CREATE "Bad&Jjo"
S: b3 NO [CANNOT] Invalid modified UTF-7 mailbox name
C: b4 DELETE Work/Posthorn
S: b4 OK DELETE completed
C: b5 DELETE Work/Posthorn
S: b5 NO [NONEXISTENT] No such mailbox
C: b6 LSUB "" *
S: * LSUB (\HasNoChildren) "/" Archive
S: * LSUB (\HasNoChildren) "/" Drafts
S: * LSUB (\HasNoChildren) "/" INBOX
S: * LSUB (\HasNoChildren) "/" Junk
S: * LSUB (\HasNoChildren) "/" Sent
S: * LSUB (\HasNoChildren) "/" Trash
S: * LSUB (\NonExistent) "/" Work/Posthorn
S: b6 OK LSUB completed
C: b7 NAMESPACE
S: * NAMESPACE (("" "/")) NIL NIL
S: b7 OK NAMESPACE completed
C: b8 STATUS INBOX (MESSAGES UIDNEXT UNSEEN DELETED SIZE)
S: * STATUS INBOX (MESSAGES 0 UIDNEXT 1 UNSEEN 0 DELETED 0 SIZE 0)
S: b8 OK STATUS completed`)
}

func TestAppendCopyMove(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login()
	st, _ := ts.store.User(context.Background(), "alice", nil)
	inbox, _ := st.Status(context.Background(), "INBOX")
	sent, _ := st.Status(context.Background(), "Sent")
	c.run(fmt.Sprintf(`
C: a1 SELECT INBOX
S: * 0 EXISTS...
S: ~ a1 OK [READ-WRITE]
C: a2 APPEND INBOX (\Seen) "14-Jul-2024 02:44:25 +0200" {13}
S: + Ready for literal data
C: Subject: x
C:
S: * 1 EXISTS
S: * 1 RECENT
S: a2 OK [APPENDUID %d 1] APPEND completed
C: a3 APPEND INBOX {13+}
C: Subject: y
C:
S: * 2 EXISTS
S: * 2 RECENT
S: a3 OK [APPENDUID %d 2] APPEND completed
C: a4 FETCH 1 (FLAGS INTERNALDATE)
S: * 1 FETCH (FLAGS (\Seen \Recent) INTERNALDATE "14-Jul-2024 02:44:25 +0200")
S: a4 OK FETCH completed
C: a5 COPY 1:2 Sent
S: a5 OK [COPYUID %d 1:2 1:2] COPY completed
C: a6 MOVE 1 Sent
S: * OK [COPYUID %d 1 3] Moved
S: * 1 EXPUNGE
S: a6 OK MOVE completed
C: a7 COPY 1 Nowhere
S: a7 NO [TRYCREATE] No such mailbox
C: a8 APPEND Nowhere {1+}
C: x
S: a8 NO [TRYCREATE] No such mailbox
C: a9 STATUS Sent (MESSAGES)
S: * STATUS Sent (MESSAGES 3)
S: a9 OK STATUS completed
C: b1 EXAMINE Sent
S: * OK [CLOSED] Previous mailbox closed
S: * 3 EXISTS...
S: ~ b1 OK [READ-ONLY]
C: b2 STORE 1 +FLAGS (\Deleted)
S: b2 NO [READ-ONLY] Mailbox is read-only
C: b3 UNSELECT
S: b3 OK UNSELECT completed
C: b4 FETCH 1 FLAGS
S: b4 BAD [CLIENTBUG] FETCH not allowed in this state`, inbox.UIDValidity, inbox.UIDValidity, sent.UIDValidity, sent.UIDValidity))
}

func TestAppendTooBig(t *testing.T) {
	ts := newTestServer(t, func(s *imapserver.Server) { s.Limits.MaxAppend = 100 })
	c := ts.login()
	// RFC 7888 §4 / RFC 4469: a synchronising literal over the limit is
	// refused before the data is sent; a non-synchronising one is read
	// and refused.
	c.run(`
C: a1 APPEND INBOX {1000}
S: a1 NO [TOOBIG]...
C: a2 APPEND INBOX {101+}
C: ` + strings.Repeat("x", 101) + `
S: a2 BAD [TOOBIG]...
C: a3 NOOP
S: a3 OK NOOP completed`)
}
