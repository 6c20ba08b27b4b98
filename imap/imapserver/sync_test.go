package imapserver_test

import (
	"context"
	"sync"
	"testing"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// Issue 12, defect 1: changes other sessions made are told before a
// command's own FETCH responses, never after them, so that a client
// never sees a message's flags or MODSEQ go back (RFC 9051 §7.5.2: a
// server may send untagged data at any time, and the client takes the
// last it got as current; RFC 7162 §3.1.4: MODSEQ only grows).
func TestSyncUpdatesBeforeOwnResponses(t *testing.T) {
	ts := newCondstoreServer(t, 3) // HIGHESTMODSEQ 4
	c1, c2 := ts.login(), ts.login()
	c1.run(`
C: a1 ENABLE CONDSTORE
S: * ENABLED CONDSTORE
S: a1 OK ENABLE completed
C: a2 SELECT INBOX
S: ~ a2 OK`)
	c2.run(`
C: b1 SELECT INBOX
S: ~ b1 OK
C: b2 STORE 1 +FLAGS.SILENT (\Seen)
S: b2 OK STORE completed
C: b3 STORE 1 +FLAGS.SILENT (\Flagged)
S: b3 OK STORE completed
C: b4 STORE 1 -FLAGS.SILENT (\Seen)
S: b4 OK STORE completed`)
	// Before the fix the FETCH's own MODSEQ (7) came first and the three
	// queued updates, 5, 6 and 7, after it.
	c1.run(`
C: a3 FETCH 1 (FLAGS MODSEQ)
S: * 1 FETCH (UID 1 FLAGS (\Seen) MODSEQ (5))
S: * 1 FETCH (UID 1 FLAGS (\Seen \Flagged) MODSEQ (6))
S: * 1 FETCH (UID 1 FLAGS (\Flagged) MODSEQ (7))
S: * 1 FETCH (FLAGS (\Flagged) MODSEQ (7))
S: a3 OK FETCH completed`)
	// The same for STORE, by sequence number: the other session's
	// change to message 2 first, then this STORE's result.
	c2.run(`
C: b5 STORE 2 +FLAGS.SILENT (\Answered)
S: b5 OK STORE completed`)
	c1.run(`
C: a4 STORE 2 +FLAGS (\Draft)
S: * 2 FETCH (UID 2 FLAGS (\Answered) MODSEQ (8))
S: * 2 FETCH (UID 2 MODSEQ (9) FLAGS (\Answered \Draft))
S: a4 OK STORE completed`)
}

// hookMailbox runs hook once, at its first Messages or SetFlags call:
// another session's change landing while this session's command runs,
// after the updates before the command were sent.
type hookMailbox struct {
	imapserver.Mailbox
	once *sync.Once
	hook func()
}

func (m hookMailbox) Messages(ctx context.Context, uids []uint32) ([]imapserver.Message, error) {
	m.once.Do(m.hook)
	return m.Mailbox.Messages(ctx, uids)
}

func (m hookMailbox) SetFlags(ctx context.Context, uids []uint32, op imapserver.FlagOp, flags []string, unchangedSince uint64) (imapserver.StoreResult, error) {
	m.once.Do(m.hook)
	return m.Mailbox.SetFlags(ctx, uids, op, flags, unchangedSince)
}

// hookServer serves three messages; the sessions' INBOX handles run
// hook (through the store's own handle other) at the first command
// that reads or changes messages after arm is called.
func hookServer(t *testing.T, hook func(other imapserver.Mailbox)) (ts *testServer, arm func()) {
	var mu sync.Mutex
	armed := false
	ts = newCondstoreServer(t, 3, func(s *imapserver.Server) {
		s.Backend = wrapBackend{s.Backend, func(mb imapserver.Mailbox) imapserver.Mailbox {
			return hookMailbox{mb, new(sync.Once), func() {
				mu.Lock()
				run := armed
				armed = false
				mu.Unlock()
				if run {
					hook(openInbox(t, ts))
				}
			}}
		}}
	})
	return ts, func() { mu.Lock(); armed = true; mu.Unlock() }
}

func openInbox(t *testing.T, ts *testServer) imapserver.Mailbox {
	u, err := ts.store.User(context.Background(), "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := u.OpenMailbox(context.Background(), "INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mb.Close() })
	return mb
}

