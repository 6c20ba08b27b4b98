package imapserver_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// The RFC 7162 examples, exchange by exchange, on an imapmem store. The
// store's mod-sequences are small and predictable: a new mailbox starts
// at 1 and every change (a delivery, one STORE, one EXPUNGE) takes the
// next, so five deliveries leave messages UID 1..5 with MODSEQ 2..6.
// "%V" in a script stands for INBOX's UIDVALIDITY.

// newCondstoreServer returns a server whose INBOX holds n messages.
func newCondstoreServer(t *testing.T, n int, configure ...func(*imapserver.Server)) *testServer {
	t.Helper()
	ts := newTestServer(t, configure...)
	for range n {
		ts.deliver(msg1)
	}
	ts.claimRecent()
	return ts
}

// claimRecent opens INBOX read-write and closes it, so that no message
// delivered so far is \Recent in the sessions of the test.
func (ts *testServer) claimRecent() {
	ts.t.Helper()
	u, err := ts.store.User(context.Background(), "alice", nil)
	if err != nil {
		ts.t.Fatal(err)
	}
	mb, err := u.OpenMailbox(context.Background(), "INBOX", false)
	if err != nil {
		ts.t.Fatal(err)
	}
	mb.Close()
}

// uidValidity returns INBOX's UIDVALIDITY.
func (ts *testServer) uidValidity() uint32 {
	ts.t.Helper()
	u, err := ts.store.User(context.Background(), "alice", nil)
	if err != nil {
		ts.t.Fatal(err)
	}
	st, err := u.Status(context.Background(), "INBOX")
	if err != nil {
		ts.t.Fatal(err)
	}
	return st.UIDValidity
}

// runV runs a script with %V replaced by INBOX's UIDVALIDITY.
func (c *testConn) runV(ts *testServer, script string) {
	c.t.Helper()
	c.run(strings.ReplaceAll(script, "%V", fmt.Sprint(ts.uidValidity())))
}

// selectLines are the untagged responses of SELECT INBOX in an
// IMAP4rev1 session, for n messages none of which is recent any more,
// the first unseen being unseen (0 = none).
func selectLines(n, uidNext, unseen int) string {
	u := ""
	if unseen > 0 {
		u = fmt.Sprintf("\nS: * OK [UNSEEN %d] First unseen", unseen)
	}
	return fmt.Sprintf(`
S: * %d EXISTS
S: * 0 RECENT%s
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft...
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft ...
S: * OK [UIDVALIDITY %%V] UIDs valid
S: * OK [UIDNEXT %d] Predicted next UID`, n, u, uidNext)
}

// RFC 7162 §3.1.1, §3.2.2, §3.2.3: both capabilities; ENABLE QRESYNC
// implies CONDSTORE, and each is reported once.
func TestCondstoreEnable(t *testing.T) {
	ts := newCondstoreServer(t, 0)
	c := ts.login()
	c.run(`
C: e1 CAPABILITY
S: ~ CONDSTORE QRESYNC
S: e1 OK CAPABILITY completed
C: e2 ENABLE CONDSTORE
S: * ENABLED CONDSTORE
S: e2 OK ENABLE completed
C: e3 ENABLE QRESYNC CONDSTORE
S: * ENABLED QRESYNC
S: e3 OK ENABLE completed
C: e4 ENABLE QRESYNC
S: * ENABLED
S: e4 OK ENABLE completed`)
	c = ts.login()
	c.run(`
C: e1 ENABLE QRESYNC CONDSTORE
S: * ENABLED QRESYNC CONDSTORE
S: e1 OK ENABLE completed`)
}

