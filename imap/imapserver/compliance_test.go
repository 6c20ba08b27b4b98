package imapserver_test

import (
	"fmt"
	"testing"
)

// Regression tests for the defects Dovecot's imaptest found (issue 12);
// imaptest_compliance_test.go runs imaptest itself when it is built.

// A binary APPEND (literal8, RFC 3516 §4.4) is stored as sent: bare LFs
// stay bare, so RFC822.SIZE is the size sent and BINARY.SIZE[1] the
// body's (issue 12 defect 6: LFs became CRLFs, 9 octets instead of 7).
func TestAppendBinaryStoredAsSent(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login()
	msg := "Subject: b\r\nContent-Transfer-Encoding: binary\r\n\r\n-\xe4\n\r\n\n\n"
	c.send(fmt.Sprintf("a1 APPEND INBOX ~{%d+}", len(msg)))
	c.send(msg)
	c.run(fmt.Sprintf(`
S: a1 OK [APPENDUID ...
C: a2 SELECT INBOX
S: ~ a2 OK
C: a3 FETCH 1 (RFC822.SIZE BINARY.SIZE[1])
S: * 1 FETCH (RFC822.SIZE %d BINARY.SIZE[1] 7)
S: a3 OK FETCH completed`, len(msg)))
	// A plain literal is still taken as text: bare LFs become CRLFs.
	c.send(fmt.Sprintf("a4 APPEND INBOX {%d+}", len(msg)))
	c.send(msg)
	c.run(fmt.Sprintf(`
S: ~ a4 OK [APPENDUID
C: a5 FETCH 2 (RFC822.SIZE BINARY.SIZE[1])
S: * 2 FETCH (RFC822.SIZE %d BINARY.SIZE[1] 10)
S: a5 OK FETCH completed`, len(msg)+3))
}