// Defect 1, the race: two changes land while a FETCH runs; the FETCH
// reads the newer state, and the older change, polled after it, must
// not follow it.
func TestSyncNoOlderStateAfterNewer(t *testing.T) {
	ctx := context.Background()
	ts, arm := hookServer(t, func(other imapserver.Mailbox) {
		other.SetFlags(ctx, []uint32{1}, imapserver.FlagsAdd, []string{`\Seen`}, 0)
		other.SetFlags(ctx, []uint32{1}, imapserver.FlagsAdd, []string{`\Flagged`}, 0)
	})
	c := ts.login()
	c.run(`
C: a1 ENABLE CONDSTORE
S: * ENABLED CONDSTORE
S: a1 OK ENABLE completed
C: a2 SELECT INBOX
S: ~ a2 OK`)
	arm()
	// Before the fix: MODSEQ (6), then (5) with \Seen only, then (6).
	c.run(`
C: a3 FETCH 1 (FLAGS)
S: * 1 FETCH (FLAGS (\Seen \Flagged) MODSEQ (6))
S: a3 OK FETCH completed`)

	// A .SILENT STORE told nothing: an older change of another session
	// becomes the state the STORE made, not the state before it.
	ts2, arm2 := hookServer(t, func(other imapserver.Mailbox) {
		other.SetFlags(ctx, []uint32{2}, imapserver.FlagsAdd, []string{`\Answered`}, 0)
	})
	c = ts2.login()
	c.run(`
C: b1 ENABLE CONDSTORE
S: * ENABLED CONDSTORE
S: b1 OK ENABLE completed
C: b2 SELECT INBOX
S: ~ b2 OK`)
	arm2()
	c.run(`
C: b3 STORE 2 +FLAGS.SILENT (\Seen)
S: * 2 FETCH (UID 2 MODSEQ (6))
S: * 2 FETCH (UID 2 FLAGS (\Answered \Seen) MODSEQ (6))
S: b3 OK STORE completed`)
}

// Issue 12, defect 2: a message expunged by another session is still
// served to a session that has not been told (RFC 2180 §4.1.1), with a
// tagged OK [EXPUNGEISSUED] (RFC 9051 §7.1); its flags no longer change.
func TestSyncExpungedStillServed(t *testing.T) {
	ts := newCondstoreServer(t, 3)
	c1, c2 := ts.login(), ts.login()
	c1.run(`
C: a1 SELECT INBOX
S: ~ a1 OK`)
	c2.run(`
C: b1 SELECT INBOX
S: ~ b1 OK
C: b2 STORE 1 +FLAGS.SILENT (\Deleted)
S: b2 OK STORE completed
C: b3 EXPUNGE
S: * 1 EXPUNGE
S: b3 OK EXPUNGE completed`)
	// Before the fix: the data of 2 and 3, then NO [EXPUNGEISSUED].
	c1.run(`
C: a2 FETCH 1:3 (UID FLAGS)
S: * 1 FETCH (UID 1 FLAGS (\Deleted))
S: * 1 FETCH (UID 1 FLAGS (\Deleted))
S: * 2 FETCH (UID 2 FLAGS ())
S: * 3 FETCH (UID 3 FLAGS ())
S: a2 OK [EXPUNGEISSUED] FETCH completed
C: a3 FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]
S: * 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {18}
S: Subject: Hello
S:
S: )
S: a3 OK [EXPUNGEISSUED] FETCH completed
C: a4 STORE 1:3 +FLAGS (\Seen)
S: * 2 FETCH (FLAGS (\Seen))
S: * 3 FETCH (FLAGS (\Seen))
S: a4 OK [EXPUNGEISSUED] STORE completed, some messages were expunged
C: a5 STORE 1 +FLAGS (\Seen)
S: a5 OK [EXPUNGEISSUED] STORE completed, some messages were expunged
C: a6 NOOP
S: * 1 EXPUNGE
S: a6 OK NOOP completed
C: a7 FETCH 1 UID
S: * 1 FETCH (UID 2)
S: a7 OK FETCH completed`)
}

// forgetfulMailbox hands over expunges without the message, as a store
// that cannot keep expunged content would.
type forgetfulMailbox struct{ imapserver.Mailbox }

func (m forgetfulMailbox) Poll() []imapserver.Update {
	ups := m.Mailbox.Poll()
	for i := range ups {
		ups[i].Message = nil
	}
	return ups
}

// Defect 2 with a store that keeps nothing: RFC 2180 §4.1.2, the data
// of the others and OK [EXPUNGEISSUED]; §4.1.3, §4.2.2: NO
// [EXPUNGEISSUED] only when none of the messages named can be served.
func TestSyncExpungedNotKept(t *testing.T) {
	ts := newCondstoreServer(t, 3, func(s *imapserver.Server) {
		s.Backend = wrapBackend{s.Backend, func(mb imapserver.Mailbox) imapserver.Mailbox { return forgetfulMailbox{mb} }}
	})
	c1, c2 := ts.login(), ts.login()
	c1.run(`
C: a1 SELECT INBOX
S: ~ a1 OK`)
	c2.run(`
C: b1 SELECT INBOX
S: ~ b1 OK
C: b2 STORE 1 +FLAGS.SILENT (\Deleted)
S: b2 OK STORE completed
C: b3 EXPUNGE
S: * 1 EXPUNGE
S: b3 OK EXPUNGE completed`)
	c1.run(`
C: a2 FETCH 1:2 UID
S: * 1 FETCH (UID 1 FLAGS (\Deleted))
S: * 2 FETCH (UID 2)
S: a2 OK [EXPUNGEISSUED] FETCH completed
C: a3 FETCH 1 UID
S: a3 NO [EXPUNGEISSUED] Some of the requested messages no longer exist
C: a4 STORE 1 +FLAGS (\Seen)
S: a4 NO [EXPUNGEISSUED] Messages have been expunged
C: a5 STORE 1 +FLAGS.SILENT (\Seen)
S: a5 OK [EXPUNGEISSUED] STORE completed, some messages were expunged
C: a6 NOOP
S: * 1 EXPUNGE
S: a6 OK NOOP completed`)
}

