package pop3server_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/testpeer"
	"github.com/posthorn/posthorn/pop3/internal/pop3fake"
	"github.com/posthorn/posthorn/pop3/pop3server"
)

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// Python's poplib against our server: STLS, USER/PASS, CAPA, STAT, LIST,
// UIDL, RETR with dot-stuffed lines, TOP, DELE, QUIT; and POP3_SSL.
func TestPythonPoplib(t *testing.T) {
	testpeer.Python(t)
	env := start(t, nil)
	dir := t.TempDir()
	cert, _, err := env.Cert.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	script := `
import os, poplib, ssl
ctx = ssl.create_default_context(cafile=os.environ["CERT"])
p = poplib.POP3("127.0.0.1", int(os.environ["PORT"]))
caps = p.capa()
assert "STLS" in caps, caps
p.stls(context=ctx)
caps = p.capa()
assert "USER" in caps and "PIPELINING" in caps and "STLS" not in caps, caps
p.user("alice"); p.pass_("secret")
print("STAT", p.stat())
print("LIST", p.list()[1])
print("UIDL", p.uidl()[1])
resp, lines, octets = p.retr(1)
print("RETR1", lines, octets)
print("TOP", p.top(2, 1)[1])
p.dele(2)
print("QUIT", p.quit())
s = poplib.POP3_SSL("localhost", int(os.environ["TLSPORT"]), context=ctx)
s.user("alice"); s.pass_("secret")
print("SSL-STAT", s.stat())
try:
    s2 = poplib.POP3_SSL("localhost", int(os.environ["TLSPORT"]), context=ctx)
    s2.user("alice"); s2.pass_("secret")
except poplib.error_proto as e:
    print("SECOND", e)
s.quit()
`
	out := string(testpeer.RunPython(t, script, "CERT="+cert, "PORT="+port(env.Addr), "TLSPORT="+port(env.TLSAddr)))
	for _, want := range []string{
		"STAT (2, 144)",
		"LIST [b'1 67', b'2 77']",
		"UIDL [b'1 uid-1', b'2 uid-2']",
		// poplib unstuffs: ".dot line" and "." come back as sent.
		"RETR1 [b'From: a@example.org', b'Subject: one', b'', b'line 1', b'.dot line', b'.', b'line 4'] 67",
		"TOP [b'From: b@example.org', b'Subject: two, stored with LF', b'', b'body 1']",
		"QUIT b'+OK bye'",
		"SSL-STAT (1, 67)",
		"SECOND b'-ERR [IN-USE] maildrop already locked by another session'",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("poplib output lacks %q:\n%s", want, out)
		}
	}
	if got := env.Backend.UIDs("alice"); !slices.Equal(got, []string{"uid-1"}) {
		t.Errorf("after QUIT: %v", got)
	}
}

// curl's POP3 client (RFC 1939 URLs, RFC 2384): plaintext, pop3s and STLS.
func TestCurl(t *testing.T) {
	curl := testpeer.Need(t, "curl", "curl")
	env := start(t, &pop3server.Server{AllowInsecureAuth: true})
	cert, _, err := env.Cert.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := testpeer.Run(t, curl, append([]string{"-sS", "--max-time", "20", "--user", "alice:secret"}, args...)...)
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if got := run("pop3://127.0.0.1:" + port(env.Addr) + "/1"); got != msg1 {
		t.Errorf("RETR over pop3:// = %q", got)
	}
	if got := run("--cacert", cert, "pop3s://localhost:"+port(env.TLSAddr)+"/2"); got != pop3fake.CRLF(msg2) {
		t.Errorf("RETR over pop3s:// = %q", got)
	}
	if got := run("--ssl-reqd", "--cacert", cert, "pop3://localhost:"+port(env.Addr)+"/"); got != "1 67\r\n2 77\r\n" {
		t.Errorf("LIST over STLS = %q", got)
	}
	if got := run("-X", "UIDL", "pop3://127.0.0.1:"+port(env.Addr)+"/"); got != "1 uid-1\r\n2 uid-2\r\n" {
		t.Errorf("UIDL = %q", got)
	}
	if got := run("--login-options", "AUTH=PLAIN", "pop3://127.0.0.1:"+port(env.Addr)+"/1"); got != msg1 {
		t.Errorf("RETR after AUTH PLAIN = %q", got)
	}
}

