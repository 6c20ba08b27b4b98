package imapserver_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// sizedMessage returns a message of 14+80*lines octets.
func sizedMessage(subject byte, lines int) string {
	return "Subject: " + string(subject) + "\r\n\r\n" + strings.Repeat(strings.Repeat("x", 78)+"\r\n", lines)
}

// literalLines writes a message as "C:" lines of a transcript.
func literalLines(msg string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(msg, "\r\n") {
		if l != "" {
			b.WriteString("C: " + strings.TrimSuffix(l, "\r\n") + "\n")
		}
	}
	return b.String()
}

func uidValidity(t *testing.T, ts *testServer, mailbox string) uint32 {
	t.Helper()
	u, err := ts.store.User(context.Background(), "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := u.Status(context.Background(), mailbox)
	if err != nil {
		t.Fatal(err)
	}
	return st.UIDValidity
}

// RFC 9208: appends, copies, multi-appends and deliveries that would cross
// a limit fail with NO [OVERQUOTA] (§4.3.1) and change nothing; a move
// stays within the quota root; GETQUOTA, GETQUOTAROOT and STATUS DELETED /
// DELETED-STORAGE report what IMAP, SMTP delivery and POP3 share.
func TestQuota(t *testing.T) {
	ts := newTestServer(t)
	// 10 KiB and 4 messages for the user's one quota root "".
	if err := ts.store.SetQuota("alice", 10240, 4); err != nil {
		t.Fatal(err)
	}
	m3k := sizedMessage('a', 37)  // 2974 octets
	m8k := sizedMessage('b', 100) // 8014 octets
	inbox, archive := uidValidity(t, ts, "INBOX"), uidValidity(t, ts, "Archive")
	c := ts.login()
	c.run(fmt.Sprintf(`
C: a1 CAPABILITY
S: ~ QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE MULTIAPPEND
S: a1 OK CAPABILITY completed
C: a2 GETQUOTAROOT INBOX
S: * QUOTAROOT INBOX ""
S: * QUOTA "" (STORAGE 0 10 MESSAGE 0 4)
S: a2 OK GETQUOTAROOT completed
C: a3 GETQUOTAROOT "No such box"
S: * QUOTAROOT "No such box" ""
S: * QUOTA "" (STORAGE 0 10 MESSAGE 0 4)
S: a3 OK GETQUOTAROOT completed
C: a4 GETQUOTA "other"
S: a4 NO [NONEXISTENT] No such quota root
C: a5 APPEND INBOX {2974}
S: + Ready for literal data
%sC:
S: a5 OK [APPENDUID %d 1] APPEND completed
C: a6 GETQUOTA ""
S: * QUOTA "" (STORAGE 2 10 MESSAGE 1 4)
S: a6 OK GETQUOTA completed`, literalLines(m3k), inbox))

	// The 8 KiB message would bring storage to 10988 octets.
	c.run(fmt.Sprintf(`
C: b1 APPEND INBOX {8014+}
%sC:
S: b1 NO [OVERQUOTA] Over quota
C: b2 STATUS INBOX (MESSAGES UIDNEXT)
S: * STATUS INBOX (MESSAGES 1 UIDNEXT 2)
S: b2 OK STATUS completed`, literalLines(m8k)))

	// MULTIAPPEND (RFC 3502): the second message crosses the limit, so
	// neither is added.
	c.run(fmt.Sprintf(`
C: c1 APPEND INBOX (\Seen) {2974+}
%sC:  {8014+}
%sC:
S: c1 NO [OVERQUOTA] Over quota
C: c2 STATUS INBOX (MESSAGES UIDNEXT)
S: * STATUS INBOX (MESSAGES 1 UIDNEXT 2)
S: c2 OK STATUS completed`, literalLines(m3k), literalLines(m8k)))

	// COPY: two copies fit (8922 octets, 3 messages), a third does not.
	c.run(fmt.Sprintf(`
C: d1 SELECT INBOX
S: ~ d1 OK
C: d2 COPY 1 Archive
S: d2 OK [COPYUID %[1]d 1 1] COPY completed
C: d3 COPY 1 Archive
S: d3 OK [COPYUID %[1]d 1 2] COPY completed
C: d4 COPY 1 Archive
S: d4 NO [OVERQUOTA] Over quota
C: d5 STATUS Archive (MESSAGES)
S: * STATUS Archive (MESSAGES 2)
S: d5 OK STATUS completed
C: d6 GETQUOTA ""
S: * QUOTA "" (STORAGE 8 10 MESSAGE 3 4)
S: d6 OK GETQUOTA completed`, archive))

	// SMTP/LMTP delivery sees the same quota and adds nothing.
	if _, err := ts.store.Deliver(context.Background(), "alice", strings.NewReader(m3k)); !errors.Is(err, imapserver.ErrOverQuota) {
		t.Fatalf("delivery over quota: %v, want ErrOverQuota", err)
	}

	// A MOVE adds nothing to the quota root: it works at the limit.
	c.run(`
C: e1 UID MOVE 1 Trash
S: * OK [COPYUID ...
S: * 1 EXPUNGE
S: e1 OK MOVE completed
C: e2 GETQUOTA ""
S: * QUOTA "" (STORAGE 8 10 MESSAGE 3 4)
S: e2 OK GETQUOTA completed`)

	// RFC 9208 §4.1.4: STATUS DELETED and DELETED-STORAGE (1024 octets).
	c.run(`
C: f1 SELECT Archive
S: ~ f1 OK
C: f2 STORE 1:2 +FLAGS.SILENT (\Deleted)
S: f2 OK STORE completed
C: f3 STATUS Archive (MESSAGES DELETED DELETED-STORAGE)
S: * STATUS Archive (MESSAGES 2 DELETED 2 DELETED-STORAGE 6)
S: f3 OK STATUS completed
C: f4 EXPUNGE
S: * 2 EXPUNGE
S: * 1 EXPUNGE
S: f4 OK EXPUNGE completed
C: f5 GETQUOTA ""
S: * QUOTA "" (STORAGE 2 10 MESSAGE 1 4)
S: f5 OK GETQUOTA completed`)

	// POP3 deletes through the same store and frees the same quota.
	if _, err := ts.store.DeliverTo(context.Background(), "alice", "INBOX", strings.NewReader(m3k), nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	uidls, _, unlock, err := ts.store.LockMaildrop(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.store.DeleteMaildropMessages(context.Background(), "alice", uidls[:1]); err != nil {
		t.Fatal(err)
	}
	unlock()
	c.run(`
C: g1 GETQUOTA ""
S: * QUOTA "" (STORAGE 2 10 MESSAGE 1 4)
S: g1 OK GETQUOTA completed`)
}

// RFC 9208 §4.1.3: SETQUOTA is refused unless Server.AllowSetQuota
// permits it; QUOTASET is advertised only then. The new limits replace
// all previous ones.
func TestSetQuota(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login()
	c.run(`
C: a1 SETQUOTA "" (STORAGE 100)
S: a1 NO [CANNOT] SETQUOTA is not supported`)

	ts2 := newTestServer(t, func(s *imapserver.Server) {
		s.AllowSetQuota = func(ctx context.Context, username, root string) bool { return username == "alice" && root == "" }
	})
	if err := ts2.store.AddUser("bob", "secret"); err != nil {
		t.Fatal(err)
	}
	ts2.deliver(sizedMessage('a', 37))
	c = ts2.login()
	c.run(`
C: a1 CAPABILITY
S: ~ QUOTASET
S: a1 OK CAPABILITY completed
C: a2 SETQUOTA "" (STORAGE 100 MESSAGE 10)
S: * QUOTA "" (STORAGE 2 100 MESSAGE 1 10)
S: a2 OK SETQUOTA completed
C: a3 SETQUOTA "" (MESSAGE 5)
S: * QUOTA "" (MESSAGE 1 5)
S: a3 OK SETQUOTA completed
C: a4 SETQUOTA "" ()
S: a4 OK SETQUOTA completed
C: a4b GETQUOTAROOT INBOX
S: * QUOTAROOT INBOX
S: a4b OK GETQUOTAROOT completed
C: a4c GETQUOTA ""
S: a4c NO [NONEXISTENT] No such quota root
C: a5 SETQUOTA "" (MAILBOX 3)
S: a5 NO [CANNOT] Unsupported quota resource MAILBOX
C: a6 SETQUOTA "" (MESSAGE 0)
S: a6 NO [CANNOT] Cannot set that limit
C: a7 SETQUOTA "x" (MESSAGE 3)
S: a7 NO [NOPERM] Permission denied
C: a8 SETQUOTA "" (STORAGE x)
S: a8 BAD ...`)
	c2 := ts2.dial()
	c2.run(`
C: b1 LOGIN bob secret
S: b1 OK ...
C: b2 SETQUOTA "" (STORAGE 1)
S: b2 NO [NOPERM] Permission denied`)
}