// ESEARCH with MODSEQ (RFC 4731 §3.2, RFC 7162 §3.1.10): with MIN or MAX
// alone the MODSEQ result is that message's, with MIN and MAX alone the
// higher of the two, otherwise the highest of all (issue 12 defect 7:
// the highest of all was always returned).
func TestESearchMinMaxModSeq(t *testing.T) {
	ts := newTestServer(t)
	for range 3 {
		ts.deliver(msg1)
	}
	c := ts.login()
	// Mod-sequences ascending in the order 3, 1, 2 (each STORE is one
	// change of the mailbox).
	c.run(`
C: a1 SELECT INBOX (CONDSTORE)
S: ~ a1 OK
C: a2 STORE 3 +FLAGS.SILENT (\Seen)
S: ~ a2 OK STORE
C: a3 STORE 1 +FLAGS.SILENT (\Seen)
S: ~ a3 OK STORE
C: a4 STORE 2 +FLAGS.SILENT (\Seen)
S: ~ a4 OK STORE`)
	c.send("a5 FETCH 1:3 (MODSEQ)")
	ms := map[int]string{}
	for range 3 {
		var n int
		var m string
		l := c.readLine()
		if _, err := fmt.Sscanf(l, "* %d FETCH (MODSEQ (%s", &n, &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		ms[n] = m[:len(m)-2]
	}
	c.run(fmt.Sprintf(`
S: a5 OK FETCH completed
C: a6 SEARCH RETURN (MIN) MODSEQ 1
S: * ESEARCH (TAG "a6") MIN 1 MODSEQ %[1]s
S: a6 OK SEARCH completed
C: a7 SEARCH RETURN (MAX) 1,3 MODSEQ 1
S: * ESEARCH (TAG "a7") MAX 3 MODSEQ %[3]s
S: a7 OK SEARCH completed
C: a8 SEARCH RETURN (MIN MAX) 1,3 MODSEQ 1
S: * ESEARCH (TAG "a8") MIN 1 MAX 3 MODSEQ %[1]s
S: a8 OK SEARCH completed
C: a9 SEARCH RETURN (MIN COUNT) 1,3 MODSEQ 1
S: * ESEARCH (TAG "a9") MIN 1 COUNT 2 MODSEQ %[1]s
S: a9 OK SEARCH completed
C: b1 SEARCH RETURN (MAX ALL) MODSEQ 1
S: * ESEARCH (TAG "b1") MAX 3 ALL 1:3 MODSEQ %[2]s
S: b1 OK SEARCH completed`, ms[1], ms[2], ms[3]))
}

// A LIST pattern that is not modified UTF-7 ("&'") matches no mailbox
// name, so LIST answers OK with nothing, as Dovecot does, rather than
// NO [CANNOT] (issue 12 defect 8; imaptest's atoms script).
func TestListPatternInvalidUTF7MatchesNothing(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login()
	c.run(`
C: a1 LIST "" "!#$&'+,-.0123456789:;<=>?@^_` + "`" + `|[}%*"
S: a1 OK LIST completed
C: a2 LIST "" ("&'" INBOX)
S: * LIST (\HasNoChildren) "/" INBOX
S: a2 OK LIST completed`)
}

// RFC 3501 §6.3.9: with foo/bar subscribed and foo not, LSUB "" "%" must
// return foo flagged \Noselect, and LSUB "" "*" only foo/bar (issue 12
// defect 5). The parent is returned whether or not a mailbox foo exists.
func TestLsubPercentUnsubscribedParent(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login()
	c.run(`
C: a1 CREATE t/foo/bar
S: a1 OK CREATE completed
C: a2 SUBSCRIBE t/foo/bar
S: a2 OK SUBSCRIBE completed
C: a3 SUBSCRIBE t/ghost/child
S: a3 OK SUBSCRIBE completed
C: a4 LSUB "" t/%
S: * LSUB (\Noselect) "/" t/foo
S: * LSUB (\Noselect) "/" t/ghost
S: a4 OK LSUB completed
C: a5 LSUB "" t/*
S: * LSUB (\HasNoChildren) "/" t/foo/bar
S: * LSUB (\NonExistent) "/" t/ghost/child
S: a5 OK LSUB completed
C: a6 LSUB "" t%
S: * LSUB (\Noselect) "/" t
S: a6 OK LSUB completed`)
}

// RFC 5258 §3.5: LIST (SUBSCRIBED RECURSIVEMATCH) returns an unsubscribed
// parent with CHILDINFO only when a subscribed child is not itself
// returned; with a second pattern matching the child, the parent is not
// returned (issue 12 defect 8; imaptest's listext).
func TestListRecursiveMatchChildInfoTwoPatterns(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login()
	c.run(`
C: a1 CREATE p/q
S: a1 OK CREATE completed
C: a2 SUBSCRIBE p/q
S: a2 OK SUBSCRIBE completed
C: a3 LIST (SUBSCRIBED RECURSIVEMATCH) "" (p)
S: * LIST (\HasChildren) "/" p ("CHILDINFO" ("SUBSCRIBED"))
S: a3 OK LIST completed
C: a4 LIST (SUBSCRIBED RECURSIVEMATCH) "" (p p/q)
S: * LIST (\HasNoChildren \Subscribed) "/" p/q
S: a4 OK LIST completed
C: a5 LIST (SUBSCRIBED RECURSIVEMATCH) "" p%
S: * LIST (\HasChildren) "/" p ("CHILDINFO" ("SUBSCRIBED"))
S: a5 OK LIST completed`)
}

// A binary APPEND whose part holds NUL: BODY[1] cannot carry NUL (RFC 9051
// §4.3), so the part is stored as base64 and BINARY[1] still returns the
// octets appended (RFC 3516 §4.4; imaptest's append-binary).
func TestAppendBinaryNUL(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login()
	msg := "Subject: b\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00-\xe4\n\r\n\n"
	c.send(fmt.Sprintf("a1 APPEND INBOX ~{%d+}", len(msg)))
	c.send(msg)
	c.run(`
S: a1 OK [APPENDUID ...
C: a2 SELECT INBOX
S: ~ a2 OK
C: a3 FETCH 1 (BINARY.SIZE[1] BODY.PEEK[1])
S: * 1 FETCH (BINARY.SIZE[1] 7 BODY[1] {12}
S: AC3kCg0KCg==)
S: a3 OK FETCH completed`)
}
