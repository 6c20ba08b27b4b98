package main

// End to end with mail programs nobody here wrote, each started by the
// test against the zero-configuration server: msmtp submits, mbsync and
// fetchmail read, mutt sends and files its copy in Sent over IMAP, and
// two imaplib sessions see each other's flag changes. (Python's smtplib,
// imaplib and poplib, the POP3 delete seen from IMAP: main_test.go; swaks:
// main_test.go; curl: banner_test.go; the p=reject refusal: auth_test.go;
// mutt and neomutt through a configured site: mutt_test.go.)

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testpeer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runPeer runs a peer program with HOME in a fresh directory and a
// minute's timeout, and returns its combined output.
func runPeer(t *testing.T, home string, stdin string, program string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, program, args...)
	cmd.Env = append(os.Environ(), "HOME="+home, "TERM=dumb", "LC_ALL=C.UTF-8")
	cmd.Dir = home
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %v:\n%s", program, args, out)
	return out
}

func hostPort(t *testing.T, addr string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	return h, p
}

// TestE2EMsmtpSubmits: msmtp submits over implicit TLS with SMTP AUTH,
// checking the certificate; the message arrives in the INBOX.
func TestE2EMsmtpSubmits(t *testing.T) {
	msmtp := testpeer.Need(t, "msmtp", "msmtp")
	addrs, cert := startServer(t)
	home := t.TempDir()
	host, port := hostPort(t, addrs["submissions"])
	conf := filepath.Join(home, "msmtprc")
	require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil, `account default
host %s
port %s
tls on
tls_starttls off
tls_trust_file %s
auth on
user demo
password demo-pw
from demo@localhost
`, host, port, cert), 0o600))
	runPeer(t, home, "From: demo@localhost\nTo: demo@localhost\nSubject: via msmtp\n\nsent by msmtp\n", msmtp, "-C", conf, "demo@localhost")
	assert.Contains(t, subjects(t, addrs["imaps"], cert), "via msmtp")
}

// TestE2EMbsyncAndFetchmailRead: mail delivered over the MX is read by
// mbsync over IMAPS into a local Maildir and by fetchmail over POP3S
// into an MDA, both checking the certificate.
func TestE2EMbsyncAndFetchmailRead(t *testing.T) {
	mbsync := testpeer.Need(t, "mbsync", "isync")
	fetchmail := testpeer.Need(t, "fetchmail", "fetchmail")
	addrs, cert := startServer(t)
	sendMX(t, addrs["smtp"], "for mbsync and fetchmail")

	t.Run("mbsync", func(t *testing.T) {
		home := t.TempDir()
		// mbsync matches the certificate against the host name only (not
		// an IP address): connect to "localhost", which the certificate
		// names.
		_, port := hostPort(t, addrs["imaps"])
		host := "localhost"
		local := filepath.Join(home, "mail")
		require.NoError(t, os.MkdirAll(local, 0o700))
		rc := filepath.Join(home, "mbsyncrc")
		require.NoError(t, os.WriteFile(rc, fmt.Appendf(nil, `IMAPAccount demo
Host %s
Port %s
User demo
Pass demo-pw
SSLType IMAPS
CertificateFile %s

IMAPStore remote
Account demo

MaildirStore local
Path %s/
Inbox %s/INBOX

Channel demo
Far :remote:
Near :local:
Patterns INBOX
Create Near
SyncState *
`, host, port, cert, local, local), 0o600))
		runPeer(t, home, "", mbsync, "-c", rc, "-a")
		var found bool
		for _, sub := range []string{"new", "cur"} {
			files, _ := filepath.Glob(filepath.Join(local, "INBOX", sub, "*"))
			for _, f := range files {
				b, err := os.ReadFile(f)
				require.NoError(t, err)
				found = found || strings.Contains(string(b), "Subject: for mbsync and fetchmail")
			}
		}
		assert.True(t, found, "the message is not in mbsync's Maildir")
	})

	t.Run("fetchmail", func(t *testing.T) {
		home := t.TempDir()
		host, port := hostPort(t, addrs["pop3s"])
		out := filepath.Join(home, "delivered")
		rc := filepath.Join(home, "fetchmailrc")
		require.NoError(t, os.WriteFile(rc, fmt.Appendf(nil, `set no syslog
poll localhost via %s with proto POP3 port %s
  user "demo" there with password "demo-pw" is "%s" here
  ssl sslcertck sslcertfile "%s" sslcommonname localhost
  keep
  mda "/bin/sh -c 'cat >> %s'"
`, host, port, os.Getenv("USER"), cert, out), 0o600))
		runPeer(t, home, "", fetchmail, "-f", rc, "-i", filepath.Join(home, "ids"), "--nodetach")
		b, err := os.ReadFile(out)
		require.NoError(t, err)
		assert.Contains(t, string(b), "Subject: for mbsync and fetchmail")
	})
}