// mpop downloads over STLS with SASL PLAIN and deletes what it fetched.
func TestMpop(t *testing.T) {
	mpop := testpeer.Need(t, "mpop", "mpop")
	env := start(t, &pop3server.Server{})
	dir := t.TempDir()
	cert, _, err := env.Cert.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	mbox := filepath.Join(dir, "mbox")
	for _, tc := range []struct {
		name, extra string
		port        string
	}{
		{"stls", "tls on\ntls_starttls on\nauth plain\n", port(env.Addr)},
		{"implicit", "tls on\ntls_starttls off\nauth user\n", port(env.TLSAddr)},
	} {
		rc := filepath.Join(dir, "mpoprc-"+tc.name)
		conf := fmt.Sprintf("account test\nhost localhost\nport %s\nuser alice\npassword secret\ntls_trust_file %s\n%sdelivery mbox %s\nkeep off\nuidls_file %s\n",
			tc.port, cert, tc.extra, mbox, filepath.Join(dir, "uidls-"+tc.name))
		if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := testpeer.Run(t, mpop, "-C", rc, "-q", "test")
		if err != nil {
			t.Fatalf("mpop %s: %v\n%s", tc.name, err, out)
		}
		if tc.name == "stls" {
			got, _ := os.ReadFile(mbox)
			if !strings.Contains(string(got), "\n>From:") && !strings.Contains(string(got), "Subject: one") {
				t.Errorf("mbox lacks message one:\n%s", got)
			}
			if !strings.Contains(string(got), "\n.dot line\n") || !strings.Contains(string(got), "Subject: two, stored with LF") {
				t.Errorf("mbox content:\n%s", got)
			}
			if left := env.Backend.UIDs("alice"); len(left) != 0 {
				t.Errorf("after mpop with keep off the server holds %v", left)
			}
			env.Backend.Deliver("alice", []byte(msg1))
		}
	}
	if left := env.Backend.UIDs("alice"); len(left) != 0 {
		t.Errorf("after mpop (implicit TLS) the server holds %v", left)
	}
}

// fetchmail polls with keep and fetchall, delivering through an MDA.
func TestFetchmail(t *testing.T) {
	fetchmail := testpeer.Need(t, "fetchmail", "fetchmail")
	env := start(t, &pop3server.Server{})
	dir := t.TempDir()
	cert, _, err := env.Cert.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	rc := filepath.Join(dir, "fetchmailrc")
	conf := fmt.Sprintf(`set no syslog
poll localhost service %s protocol POP3 uidl
  user "alice" there with password "secret" is "root" here
  sslproto TLS1.2+ sslcertck sslcertfile %q
  keep fetchall
  mda "/bin/sh -c 'cat >> %s'"
`, port(env.Addr), cert, out)
	if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := testpeer.Run(t, fetchmail, "-f", rc, "--nodetach", "--nosyslog", "--idfile", filepath.Join(dir, "ids"), "--pidfile", filepath.Join(dir, "pid"))
	if err != nil {
		t.Fatalf("fetchmail: %v\n%s", err, res)
	}
	got, _ := os.ReadFile(out)
	if !strings.Contains(string(got), "Subject: one") || !strings.Contains(string(got), "\n.dot line\n") || !strings.Contains(string(got), "body 3") {
		t.Errorf("delivered:\n%s\nfetchmail said:\n%s", got, res)
	}
	if left := env.Backend.UIDs("alice"); len(left) != 2 {
		t.Errorf("keep: server holds %v", left)
	}
}
