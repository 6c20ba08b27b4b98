package imapserver_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/internal/testpeer"
	"github.com/posthorn/posthorn/internal/tlsutil"
)

// TestMbsync syncs INBOX both ways with isync's mbsync over STARTTLS: the
// server's messages land in a local Maildir, a message added locally is
// uploaded, a flag set locally arrives, and nothing is lost on a second run.
func TestMbsync(t *testing.T) {
	testpeer.Need(t, "mbsync", "isync")
	cert, err := tlsutil.NewTestCert()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, _, err := cert.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, func(s *imapserver.Server) {
		s.AllowInsecureAuth = false
		s.TLSConfig = cert.ServerConfig()
	})
	ts.deliver(msg1)
	ts.deliver(msg2)
	// The certificate names "localhost"; mbsync checks host names only.
	_, port, _ := strings.Cut(ts.addr, ":")
	local := filepath.Join(dir, "mail") + "/"
	if err := os.MkdirAll(local, 0o700); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(dir, "mbsyncrc")
	conf := fmt.Sprintf(`IMAPAccount test
Host localhost
Port %s
User alice
Pass secret
SSLType STARTTLS
CertificateFile %s

IMAPStore remote
Account test

MaildirStore local
Path %s
Inbox %sINBOX
SubFolders Verbatim

Channel test
Far :remote:
Near :local:
Patterns INBOX
Create Both
Sync All
SyncState *
`, port, certFile, local, local)
	if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func() {
		t.Helper()
		out, err := testpeer.Run(t, "mbsync", "-c", rc, "test")
		if err != nil {
			t.Fatalf("mbsync: %v\n%s", err, out)
		}
	}
	run()
	cur, _ := filepath.Glob(filepath.Join(local, "INBOX", "*", "*"))
	if len(cur) != 2 {
		t.Fatalf("local INBOX has %d messages after the first sync: %v", len(cur), cur)
	}
	// A new local message goes up; a local \Seen flag (",S" suffix) too.
	if err := os.WriteFile(filepath.Join(local, "INBOX", "new", "1.local"), []byte("Subject: local\r\n\r\nfrom the laptop\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	first := cur[0]
	if !strings.Contains(first, ":2,") {
		os.Rename(first, first+":2,S")
	} else {
		os.Rename(first, first+"S")
	}
	run()
	u, _ := ts.store.User(t.Context(), "alice", nil)
	st, err := u.Status(t.Context(), "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if st.Messages != 3 || st.Unseen != 2 {
		t.Errorf("server INBOX after sync back: %+v", st)
	}
	run() // idempotent: nothing lost, nothing duplicated
	st2, _ := u.Status(t.Context(), "INBOX")
	all, _ := filepath.Glob(filepath.Join(local, "INBOX", "*", "*"))
	if st2.Messages != 3 || len(all) != 3 {
		t.Errorf("after a third run: server %d, local %d", st2.Messages, len(all))
	}
}
