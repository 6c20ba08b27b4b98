package imapserver_test

import (
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/testpeer"
)

// TestPythonImaplibQresync drives CONDSTORE and QRESYNC (RFC 7162) with
// Python's imaplib, which knows neither and passes the commands and
// responses through: ENABLE QRESYNC, HIGHESTMODSEQ on SELECT, STORE with
// MODSEQ, VANISHED after EXPUNGE, SELECT (QRESYNC ...) and UID FETCH
// (CHANGEDSINCE ... VANISHED).
func TestPythonImaplibQresync(t *testing.T) {
	testpeer.Python(t)
	ts := newCondstoreServer(t, 3)
	host, port, _ := strings.Cut(ts.addr, ":")
	script := `
import imaplib, os
m = imaplib.IMAP4(os.environ["HOST"], int(os.environ["PORT"]))
m.login("alice", "secret")
typ, data = m._simple_command("ENABLE", "QRESYNC")
print("enable", typ, m.response("ENABLED"))
typ, data = m.select("INBOX")
hms = int(m.response("HIGHESTMODSEQ")[1][0])
uidv = int(m.response("UIDVALIDITY")[1][0])
print("select", typ, data, hms)
typ, data = m.uid("STORE", "2", "+FLAGS", r"(\Flagged)")
print("store", typ, data)
typ, data = m.uid("STORE", "3", "+FLAGS.SILENT", r"(\Deleted)")
print("store", typ, data)
typ, data = m.expunge()
print("expunge", typ, m.response("VANISHED"), m.response("EXPUNGE"))
typ, data = m._simple_command("SELECT", "INBOX", "(QRESYNC (%d %d 1:3))" % (uidv, hms))
print("qresync", typ, data, m.response("CLOSED"), m.response("VANISHED"), m.response("FETCH"))
typ, data = m.uid("FETCH", "1:3", "(FLAGS)", "(CHANGEDSINCE %d VANISHED)" % hms)
print("fetch", typ, data, m.response("VANISHED"))
typ, data = m.search(None, "MODSEQ", str(hms))
print("search", typ, data)
m.logout()
`
	out := string(testpeer.RunPython(t, script, "HOST="+host, "PORT="+port))
	want := `enable OK ('ENABLED', [b'QRESYNC'])
select OK [b'3'] 4
store OK [b'2 (UID 2 MODSEQ (5) FLAGS (\\Flagged))']
store OK [b'3 (UID 3 MODSEQ (6))']
expunge OK ('VANISHED', [b'3']) ('EXPUNGE', [None])
qresync OK [b'[READ-WRITE] SELECT completed'] ('CLOSED', [b'']) ('VANISHED', [b'(EARLIER) 3']) ('FETCH', [b'2 (UID 2 FLAGS (\\Flagged) MODSEQ (5))'])
fetch OK [b'2 (UID 2 FLAGS (\\Flagged) MODSEQ (5))'] ('VANISHED', [b'(EARLIER) 3'])
search OK [b'2 (MODSEQ 5)']
`
	if out != want {
		t.Errorf("imaplib output:\n%s\nwant:\n%s", out, want)
	}
}
