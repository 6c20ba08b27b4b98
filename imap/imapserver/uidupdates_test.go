package imapserver_test

import "testing"

// Updates for UID commands (RFC 9051 §7.5.1): pending EXPUNGEs go out
// only once the whole command line is read, and not before UID SEARCH,
// whose criteria may hold sequence numbers of the client's view.
func TestUIDCommandUpdates(t *testing.T) {
	ts := newTestServer(t)
	ts.deliver(msg1)
	ts.deliver(msg2)
	ts.deliver(msg1)
	ts.deliver(msg2)
	a := ts.login()
	a.run(`
C: a1 SELECT INBOX
S: * 4 EXISTS...
S: ~ a1 OK [READ-WRITE]`)
	b := ts.login()
	b.run(`
C: b1 SELECT INBOX
S: ~ b1 OK [READ-WRITE]
C: b2 STORE 1 +FLAGS.SILENT (\Deleted)
S: b2 OK STORE completed
C: b3 EXPUNGE
S: * 1 EXPUNGE
S: b3 OK EXPUNGE completed`)
	// Sequence number 2 is the client's: UID 2, not UID 3 as it would be
	// if the EXPUNGE went first; the EXPUNGE is held to the next command
	// that may carry it.
	a.run(`
C: a2 UID SEARCH 2
S: * SEARCH 2
S: * 1 FETCH (UID 1 FLAGS (\Deleted \Recent))
S: a2 OK SEARCH completed`)
	b.run(`
C: b4 STORE 1 +FLAGS.SILENT (\Deleted)
S: b4 OK STORE completed
C: b5 EXPUNGE
S: * 1 EXPUNGE
S: b5 OK EXPUNGE completed`)
	// A UID FETCH brings the view up to date before it answers, so the
	// FETCH uses the new sequence numbers.
	a.run(`
C: a3 UID FETCH 3:4 (UID)
S: * 2 FETCH (UID 2 FLAGS (\Deleted \Recent))
S: * 2 EXPUNGE
S: * 1 EXPUNGE
S: * 1 FETCH (UID 3)
S: * 2 FETCH (UID 4)
S: a3 OK FETCH completed`)
}