// RFC 7162 §3.1.2.1 Example 1, §3.1.8 Example 18, §3.2.11: SELECT after
// an enabling command, SELECT (CONDSTORE), and CLOSED when a SELECT
// replaces the selected mailbox.
func TestCondstoreSelect(t *testing.T) {
	ts := newCondstoreServer(t, 5)
	c := ts.login()
	c.runV(ts, `
C: A142 SELECT INBOX`+selectLines(5, 6, 1)+`
S: A142 OK [READ-WRITE] SELECT completed
C: A143 SELECT INBOX (CONDSTORE)
S: * OK [CLOSED] Previous mailbox closed`+selectLines(5, 6, 1)+`
S: * OK [HIGHESTMODSEQ 6] Highest
S: A143 OK [READ-WRITE] SELECT completed
C: A144 EXAMINE Sent
S: * OK [CLOSED] Previous mailbox closed
S: * 0 EXISTS
S: * 0 RECENT
S: ~ UIDNEXT 1
S: * OK [HIGHESTMODSEQ 1] Highest
S: A144 OK [READ-ONLY] EXAMINE completed`)
	// The first enabling command with a mailbox selected reports its
	// HIGHESTMODSEQ (RFC 7162 §3.1); later ones do not.
	c = ts.login()
	c.run(`
C: s1 SELECT INBOX
S: ~ s1 OK
C: s2 ENABLE CONDSTORE
S: * ENABLED CONDSTORE
S: * OK [HIGHESTMODSEQ 6] Highest
S: s2 OK ENABLE completed
C: s3 FETCH 1 (MODSEQ)
S: * 1 FETCH (MODSEQ (2))
S: s3 OK FETCH completed`)
	// RFC 7162 §3.1.7 Example 17 (from the authenticated state).
	c = ts.login()
	c.run(`
C: A042 STATUS INBOX (UIDNEXT MESSAGES HIGHESTMODSEQ)
S: * STATUS INBOX (UIDNEXT 6 MESSAGES 5 HIGHESTMODSEQ 6)
S: A042 OK STATUS completed
C: A043 SELECT INBOX
S: ~ HIGHESTMODSEQ 6
S: A043 OK [READ-WRITE] SELECT completed`)
}

// RFC 7162 §3.1.3 Examples 3 to 8 and §3.1.11: conditional STORE.
func TestCondstoreStore(t *testing.T) {
	ts := newCondstoreServer(t, 5)
	c := ts.login()
	c.run(`
C: a100 SELECT INBOX
S: ~ a100 OK
C: a103 UID STORE 4,2 (UNCHANGEDSINCE 6) +FLAGS.SILENT (\Deleted)
S: * OK [HIGHESTMODSEQ 6] Highest
S: * 2 FETCH (UID 2 MODSEQ (7))
S: * 4 FETCH (UID 4 MODSEQ (7))
S: a103 OK STORE completed
C: a104 STORE * (UNCHANGEDSINCE 7) +FLAGS.SILENT (\Deleted $Processed)
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Processed)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Processed \*)] Flags permitted
S: * 5 FETCH (UID 5 MODSEQ (8))
S: a104 OK STORE completed
C: d105 STORE 1:3 (UNCHANGEDSINCE 6) +FLAGS.SILENT (\Seen)
S: * 1 FETCH (UID 1 MODSEQ (9))
S: * 3 FETCH (UID 3 MODSEQ (9))
S: d105 OK [MODIFIED 2] Conditional STORE failed for some messages
C: d106 STORE 4 (UNCHANGEDSINCE 100) -FLAGS (\Deleted)
S: * 4 FETCH (UID 4 MODSEQ (10) FLAGS ())
S: d106 OK STORE completed
C: a102 STORE 1 (UNCHANGEDSINCE 0) +FLAGS.SILENT ($MDNSent)
S: a102 OK [MODIFIED 1] Conditional STORE failed for some messages
C: a107 UID STORE 1,5 (UNCHANGEDSINCE 0) +FLAGS.SILENT ($MDNSent)
S: a107 OK [MODIFIED 1,5] Conditional STORE failed for some messages
C: q1 STORE 1 +FLAGS.SILENT (\Seen)
S: q1 OK STORE completed
C: q2 STORE 1 +FLAGS (\Seen)
S: * 1 FETCH (UID 1 MODSEQ (9) FLAGS (\Seen))
S: q2 OK STORE completed
C: q3 STORE 3 +FLAGS.SILENT (\Flagged)
S: * 3 FETCH (UID 3 MODSEQ (11))
S: q3 OK STORE completed
C: q4 FETCH 1:5 (MODSEQ)
S: * 1 FETCH (MODSEQ (9))
S: * 2 FETCH (MODSEQ (7))
S: * 3 FETCH (MODSEQ (11))
S: * 4 FETCH (MODSEQ (10))
S: * 5 FETCH (MODSEQ (8))
S: q4 OK FETCH completed
C: q5 STORE 1 (UNCHANGEDSINCE x) +FLAGS (\Seen)
S: q5 BAD ...
C: q6 STORE 1 (UNCHANGEDSINCE 5 UNCHANGEDSINCE 6) +FLAGS (\Seen)
S: q6 BAD ...`)
}

