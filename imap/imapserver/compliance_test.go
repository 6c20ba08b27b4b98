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
