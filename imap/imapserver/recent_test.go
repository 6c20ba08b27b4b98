package imapserver_test

import "testing"

// TestRecent: RFC 3501 §2.3.2 — a message is recent in exactly one
// session, the first told of it; EXAMINE does not claim (§6.3.2); the
// RECENT response (§7.3.2), STATUS RECENT (§6.3.10), the RECENT, NEW and
// OLD search keys (§6.4.4); STORE cannot change \Recent (§2.3.2); and
// IMAP4rev2 sessions never see it (RFC 9051 Appendix E).
func TestRecent(t *testing.T) {
	ts := newTestServer(t)
	ts.deliver(msg1)
	ts.deliver(msg2)
	c1, c2, c3 := ts.login(), ts.login(), ts.login()
	// EXAMINE first: it reports the unclaimed messages without claiming.
	c3.run(`
C: e1 STATUS INBOX (MESSAGES RECENT)
S: * STATUS INBOX (MESSAGES 2 RECENT 2)
S: e1 OK STATUS completed
C: e2 EXAMINE INBOX
S: * 2 EXISTS
S: * 2 RECENT
S: ~ e2 OK [READ-ONLY]
C: e3 STATUS INBOX (RECENT)
S: * STATUS INBOX (RECENT 2)
S: e3 OK STATUS completed`)
	c1.run(`
C: a1 SELECT INBOX
S: * 2 EXISTS
S: * 2 RECENT
S: ~ a1 OK [READ-WRITE]
C: a2 FETCH 1:2 FLAGS
S: * 1 FETCH (FLAGS (\Recent))
S: * 2 FETCH (FLAGS (\Recent))
S: a2 OK FETCH completed
C: a3 STORE 1 +FLAGS (\Seen)
S: * 1 FETCH (FLAGS (\Seen \Recent))
S: a3 OK STORE completed
C: a4 SEARCH RECENT
S: * SEARCH 1 2
S: a4 OK SEARCH completed
C: a5 SEARCH NEW
S: * SEARCH 2
S: a5 OK SEARCH completed
C: a6 SEARCH OLD
S: * SEARCH
S: a6 OK SEARCH completed
C: a7 STORE 1:2 -FLAGS (\Recent)
S: * 1 FETCH (FLAGS (\Seen \Recent))
S: * 2 FETCH (FLAGS (\Recent))
S: a7 OK STORE completed`)
	// The second SELECT finds them claimed.
	c2.run(`
C: b1 STATUS INBOX (RECENT)
S: * STATUS INBOX (RECENT 0)
S: b1 OK STATUS completed
C: b2 SELECT INBOX
S: * 2 EXISTS
S: * 0 RECENT
S: ~ b2 OK [READ-WRITE]
C: b3 FETCH 1:2 FLAGS
S: * 1 FETCH (FLAGS (\Seen))
S: * 2 FETCH (FLAGS ())
S: b3 OK FETCH completed
C: b4 SEARCH RECENT
S: * SEARCH
S: b4 OK SEARCH completed
C: b5 SEARCH OLD
S: * SEARCH 1 2
S: b5 OK SEARCH completed`)
	// A new message is recent in the session that hears of it first:
	// c2 polls (NOOP) before c1 does.
	ts.deliver(msg1)
	c2.run(`
C: b6 NOOP
S: * 3 EXISTS
S: * 1 RECENT
S: b6 OK NOOP completed
C: b7 FETCH 3 FLAGS
S: * 3 FETCH (FLAGS (\Recent))
S: b7 OK FETCH completed
C: b8 SEARCH NEW
S: * SEARCH 3
S: b8 OK SEARCH completed`)
	c1.run(`
C: a8 NOOP
S: * 3 EXISTS
S: * 2 RECENT
S: a8 OK NOOP completed
C: a9 FETCH 3 FLAGS
S: * 3 FETCH (FLAGS ())
S: a9 OK FETCH completed
C: a10 SEARCH RECENT
S: * SEARCH 1 2
S: a10 OK SEARCH completed`)
	// The read-only session keeps the first two as recent, as they were
	// unclaimed when it opened the mailbox; c2 claimed the third first.
	c3.run(`
C: e4 NOOP
S: * 1 FETCH (UID 1 FLAGS (\Seen \Recent))
S: * 3 EXISTS
S: * 2 RECENT
S: e4 OK NOOP completed`)
}

// TestRecentIMAP4rev2: RFC 9051 Appendix E — no RECENT, no \Recent.
func TestRecentIMAP4rev2(t *testing.T) {
	ts := newTestServer(t)
	ts.deliver(msg1)
	c := ts.login()
	c.run(`
C: a1 ENABLE IMAP4rev2
S: * ENABLED IMAP4rev2
S: a1 OK ENABLE completed
C: a2 SELECT INBOX
S: * 1 EXISTS
S: * FLAGS ...
S: ~ a2 OK [READ-WRITE]
C: a3 FETCH 1 FLAGS
S: * 1 FETCH (FLAGS ())
S: a3 OK FETCH completed`)
	ts.deliver(msg1)
	c.run(`
C: a4 NOOP
S: * 2 EXISTS
S: a4 OK NOOP completed`)
}