// RFC 7162 §3.1.3 Examples 9 to 11: UNCHANGEDSINCE conflicts between
// two sessions. The loser learns the winner's change in the same
// response (RECOMMENDED, Example 10) and retries with the new
// mod-sequence; a STORE on a mixture of expunged, modified and
// unchanged messages answers NO [MODIFIED] (Example 11).
func TestCondstoreConflict(t *testing.T) {
	ts := newCondstoreServer(t, 7)
	a, b := ts.login(), ts.login()
	for _, c := range []*testConn{a, b} {
		c.run(`
C: s1 ENABLE CONDSTORE
S: * ENABLED CONDSTORE
S: s1 OK ENABLE completed
C: s2 SELECT INBOX
S: ~ HIGHESTMODSEQ 8
S: s2 OK [READ-WRITE] SELECT completed
C: s3 UID FETCH 1 (MODSEQ)
S: * 1 FETCH (UID 1 MODSEQ (2))
S: s3 OK FETCH completed`)
	}
	a.run(`
C: a1 UID STORE 1 (UNCHANGEDSINCE 2) +FLAGS.SILENT ($Label1)
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Label1)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Label1 \*)] Flags permitted
S: * 1 FETCH (UID 1 MODSEQ (9))
S: a1 OK STORE completed`)
	b.run(`
C: b1 UID STORE 1 (UNCHANGEDSINCE 2) +FLAGS.SILENT ($Label2)
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Label1)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Label1 \*)] Flags permitted
S: * 1 FETCH (UID 1 FLAGS ($Label1) MODSEQ (9))
S: b1 OK [MODIFIED 1] Conditional STORE failed for some messages
C: b2 UID STORE 1 (UNCHANGEDSINCE 9) +FLAGS.SILENT ($Label2)
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Label1 $Label2)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Label1 $Label2 \*)] Flags permitted
S: * 1 FETCH (UID 1 MODSEQ (10))
S: b2 OK STORE completed`)
	a.run(`
C: a2 NOOP
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Label1 $Label2)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Label1 $Label2 \*)] Flags permitted
S: * 1 FETCH (UID 1 FLAGS ($Label1 $Label2) MODSEQ (10))
S: a2 OK NOOP completed`)

	// Example 11: b marks 4:7 \Deleted and expunges them; a, by
	// sequence number, cannot be told yet and sees NO [MODIFIED 2].
	b.run(`
C: b3 STORE 2 +FLAGS.SILENT (\Answered)
S: * 2 FETCH (UID 2 MODSEQ (11))
S: b3 OK STORE completed
C: b4 STORE 4:7 +FLAGS.SILENT (\Deleted)
S: * 4 FETCH (UID 4 MODSEQ (12))
S: * 5 FETCH (UID 5 MODSEQ (12))
S: * 6 FETCH (UID 6 MODSEQ (12))
S: * 7 FETCH (UID 7 MODSEQ (12))
S: b4 OK STORE completed
C: b5 EXPUNGE
S: * 7 EXPUNGE
S: * 6 EXPUNGE
S: * 5 EXPUNGE
S: * 4 EXPUNGE
S: b5 OK [HIGHESTMODSEQ 13] EXPUNGE completed`)
	a.run(`
C: B001 STORE 1:7 (UNCHANGEDSINCE 10) +FLAGS (\Seen)
S: * 2 FETCH (UID 2 FLAGS (\Answered) MODSEQ (11))
S: * 4 FETCH (UID 4 FLAGS (\Deleted) MODSEQ (12))
S: * 5 FETCH (UID 5 FLAGS (\Deleted) MODSEQ (12))
S: * 6 FETCH (UID 6 FLAGS (\Deleted) MODSEQ (12))
S: * 7 FETCH (UID 7 FLAGS (\Deleted) MODSEQ (12))
S: * 1 FETCH (UID 1 MODSEQ (14) FLAGS ($Label1 $Label2 \Seen))
S: * 3 FETCH (UID 3 MODSEQ (14) FLAGS (\Seen))
S: * OK [HIGHESTMODSEQ 12] Expunges are delayed
S: B001 NO [MODIFIED 2] Conditional STORE failed for some messages
C: B002 NOOP
S: * 7 EXPUNGE
S: * 6 EXPUNGE
S: * 5 EXPUNGE
S: * 4 EXPUNGE
S: B002 OK NOOP completed
C: b003 STORE 2 (UNCHANGEDSINCE 11) +FLAGS (\Seen)
S: * 2 FETCH (UID 2 MODSEQ (15) FLAGS (\Answered \Seen))
S: b003 OK STORE completed`)
}

