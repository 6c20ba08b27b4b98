package imapserver_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/internal/testpeer"
	"github.com/posthorn/posthorn/internal/tlsutil"
)

// TestPythonImaplib drives the server with Python's imaplib: STARTTLS,
// login, select, append, fetch, search, store, expunge and IDLE
// (imaplib has idle() from Python 3.14; the script falls back to raw
// commands otherwise).
func TestPythonImaplib(t *testing.T) {
	testpeer.Python(t)
	cert, err := tlsutil.NewTestCert()
	if err != nil {
		t.Fatal(err)
	}
	certFile, _, err := cert.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, func(s *imapserver.Server) {
		s.AllowInsecureAuth = false
		s.TLSConfig = cert.ServerConfig()
	})
	ts.deliver(msg1)
	ts.deliver(msg2)
	host, port, _ := strings.Cut(ts.addr, ":")
	script := `
import imaplib, ssl, os, sys
ctx = ssl.create_default_context(cafile=os.environ["CERT"])
ctx.check_hostname = False
m = imaplib.IMAP4(os.environ["HOST"], int(os.environ["PORT"]))
m.starttls(ssl_context=ctx)
typ, _ = m.login("alice", "secret")
assert typ == "OK", typ
typ, data = m.select("INBOX")
assert typ == "OK" and data == [b"2"], (typ, data)
typ, data = m.append("INBOX", r"(\Flagged)", imaplib.Time2Internaldate(0), b"Subject: from python\r\n\r\nhi\r\n")
assert typ == "OK", (typ, data)
print("append", data[0].decode().split("]")[0])
typ, data = m.search(None, "FROM", "bob")
print("search", data)
typ, data = m.uid("SEARCH", "SUBJECT", "python")
print("uidsearch", data)
typ, data = m.fetch("1", "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
print("fetch", data[0][0].decode(), repr(data[0][1]))
typ, data = m.fetch("2", "(BODY[1])")
print("body", repr(data[0][1]))
typ, data = m.store("1", "+FLAGS", r"(\Deleted)")
print("store", data)
typ, data = m.expunge()
print("expunge", data)
typ, data = m.list()
print("list", len(data), data[0])
typ, data = m.status("INBOX", "(MESSAGES UNSEEN)")
print("status", data)
tag = m._new_tag()
m.send(tag + b" IDLE\r\n")
print("idle", m.readline().strip())
m.send(b"DONE\r\n")
print("done", m.readline().strip().split(b" ", 1)[1])
m.logout()
`
	out := string(testpeer.RunPython(t, script, "HOST="+host, "PORT="+port, "CERT="+certFile))
	st, _ := ts.store.User(t.Context(), "alice", nil)
	status, _ := st.Status(t.Context(), "INBOX")
	want := fmt.Sprintf(`append [APPENDUID %d 3
search [b'1']
uidsearch [b'3']
fetch 1 (UID 1 RFC822.SIZE %d BODY[HEADER.FIELDS (SUBJECT)] {18} b'Subject: Hello\r\n\r\n'
body b'See attached marzipan.'
store [b'1 (FLAGS (\\Deleted \\Recent))']
expunge [b'1']
list 6 b'(\\HasNoChildren \\Archive) "/" Archive'
status [b'INBOX (MESSAGES 2 UNSEEN 1)']
idle b'+ idling'
done b'OK IDLE completed'
`, status.UIDValidity, len(msg1))
	if out != want {
		t.Errorf("imaplib output:\n%s\nwant:\n%s", out, want)
	}
}

// TestCurl fetches a message and lists a mailbox with curl's IMAP client.
func TestCurl(t *testing.T) {
	testpeer.Need(t, "curl", "curl")
	ts := newTestServer(t)
	ts.deliver(msg1)
	out, err := testpeer.Run(t, "curl", "-sS", "--max-time", "20", fmt.Sprintf("imap://%s/INBOX;UID=1", ts.addr), "--user", "alice:secret")
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if string(out) != msg1 {
		t.Errorf("curl fetched %q", out)
	}
	out, err = testpeer.Run(t, "curl", "-sS", "--max-time", "20", fmt.Sprintf("imap://%s/", ts.addr), "--user", "alice:secret")
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `* LIST (\HasNoChildren) "/" INBOX`) {
		t.Errorf("curl list:\n%s", out)
	}
	out, err = testpeer.Run(t, "curl", "-sS", "--max-time", "20", fmt.Sprintf("imap://%s/INBOX", ts.addr), "--user", "alice:secret", "-X", "SEARCH SUBJECT Hello")
	if err != nil || !strings.Contains(string(out), "* SEARCH 1") {
		t.Errorf("curl search: %v\n%s", err, out)
	}
}
