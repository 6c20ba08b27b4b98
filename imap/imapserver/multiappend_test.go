package imapserver_test

import (
	"fmt"
	"testing"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// RFC 3502: several messages in one APPEND, each with its own flags and
// date, synchronising and non-synchronising literals mixed as in a single
// APPEND; APPENDUID with the UID set (RFC 4315 §3); all or nothing.
func TestMultiAppend(t *testing.T) {
	ts := newTestServer(t, func(s *imapserver.Server) { s.Limits.MaxAppend = 100 })
	v := uidValidity(t, ts, "INBOX")
	c := ts.login()
	c.run(fmt.Sprintf(`
C: a1 APPEND INBOX (\Seen) "01-Feb-2024 10:00:00 +0000" {12}
S: + Ready for literal data
C: Subject: a
C:  (\Flagged) {12+}
C: Subject: b
C:  "02-Feb-2024 10:00:00 +0100" {12}
S: + Ready for literal data
C: Subject: c
C:
S: a1 OK [APPENDUID %d 1:3] APPEND completed
C: a2 SELECT INBOX
S: * 3 EXISTS
S: ~ a2 OK
C: a3 FETCH 1:3 (FLAGS INTERNALDATE RFC822.SIZE)
S: * 1 FETCH (FLAGS (\Seen \Recent) INTERNALDATE "01-Feb-2024 10:00:00 +0000" RFC822.SIZE 12)
S: * 2 FETCH (FLAGS (\Flagged \Recent) INTERNALDATE ...
S: * 3 FETCH (FLAGS (\Recent) INTERNALDATE "02-Feb-2024 10:00:00 +0100" RFC822.SIZE 12)
S: a3 OK FETCH completed`, v))

	// A synchronising literal over APPENDLIMIT in the second message is
	// refused before it is sent (RFC 4469 §5, RFC 7888 §4); the first
	// message is not added either.
	c.run(`
C: b1 APPEND INBOX {12}
S: + Ready for literal data
C: Subject: d
C:  {101}
S: b1 NO [TOOBIG] ...
C: b2 NOOP
S: b2 OK NOOP completed
C: b3 STATUS INBOX (MESSAGES)
S: * STATUS INBOX (MESSAGES 3)
S: b3 OK STATUS completed`)

	// The whole command is bounded too: 3 x 40 octets > 100.
	msg40 := "Subject: e\r\n\r\n" + "012345678901234567890123\r\n"
	c.run(fmt.Sprintf(`
C: c1 APPEND INBOX {40+}
%sC:  {40+}
%sC:  {40}
S: c1 NO [TOOBIG] ...
C: c2 STATUS INBOX (MESSAGES)
S: * STATUS INBOX (MESSAGES 3)
S: c2 OK STATUS completed`, literalLines(msg40), literalLines(msg40)))

	// No such mailbox: TRYCREATE (RFC 9051 §6.3.12), nothing added.
	c.run(`
C: d1 APPEND Nowhere {12+}
C: Subject: f
C:  {12+}
C: Subject: g
C:
S: d1 NO [TRYCREATE] No such mailbox
C: d2 APPEND INBOX (\Seen
S: d2 BAD ...`)
}