// RFC 7162 §3.1.4 Examples 12 to 14: CHANGEDSINCE, FETCH MODSEQ, and
// MODSEQ in unsolicited FETCH responses, with UID (§3.2.4).
func TestCondstoreFetch(t *testing.T) {
	ts := newCondstoreServer(t, 5)
	a, b, old := ts.login(), ts.login(), ts.login()
	a.run(`
C: s100 SELECT INBOX
S: ~ s100 OK
C: s101 STORE 2,4 +FLAGS (\Deleted)
S: * 2 FETCH (FLAGS (\Deleted))
S: * 4 FETCH (FLAGS (\Deleted))
S: s101 OK STORE completed
C: a FETCH 1:3 (MODSEQ)
S: * OK [HIGHESTMODSEQ 7] Highest
S: * 1 FETCH (MODSEQ (2))
S: * 2 FETCH (MODSEQ (7))
S: * 3 FETCH (MODSEQ (4))
S: a OK FETCH completed
C: s102 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 5)
S: * 2 FETCH (UID 2 FLAGS (\Deleted) MODSEQ (7))
S: * 4 FETCH (UID 4 FLAGS (\Deleted) MODSEQ (7))
S: * 5 FETCH (UID 5 FLAGS () MODSEQ (6))
S: s102 OK FETCH completed
C: s103 FETCH 1:3 (FLAGS) (CHANGEDSINCE 6)
S: * 2 FETCH (FLAGS (\Deleted) MODSEQ (7))
S: s103 OK FETCH completed
C: s104 FETCH 1 (FLAGS)
S: * 1 FETCH (FLAGS () MODSEQ (2))
S: s104 OK FETCH completed
C: s105 FETCH 1 (BODY[HEADER.FIELDS (FROM)])
S: * 1 FETCH (UID 1 BODY[HEADER.FIELDS (FROM)] {31}
S: From: Bob <bob@example.org>
S:
S: ~ MODSEQ (8) FLAGS (\Seen))
S: s105 OK FETCH completed
C: s106 FETCH 1:* (FLAGS) (CHANGEDSINCE 100)
S: s106 OK FETCH completed
C: s107 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)
S: s107 BAD VANISHED needs ENABLE QRESYNC
C: s108 FETCH 1 (FLAGS) (CHANGEDSINCE 1 CHANGEDSINCE 2)
S: s108 BAD ...
C: s109 FETCH 1 (FLAGS) (FOO)
S: s109 BAD ...`)
	// Example 14: b enabled CONDSTORE, old did not.
	b.run(`
C: C170 SELECT INBOX (CONDSTORE)
S: ~ HIGHESTMODSEQ 8
S: C170 OK [READ-WRITE] SELECT completed`)
	old.run(`
C: D170 SELECT INBOX
S: ~ D170 OK`)
	a.run(`
C: A160 STORE 3 +FLAGS.SILENT (\Deleted)
S: * 3 FETCH (UID 3 MODSEQ (9))
S: A160 OK STORE completed`)
	b.run(`
C: C180 NOOP
S: * 3 FETCH (UID 3 FLAGS (\Deleted) MODSEQ (9))
S: C180 OK NOOP completed`)
	old.run(`
C: D210 NOOP
S: * 3 FETCH (UID 3 FLAGS (\Deleted))
S: D210 OK NOOP completed`)
}