// Issue 12, defect 3: a keyword new to the mailbox is announced with
// FLAGS and PERMANENTFLAGS (RFC 9051 §7.3.5, §7.1) to every session
// with the mailbox selected, before the first response that shows it;
// a keyword a STORE names is defined from then on, even when removed.
func TestSyncNewKeywordFlags(t *testing.T) {
	ts := newCondstoreServer(t, 2)
	c1, c2, c3 := ts.login(), ts.login(), ts.login()
	c1.run(`
C: a1 SELECT INBOX
S: ~ a1 OK`)
	c3.run(`
C: c1 EXAMINE INBOX
S: ~ c1 OK`)
	// Before the fix: only the FETCH.
	c2.run(`
C: b1 SELECT INBOX
S: * 2 EXISTS
S: ~ * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: ~ b1 OK
C: b2 STORE 1 +FLAGS ($hello)
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft $hello)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $hello \*)] Flags permitted
S: * 1 FETCH (FLAGS ($hello))
S: b2 OK STORE completed
C: b3 STORE 2 +FLAGS.SILENT ($World)
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft $hello $World)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $hello $World \*)] Flags permitted
S: b3 OK STORE completed
C: b4 STORE 1 +FLAGS ($HELLO)
S: * 1 FETCH (FLAGS ($hello))
S: b4 OK STORE completed
C: b5 STORE 2 -FLAGS ($Never)
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft $hello $World $Never)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $hello $World $Never \*)] Flags permitted
S: * 2 FETCH (FLAGS ($World))
S: b5 OK STORE completed`)
	c1.run(`
C: a2 NOOP
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft $hello)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $hello \*)] Flags permitted
S: * 1 FETCH (UID 1 FLAGS ($hello))
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft $hello $World)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $hello $World \*)] Flags permitted
S: * 2 FETCH (UID 2 FLAGS ($World))
S: a2 OK NOOP completed`)
	c3.run(`
C: c2 FETCH 1:2 FLAGS
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft $hello)
S: * OK [PERMANENTFLAGS ()] Flags permitted
S: * 1 FETCH (UID 1 FLAGS ($hello))
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft $hello $World)
S: * OK [PERMANENTFLAGS ()] Flags permitted
S: * 2 FETCH (UID 2 FLAGS ($World))
S: * 1 FETCH (FLAGS ($hello))
S: * 2 FETCH (FLAGS ($World))
S: c2 OK FETCH completed`)
	// A message delivered with a keyword: FLAGS before its FETCH.
	c2.run(`
C: b6 APPEND INBOX (\Seen $Fresh) {5}
S: + Ready for literal data
C: hello
S: * 3 EXISTS
S: ~ b6 OK
C: b7 FETCH 3 FLAGS
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft $hello $World $Never $Fresh)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $hello $World $Never $Fresh \*)] Flags permitted
S: * 3 FETCH (FLAGS (\Seen $Fresh \Recent))
S: b7 OK FETCH completed`)
}

// A FETCH or STORE by sequence number hears of other sessions' changes
// first, but not of new mail: "*" is the last message the client knew
// of when it sent the command (RFC 9051 §6.4.5 and §9 seq-number), so
// a STORE 1:* +FLAGS (\Deleted) cannot reach a message that arrived
// meanwhile; its EXISTS follows the command's responses.
func TestSyncNewMailNotInStar(t *testing.T) {
	ts := newCondstoreServer(t, 2)
	c1, c2 := ts.login(), ts.login()
	c1.run(`
C: a1 SELECT INBOX
S: ~ a1 OK`)
	c2.run(`
C: b1 SELECT INBOX
S: ~ b1 OK
C: b2 STORE 2 +FLAGS (\Answered)
S: * 2 FETCH (FLAGS (\Answered))
S: b2 OK STORE completed`)
	ts.deliver(msg1)
	c2.run(`
C: b3 STORE 1 +FLAGS (\Seen)
S: * 1 FETCH (FLAGS (\Seen))
S: * 3 EXISTS
S: * 1 RECENT
S: b3 OK STORE completed`)
	c1.run(`
C: a2 STORE 1:* +FLAGS (\Deleted)
S: * 2 FETCH (UID 2 FLAGS (\Answered))
S: * 1 FETCH (UID 1 FLAGS (\Seen))
S: * 1 FETCH (FLAGS (\Seen \Deleted))
S: * 2 FETCH (FLAGS (\Answered \Deleted))
S: * 3 EXISTS
S: * 0 RECENT
S: a2 OK STORE completed
C: a3 FETCH 1:* (FLAGS)
S: * 1 FETCH (FLAGS (\Seen \Deleted))
S: * 2 FETCH (FLAGS (\Answered \Deleted))
S: * 3 FETCH (FLAGS ())
S: a3 OK FETCH completed`)
}