// TestE2EMuttSendsAndFilesInSent: mutt sends through submission and
// files its copy in Sent over IMAP (record = "=Sent", folder an imaps://
// URL); the message arrives and the copy is in Sent.
func TestE2EMuttSendsAndFilesInSent(t *testing.T) {
	mutt := testpeer.Need(t, "mutt", "mutt")
	addrs, cert := startServer(t)
	home := t.TempDir()
	rc := filepath.Join(home, "muttrc")
	require.NoError(t, os.WriteFile(rc, fmt.Appendf(nil, `set smtp_url = "smtps://demo@%s/"
set smtp_pass = "demo-pw"
set imap_user = "demo"
set imap_pass = "demo-pw"
set folder = "imaps://%s/"
set record = "=Sent"
set copy = yes
set confirmcreate = no
set from = "demo@localhost"
set use_from = yes
set realname = "Demo"
set ssl_ca_certificates_file = "%s"
set certificate_file = "%s/certificates"
set spoolfile = ""
set header_cache = ""
`, addrs["submissions"], addrs["imaps"], cert, home), 0o600))
	runPeer(t, home, "sent by mutt\n", mutt, "-n", "-F", rc, "-s", "via mutt", "--", "demo@localhost")
	assert.Contains(t, subjects(t, addrs["imaps"], cert), "via mutt")
	sent := mailbox(t, addrs["imap"], "Sent")
	require.Len(t, sent, 1, "mutt's copy in Sent")
	assert.Contains(t, sent[0], "Subject: via mutt")
}

// TestE2EFlagChangeSeenBySecondSession: imaplib session A flags a
// message; session B, which has the mailbox selected, learns it at its
// next NOOP (an untagged FETCH with the new flags, RFC 9051 §7.5.2).
func TestE2EFlagChangeSeenBySecondSession(t *testing.T) {
	addrs, cert := startServer(t)
	sendMX(t, addrs["smtp"], "to be flagged")
	out := testpeer.RunPython(t, `
import imaplib, os, ssl
h, p = os.environ["IMAPS"].rsplit(":", 1)
ctx = ssl.create_default_context(cafile=os.environ["CERT"])
def login():
    m = imaplib.IMAP4_SSL(h, int(p), ssl_context=ctx)
    m.login("demo", "demo-pw")
    typ, _ = m.select("INBOX")
    assert typ == "OK"
    return m
a, b = login(), login()
typ, data = b.fetch("1", "(FLAGS)")
assert b"\\Flagged" not in data[0], data
typ, _ = a.store("1", "+FLAGS", "(\\Flagged)")
assert typ == "OK"
typ, _ = b.noop()
assert typ == "OK"
typ, data = b.response("FETCH")
print("B saw:", data)
assert data and data[0] and b"\\Flagged" in data[0], data
# And the other way round: B clears it, A sees it.
b.store("1", "-FLAGS", "(\\Flagged)")
a.noop()
typ, data = a.response("FETCH")
print("A saw:", data)
assert data and data[0] and b"\\Flagged" not in data[0], data
a.logout(); b.logout()
`, "IMAPS="+addrs["imaps"], "CERT="+cert)
	assert.Contains(t, string(out), "B saw:")
}