// RFC 7162 §3.1.5, §3.1.6 Examples 15 and 16, §3.1.10 Example 19:
// SEARCH MODSEQ (the entry name and type are accepted and ignored, the
// store keeping one mod-sequence per message) and the highest
// mod-sequence of the matches in SEARCH and ESEARCH.
func TestCondstoreSearch(t *testing.T) {
	ts := newCondstoreServer(t, 5)
	c := ts.login()
	c.run(`
C: s1 SELECT INBOX
S: ~ s1 OK
C: s2 STORE 2 +FLAGS.SILENT (\Draft)
S: s2 OK STORE completed
C: s3 STORE 4 +FLAGS.SILENT (\Draft)
S: s3 OK STORE completed
C: a SEARCH MODSEQ "/flags/\\draft" all 7
S: * OK [HIGHESTMODSEQ 8] Highest
S: * SEARCH 2 4 (MODSEQ 8)
S: a OK SEARCH completed
C: t SEARCH OR NOT MODSEQ 2 LARGER 50000
S: * SEARCH
S: t OK SEARCH completed
C: u UID SEARCH MODSEQ 6 NOT DRAFT
S: * SEARCH 5 (MODSEQ 6)
S: u OK SEARCH completed
C: a SEARCH RETURN (ALL) MODSEQ 6
S: * ESEARCH (TAG "a") ALL 2,4:5 MODSEQ 8
S: a OK SEARCH completed
C: b SEARCH RETURN (COUNT) MODSEQ 100
S: * ESEARCH (TAG "b") COUNT 0
S: b OK SEARCH completed
C: c SEARCH MODSEQ "/flags/\\draft" bogus 7
S: c BAD ...`)
}

// RFC 7162 §3.1.2.2 Example 2: a mailbox without mod-sequences answers
// NOMODSEQ, refuses the commands that need them with BAD, and keeps
// EXPUNGE even after ENABLE QRESYNC (§3.2.10.2).
func TestCondstoreNoModSeq(t *testing.T) {
	ts := newCondstoreServer(t, 3, func(s *imapserver.Server) {
		s.Backend = wrapBackend{s.Backend, func(mb imapserver.Mailbox) imapserver.Mailbox { return noModSeqMailbox{mb} }}
	})
	c := ts.login()
	c.runV(ts, `
C: e ENABLE QRESYNC
S: * ENABLED QRESYNC
S: e OK ENABLE completed
C: A142 SELECT INBOX (QRESYNC (%V 1))`+selectLines(3, 4, 1)+`
S: * OK [NOMODSEQ] Sorry, this mailbox format doesn't support modsequences
S: A142 OK [READ-WRITE] SELECT completed
C: f1 FETCH 1 (MODSEQ)
S: f1 BAD This mailbox does not support mod-sequences (NOMODSEQ)
C: f2 FETCH 1 (FLAGS) (CHANGEDSINCE 1)
S: f2 BAD This mailbox does not support mod-sequences (NOMODSEQ)
C: f3 STORE 1 (UNCHANGEDSINCE 1) +FLAGS (\Seen)
S: f3 BAD This mailbox does not support mod-sequences (NOMODSEQ)
C: f4 SEARCH MODSEQ 1
S: f4 BAD This mailbox does not support mod-sequences (NOMODSEQ)
C: f5 STORE 2 +FLAGS (\Deleted)
S: * 2 FETCH (FLAGS (\Deleted))
S: f5 OK STORE completed
C: f6 EXPUNGE
S: * 2 EXPUNGE
S: f6 OK EXPUNGE completed`)
}

