package imapserver_test

import (
	"context"
	"testing"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// qresyncChanges makes, from a second session, the changes a client
// offline since HIGHESTMODSEQ 11 (ten messages, UIDs 1..10) has missed:
// \Seen on UID 3 (MODSEQ 12), UIDs 5 and 7 expunged (13, 14),
// $Important on UID 9 (15) and a new message, UID 11 (16).
func qresyncChanges(t *testing.T, ts *testServer) {
	t.Helper()
	c := ts.login()
	c.run(`
C: c1 SELECT INBOX
S: ~ c1 OK
C: c2 UID STORE 3 +FLAGS.SILENT (\Seen)
S: c2 OK STORE completed
C: c3 UID STORE 5,7 +FLAGS.SILENT (\Deleted)
S: c3 OK STORE completed
C: c4 EXPUNGE
S: * 7 EXPUNGE
S: * 5 EXPUNGE
S: c4 OK EXPUNGE completed
C: c5 UID STORE 9 +FLAGS.SILENT ($Important)
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Important)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Important \*)] Flags permitted
S: c5 OK STORE completed`)
	ts.deliver(msg2)
	c.run(`
C: c6 NOOP
S: * 9 EXISTS
S: * 1 RECENT
S: c6 OK NOOP completed
C: c7 LOGOUT
S: * BYE Logging out
S: c7 OK LOGOUT completed`)
}

// RFC 7162 §3.2.5, §3.2.5.1: SELECT (QRESYNC) reports the known UIDs
// expunged since the client's mod-sequence with VANISHED (EARLIER) and
// the changed messages with FETCH (UID FLAGS MODSEQ); §3.2.5: a
// UIDVALIDITY that does not match makes it a plain SELECT; §3.2.3: the
// parameter needs ENABLE QRESYNC.
func TestQresyncSelect(t *testing.T) {
	ts := newCondstoreServer(t, 10)
	qresyncChanges(t, ts)
	c := ts.login()
	c.runV(ts, `
C: A01 SELECT INBOX (QRESYNC (%V 11 1:10))
S: A01 BAD QRESYNC must be enabled first
C: e ENABLE QRESYNC
S: * ENABLED QRESYNC
S: e OK ENABLE completed
C: A02 SELECT INBOX (QRESYNC (67890007 11 1:10))`+selectLines(9, 12, 1)+`
S: * OK [HIGHESTMODSEQ 16] Highest
S: A02 OK [READ-WRITE] SELECT completed
C: A03 SELECT INBOX (QRESYNC (%V 11 1:10))
S: * OK [CLOSED] Previous mailbox closed`+selectLines(9, 12, 1)+`
S: * OK [HIGHESTMODSEQ 16] Highest
S: * VANISHED (EARLIER) 5,7
S: * 3 FETCH (UID 3 FLAGS (\Seen) MODSEQ (12))
S: * 7 FETCH (UID 9 FLAGS ($Important) MODSEQ (15))
S: A03 OK [READ-WRITE] SELECT completed
C: A04 EXAMINE INBOX (QRESYNC (%V 11))
S: * OK [CLOSED] Previous mailbox closed
S: ~ HIGHESTMODSEQ 16
S: * VANISHED (EARLIER) 5,7
S: * 3 FETCH (UID 3 FLAGS (\Seen) MODSEQ (12))
S: * 7 FETCH (UID 9 FLAGS ($Important) MODSEQ (15))
S: * 9 FETCH (UID 11 FLAGS () MODSEQ (16))
S: A04 OK [READ-ONLY] EXAMINE completed
C: A05 EXAMINE INBOX (QRESYNC (%V 16 1:11))
S: * OK [CLOSED] Previous mailbox closed
S: ~ HIGHESTMODSEQ 16
S: A05 OK [READ-ONLY] EXAMINE completed
C: A06 EXAMINE INBOX (QRESYNC (%V 1 2:4 (1,2 2,3)))
S: * OK [CLOSED] Previous mailbox closed
S: ~ HIGHESTMODSEQ 16
S: * 2 FETCH (UID 2 FLAGS () MODSEQ (3))
S: * 3 FETCH (UID 3 FLAGS (\Seen) MODSEQ (12))
S: * 4 FETCH (UID 4 FLAGS () MODSEQ (5))
S: A06 OK [READ-ONLY] EXAMINE completed
C: A07 SELECT INBOX (QRESYNC (%V 11 1:*))
S: A07 BAD QRESYNC sets may not use * or $
C: A08 SELECT INBOX (QRESYNC (%V 11 1:10 (1:2 1)))
S: A08 BAD QRESYNC sequence match sets differ in size
C: A09 SELECT INBOX (QRESYNC (%V))
S: A09 BAD ...
C: A10 SELECT INBOX (FOO)
S: A10 BAD unknown SELECT parameter FOO
C: A11 NOOP
S: A11 OK NOOP completed`)
}

// RFC 7162 §3.2.6: UID FETCH (CHANGEDSINCE n VANISHED); §3.2.7, §3.2.9,
// §3.2.10.2: VANISHED instead of EXPUNGE, with HIGHESTMODSEQ in the
// tagged OK; RFC 6851 §4.4: MOVE too; §3.2.8: CLOSE expunges silently,
// without HIGHESTMODSEQ, but the expunge is remembered for the next
// resync.
func TestQresyncVanished(t *testing.T) {
	ts := newCondstoreServer(t, 10)
	qresyncChanges(t, ts)
	c := ts.login()
	c.runV(ts, `
C: e ENABLE QRESYNC
S: * ENABLED QRESYNC
S: e OK ENABLE completed
C: s SELECT INBOX
S: ~ HIGHESTMODSEQ 16
S: s OK [READ-WRITE] SELECT completed
C: B201 STORE 1,2 +FLAGS.SILENT (\Deleted)
S: * 1 FETCH (UID 1 MODSEQ (17))
S: * 2 FETCH (UID 2 MODSEQ (17))
S: B201 OK STORE completed
C: B202 EXPUNGE
S: * VANISHED 1:2
S: B202 OK [HIGHESTMODSEQ 18] EXPUNGE completed
C: B203 EXPUNGE
S: B203 OK EXPUNGE completed
C: s100 UID FETCH 1:10 (FLAGS) (CHANGEDSINCE 11 VANISHED)
S: * VANISHED (EARLIER) 1:2,5,7
S: * 1 FETCH (UID 3 FLAGS (\Seen) MODSEQ (12))
S: * 5 FETCH (UID 9 FLAGS ($Important) MODSEQ (15))
S: s100 OK FETCH completed
C: s101 UID FETCH 1:* (FLAGS) (VANISHED CHANGEDSINCE 15)
S: * VANISHED (EARLIER) 1:2
S: * 7 FETCH (UID 11 FLAGS () MODSEQ (16))
S: s101 OK FETCH completed
C: s102 FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)
S: s102 BAD VANISHED is only allowed with UID FETCH
C: s103 UID FETCH 1:* (FLAGS) (VANISHED)
S: s103 BAD VANISHED needs CHANGEDSINCE
C: u1 UID STORE 4 +FLAGS.SILENT (\Deleted)
S: * 2 FETCH (UID 4 MODSEQ (19))
S: u1 OK STORE completed
C: u2 UID EXPUNGE 1:3
S: u2 OK EXPUNGE completed
C: u3 UID EXPUNGE 4
S: * VANISHED 4
S: u3 OK [HIGHESTMODSEQ 20] EXPUNGE completed
C: m1 UID MOVE 3 Trash
S: * OK [COPYUID ...
S: * VANISHED 3
S: * OK [HIGHESTMODSEQ 21] Highest
S: m1 OK MOVE completed
C: A201 STORE 1 +FLAGS.SILENT (\Deleted)
S: * 1 FETCH (UID 6 MODSEQ (22))
S: A201 OK STORE completed
C: A202 CLOSE
S: A202 OK CLOSE completed
C: A203 EXAMINE INBOX (QRESYNC (%V 21 1:20))
S: ~ HIGHESTMODSEQ 23
S: * VANISHED (EARLIER) 6
S: A203 OK [READ-ONLY] EXAMINE completed`)
}

// RFC 7162 §3.2.10.2: during IDLE, expunges in another session arrive as
// VANISHED, and flag changes as FETCH with UID and MODSEQ.
func TestQresyncIdle(t *testing.T) {
	ts := newCondstoreServer(t, 4)
	a, b := ts.login(), ts.login()
	a.run(`
C: e ENABLE QRESYNC
S: * ENABLED QRESYNC
S: e OK ENABLE completed
C: s SELECT INBOX
S: ~ s OK
C: i IDLE
S: + idling`)
	b.run(`
C: s SELECT INBOX
S: ~ s OK
C: b1 STORE 2:3 +FLAGS.SILENT (\Deleted)
S: b1 OK STORE completed`)
	a.run(`
S: * 2 FETCH (UID 2 FLAGS (\Deleted) MODSEQ (6))
S: * 3 FETCH (UID 3 FLAGS (\Deleted) MODSEQ (6))`)
	b.run(`
C: b2 EXPUNGE
S: * 3 EXPUNGE
S: * 2 EXPUNGE
S: b2 OK EXPUNGE completed`)
	a.run(`
S: * VANISHED 2:3
C: DONE
S: i OK IDLE completed
C: n NOOP
S: n OK NOOP completed`)
}

// RFC 7162 §3.2.5.2, §3.2.6 note, §5.1: a store that remembers no
// expunges reports every known UID missing from the mailbox, narrowed by
// the client's sequence match data (the shape of the RFC's A04 and B04
// examples: only UIDs divisible by three are left).
func TestQresyncSeqMatch(t *testing.T) {
	ts := newCondstoreServer(t, 30, func(s *imapserver.Server) {
		s.Backend = wrapBackend{s.Backend, func(mb imapserver.Mailbox) imapserver.Mailbox { return plainMailbox{mb} }}
	})
	c := ts.login()
	c.runV(ts, `
C: s SELECT INBOX
S: ~ s OK
C: d UID STORE 1:2,4:5,7:8,10:11,13:14,16:17,19:20,22:23,25:26,28:29 +FLAGS.SILENT (\Deleted)
S: d OK STORE completed
C: x EXPUNGE
S: ~ x OK EXPUNGE completed
C: f1 UID STORE 3 +FLAGS.SILENT (\Seen $Important)
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Important)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Important \*)] Flags permitted
S: f1 OK STORE completed
C: f2 UID STORE 27 +FLAGS.SILENT (\Seen $Forwarded)
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Important $Forwarded)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Important $Forwarded \*)] Flags permitted
S: f2 OK STORE completed
C: e ENABLE QRESYNC
S: * ENABLED QRESYNC
S: * OK [HIGHESTMODSEQ 35] Highest
S: e OK ENABLE completed
C: A04 SELECT INBOX (QRESYNC (%V 33 1:29))
S: * OK [CLOSED] Previous mailbox closed
S: ~ HIGHESTMODSEQ 35
S: * VANISHED (EARLIER) 1:2,4:5,7:8,10:11,13:14,16:17,19:20,22:23,25:26,28:29
S: * 1 FETCH (UID 3 FLAGS (\Seen $Important) MODSEQ (34))
S: * 9 FETCH (UID 27 FLAGS (\Seen $Forwarded) MODSEQ (35))
S: A04 OK [READ-WRITE] SELECT completed
C: B04 SELECT INBOX (QRESYNC (%V 33 1:29 (2,5,9,10 6,15,27,30)))
S: * OK [CLOSED] Previous mailbox closed
S: ~ HIGHESTMODSEQ 35
S: * 1 FETCH (UID 3 FLAGS (\Seen $Important) MODSEQ (34))
S: * 9 FETCH (UID 27 FLAGS (\Seen $Forwarded) MODSEQ (35))
S: B04 OK [READ-WRITE] SELECT completed
C: C04 SELECT INBOX (QRESYNC (%V 34 1:29 (2,5,9 6,16,27)))
S: * OK [CLOSED] Previous mailbox closed
S: ~ HIGHESTMODSEQ 35
S: * VANISHED (EARLIER) 7:8,10:11,13:14,16:17,19:20,22:23,25:26,28:29
S: * 9 FETCH (UID 27 FLAGS (\Seen $Forwarded) MODSEQ (35))
S: C04 OK [READ-WRITE] SELECT completed
C: s1 UID FETCH 20:* (FLAGS) (CHANGEDSINCE 34 VANISHED)
S: * VANISHED (EARLIER) 20,22:23,25:26,28:29
S: * 9 FETCH (UID 27 FLAGS (\Seen $Forwarded) MODSEQ (35))
S: s1 OK FETCH completed`)
}

// expiredMailbox is a store whose expunge history has expired (RFC 7162
// §5.3) but that still indexes changes.
type expiredMailbox struct{ imapserver.Mailbox }

func (m expiredMailbox) ExpungedSince(ctx context.Context, modSeq uint64) ([]uint32, error) {
	return nil, imapserver.ErrHistoryExpired
}

func (m expiredMailbox) ChangedSince(ctx context.Context, modSeq uint64) ([]imapserver.Message, error) {
	return m.Mailbox.(imapserver.ChangeIndex).ChangedSince(ctx, modSeq)
}

// RFC 7162 §3.2.6 note, §5.3: when the history does not reach back, every
// known UID not in the mailbox is reported, except those the sequence
// match data shows the client knows are gone.
func TestQresyncHistoryExpired(t *testing.T) {
	ts := newCondstoreServer(t, 5, func(s *imapserver.Server) {
		s.Backend = wrapBackend{s.Backend, func(mb imapserver.Mailbox) imapserver.Mailbox { return expiredMailbox{mb} }}
	})
	c := ts.login()
	c.runV(ts, `
C: e ENABLE QRESYNC
S: * ENABLED QRESYNC
S: e OK ENABLE completed
C: s SELECT INBOX
S: ~ s OK
C: d UID STORE 2 +FLAGS.SILENT (\Deleted)
S: * 2 FETCH (UID 2 MODSEQ (7))
S: d OK STORE completed
C: x EXPUNGE
S: * VANISHED 2
S: x OK [HIGHESTMODSEQ 8] EXPUNGE completed
C: A1 SELECT INBOX (QRESYNC (%V 8 1:5))
S: * OK [CLOSED] Previous mailbox closed
S: ~ HIGHESTMODSEQ 8
S: * VANISHED (EARLIER) 2
S: A1 OK [READ-WRITE] SELECT completed
C: A2 SELECT INBOX (QRESYNC (%V 8 1:5 (3 4)))
S: * OK [CLOSED] Previous mailbox closed
S: ~ HIGHESTMODSEQ 8
S: A2 OK [READ-WRITE] SELECT completed
C: A3 UID FETCH 1:4 (FLAGS) (CHANGEDSINCE 6 VANISHED)
S: * VANISHED (EARLIER) 2
S: A3 OK FETCH completed`)
}