// wrapBackend changes the Mailbox handles of a backend, to test stores
// that lack some of imapmem's abilities.
type wrapBackend struct {
	imapserver.Backend
	wrap func(imapserver.Mailbox) imapserver.Mailbox
}

func (b wrapBackend) User(ctx context.Context, name string, info *imapserver.ConnInfo) (imapserver.User, error) {
	u, err := b.Backend.User(ctx, name, info)
	if err != nil {
		return nil, err
	}
	return wrapUser{u, b.wrap}, nil
}

type wrapUser struct {
	imapserver.User
	wrap func(imapserver.Mailbox) imapserver.Mailbox
}

func (u wrapUser) OpenMailbox(ctx context.Context, name string, readOnly bool) (imapserver.Mailbox, error) {
	mb, err := u.User.OpenMailbox(ctx, name, readOnly)
	if err != nil {
		return nil, err
	}
	return u.wrap(mb), nil
}

// noModSeqMailbox is a store that keeps no mod-sequences.
type noModSeqMailbox struct{ imapserver.Mailbox }

func (m noModSeqMailbox) Snapshot() imapserver.Snapshot {
	s := m.Mailbox.Snapshot()
	s.HighestModSeq = 0
	return s
}

// plainMailbox hides imapmem's optional interfaces (ExpungeHistory,
// ChangeIndex): a store that remembers no expunges.
type plainMailbox struct{ imapserver.Mailbox }

// A STORE that reports MODSEQ (CONDSTORE enabled) of a message on which
// another session set a keyword this session has not been told of yet
// (after the command's look for updates, before its change) announces
// the keyword in FLAGS before its FETCH response, not in the middle of
// it (TestStressQresync caught "* 20 FETCH (UID 30 MODSEQ (63)* FLAGS").
func TestCondstoreStoreAnnouncesKeywordBeforeFetch(t *testing.T) {
	var armed atomic.Bool
	ts := newCondstoreServer(t, 1, func(s *imapserver.Server) {
		backend := s.Backend
		s.Backend = wrapBackend{backend, func(mb imapserver.Mailbox) imapserver.Mailbox {
			return keywordRaceMailbox{mb, backend, &armed}
		}}
	})
	a := ts.login()
	a.run(`
C: s1 ENABLE CONDSTORE
S: * ENABLED CONDSTORE
S: s1 OK ENABLE completed
C: s2 SELECT INBOX
S: ~ HIGHESTMODSEQ 2
S: s2 OK [READ-WRITE] SELECT completed`)
	armed.Store(true)
	a.run(`
C: a1 STORE 1 +FLAGS (\Seen)
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft $New)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $New \*)] Flags permitted
S: * 1 FETCH (UID 1 MODSEQ (4) FLAGS ($New \Seen))
S: a1 OK STORE completed`)
}

// keywordRaceMailbox, when armed, has another session set the keyword
// $New on the messages of a SetFlags just before it.
type keywordRaceMailbox struct {
	imapserver.Mailbox
	backend imapserver.Backend
	armed   *atomic.Bool
}

func (m keywordRaceMailbox) SetFlags(ctx context.Context, uids []uint32, op imapserver.FlagOp, flags []string, unchangedSince uint64) (imapserver.StoreResult, error) {
	if m.armed.CompareAndSwap(true, false) {
		u, err := m.backend.User(ctx, "alice", nil)
		if err != nil {
			return imapserver.StoreResult{}, err
		}
		other, err := u.OpenMailbox(ctx, "INBOX", false)
		if err != nil {
			return imapserver.StoreResult{}, err
		}
		_, err = other.SetFlags(ctx, uids, imapserver.FlagsAdd, []string{"$New"}, 0)
		other.Close()
		if err != nil {
			return imapserver.StoreResult{}, err
		}
	}
	return m.Mailbox.SetFlags(ctx, uids, op, flags, unchangedSince)
}
