package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testpeer"
)

// startServer runs the whole program on free ports and returns the bound
// addresses and the certificate path it printed.
func startServer(t *testing.T) (addrs map[string]string, certFile string) {
	t.Helper()
	return startServerTrace(t, nil)
}

// startServerTrace is startServer with the servers' protocol traces
// (-trace) going to trace.
func startServerTrace(t *testing.T, trace io.Writer) (addrs map[string]string, certFile string) {
	t.Helper()
	return startServerWith(t, func(c *config) { c.Trace = trace })
}

// startServerWith is startServer with the configuration changed by edit
// (after the test defaults: free ports, password demo-pw, a fresh data
// directory).
func startServerWith(t *testing.T, edit func(*config)) (addrs map[string]string, certFile string) {
	t.Helper()
	return startServerWithLog(t, io.Discard, edit)
}

// startServerWithLog is startServerWith with the program's log going to
// logw.
func startServerWithLog(t *testing.T, logw io.Writer, edit func(*config)) (addrs map[string]string, certFile string) {
	t.Helper()
	cfg := defaultConfig()
	cfg.Password = "demo-pw"
	cfg.Data = t.TempDir() // the Maildir store, as a newcomer runs it
	for _, p := range []*string{&cfg.SMTP, &cfg.Submission, &cfg.SubmissionTLS, &cfg.IMAP, &cfg.IMAPTLS, &cfg.POP3, &cfg.POP3TLS, &cfg.Web, &cfg.Ops.Metrics} {
		*p = "127.0.0.1:0"
	}
	if edit != nil {
		edit(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	readyc := make(chan map[string]string, 1)
	done := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(logw, nil))
	go func() {
		done <- run(ctx, cfg, logger, &out, func(ls listeners, _ mailStore) {
			m := map[string]string{}
			for name, l := range ls {
				m[name] = l.Addr().String()
			}
			readyc <- m
		})
	}()
	select {
	case addrs = <-readyc:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	login := ""
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "cert" {
			certFile = f[1]
		}
		// "account   login NAME  password PW  (address ...)": what a
		// newcomer types must be what the tests below log in with.
		if len(f) >= 5 && f[0] == "account" && f[1] == "login" && f[3] == "password" {
			login = f[2] + " " + f[4]
		}
	}
	if login != "demo demo-pw" {
		t.Fatalf("banner names login and password %q, want \"demo demo-pw\":\n%s", login, out.String())
	}
	if certFile == "" {
		t.Fatalf("no certificate path printed:\n%s", out.String())
	}
	// The program removes its temporary folder at exit; keep a copy.
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	certFile = filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(certFile, pem, 0o644); err != nil {
		t.Fatal(err)
	}
	return addrs, certFile
}

// The main job end to end, driven by Python's standard library clients:
// mail arrives over SMTP (MX), is read over IMAP, downloaded and deleted
// over POP3, and is then gone from IMAP as well, since the three servers
// share one store. Submission requires AUTH and refuses relaying.
//
// The servers' traces (-trace) are on: they show the sessions and never
// the password, whether sent with LOGIN, USER/PASS or AUTH.
func TestMailserverEndToEndWithPythonClients(t *testing.T) {
	var trace lockedBuffer
	addrs, cert := startServerTrace(t, &trace)
	script := `
import imaplib, poplib, smtplib, ssl, os, sys
def hp(name):
    h, p = os.environ[name].rsplit(":", 1)
    return h, int(p)
ctx = ssl.create_default_context(cafile=os.environ["CERT"])
msg = b"From: a@example.org\r\nTo: demo@localhost\r\nSubject: hello posthorn\r\n\r\nfirst line\r\n.dot line\r\n"

# 1. MX: plain SMTP with STARTTLS, local recipient accepted, others refused.
with smtplib.SMTP(*hp("SMTP")) as s:
    s.starttls(context=ctx)
    s.ehlo()
    code, _ = s.mail("a@example.org")
    assert code == 250, code
    code, resp = s.rcpt("someone@example.com")
    assert code == 550, (code, resp)
    code, _ = s.rcpt("demo@localhost")
    assert code == 250, code
    code, _ = s.data(msg)
    assert code == 250, code
print("smtp ok")

# 2. Submission: AUTH required before MAIL, sender must be owned, no relay.
with smtplib.SMTP(*hp("SUBMISSION")) as s:
    s.ehlo()
    code, _ = s.mail("demo@localhost")
    assert code == 530, code
    s.rset()
    s.starttls(context=ctx)
    s.ehlo()
    s.login("demo", "demo-pw")
    code, _ = s.mail("other@localhost")
    assert code == 550, code
    s.rset()
    code, _ = s.mail("demo@localhost")
    assert code == 250, code
    code, resp = s.rcpt("victim@example.com")
    assert code == 550 and b"5.7.1" in resp, (code, resp)
    code, _ = s.rcpt("demo@localhost")
    assert code == 250, code
    code, _ = s.data(b"Subject: second\r\n\r\nsubmitted\r\n")
    assert code == 250, code
print("submission ok")

# 3. IMAP over implicit TLS sees both messages, dot line intact.
m = imaplib.IMAP4_SSL(*hp("IMAPS"), ssl_context=ctx)
m.login("demo", "demo-pw")
typ, data = m.select("INBOX")
assert typ == "OK" and data[0] == b"2", data
typ, data = m.fetch("1", "(BODY.PEEK[])")
body = data[0][1]
assert b"Subject: hello posthorn" in body and b"\r\n.dot line\r\n" in body, body
assert body.startswith(b"Received: "), body[:80]
m.logout()
print("imap ok")

# 4. POP3 with STLS: download and delete the first message.
p = poplib.POP3(*hp("POP3"))
p.stls(context=ctx)
p.user("demo")
p.pass_("demo-pw")
count, _ = p.stat()
assert count == 2, count
resp, lines, _ = p.retr(1)
assert b".dot line" in lines, lines
p.dele(1)
p.quit()
print("pop3 ok")

# 5. IMAP again: only the submitted message is left.
m = imaplib.IMAP4(*hp("IMAP"))
m.starttls(ssl_context=ctx)
m.login("demo", "demo-pw")
typ, data = m.select("INBOX")
assert data[0] == b"1", data
typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
assert b"second" in data[0][1], data
m.logout()
print("imap after pop3 ok")
`
	out := testpeer.RunPython(t, script,
		"CERT="+cert,
		"SMTP="+addrs["smtp"],
		"SUBMISSION="+addrs["submission"],
		"IMAP="+addrs["imap"],
		"IMAPS="+addrs["imaps"],
		"POP3="+addrs["pop3"],
	)
	want := "smtp ok\nsubmission ok\nimap ok\npop3 ok\nimap after pop3 ok\n"
	if string(out) != want {
		t.Fatalf("python said:\n%s\nwant:\n%s", out, want)
	}
	tr := trace.String()
	for _, secret := range []string{"demo-pw", base64.StdEncoding.EncodeToString([]byte("\x00demo\x00demo-pw")),
		base64.StdEncoding.EncodeToString([]byte("demo-pw"))} {
		if strings.Contains(tr, secret) {
			t.Errorf("trace shows %q:\n%s", secret, tr)
		}
	}
	for _, want := range []string{"FROM:<a@example.org>", "LOGIN [redacted]", "C: PASS [redacted]", "C: AUTH PLAIN"} {
		if !strings.Contains(tr, want) {
			t.Errorf("trace lacks %q:\n%s", want, tr)
		}
	}
}

// lockedBuffer is a trace sink the servers' sessions share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// swaks submits with AUTH PLAIN over implicit TLS (the 465-style port), and
// an open-relay attempt through the MX port is refused.
func TestMailserverSubmissionsWithSwaks(t *testing.T) {
	swaks := testpeer.Need(t, "swaks", "swaks")
	addrs, _ := startServer(t)
	out, err := testpeer.Run(t, swaks, "--server", addrs["submissions"], "--tls-on-connect",
		"--auth", "PLAIN", "--auth-user", "demo", "--auth-password", "demo-pw",
		"--from", "demo@localhost", "--to", "demo@localhost", "--body", "via swaks")
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "250 ") || !strings.Contains(string(out), "Authentication succeeded") && !strings.Contains(string(out), "235 ") {
		t.Fatalf("swaks transcript lacks AUTH success or 250:\n%s", out)
	}
	// An open-relay attempt through the MX port is refused.
	out, err = testpeer.Run(t, swaks, "--server", addrs["smtp"], "--from", "x@example.org", "--to", "victim@example.com")
	if err == nil || !strings.Contains(string(out), "550 5.7.1") {
		t.Fatalf("relay through MX not refused with 550 5.7.1 (err %v):\n%s", err, out)
	}
}

// One store, three protocols: while a POP3 session holds the maildrop a
// second POP3 login gets [IN-USE] (RFC 2449 §8.1.1), and a message expunged
// over IMAP meanwhile answers RETR with -ERR while the rest stay readable.
func TestMailserverPOP3SnapshotAndLockAcrossProtocols(t *testing.T) {
	addrs, cert := startServer(t)
	script := `
import imaplib, poplib, smtplib, ssl, os
def hp(name):
    h, p = os.environ[name].rsplit(":", 1)
    return h, int(p)
ctx = ssl.create_default_context(cafile=os.environ["CERT"])
with smtplib.SMTP(*hp("SMTP")) as s:
    for i in (1, 2):
        s.sendmail("a@example.org", ["demo@localhost"], "Subject: m%d\r\n\r\nbody %d\r\n" % (i, i))
p = poplib.POP3_SSL(*hp("POP3S"), context=ctx)
p.user("demo"); p.pass_("demo-pw")
assert p.stat()[0] == 2
q = poplib.POP3_SSL(*hp("POP3S"), context=ctx)
q.user("demo")
try:
    q.pass_("demo-pw")
    raise SystemExit("second POP3 session was let in")
except poplib.error_proto as e:
    assert b"[IN-USE]" in e.args[0], e
m = imaplib.IMAP4_SSL(*hp("IMAPS"), ssl_context=ctx)
m.login("demo", "demo-pw"); m.select("INBOX")
m.store("1", "+FLAGS", "(\\Deleted)"); m.expunge(); m.logout()
try:
    p.retr(1)
    raise SystemExit("RETR of an expunged message succeeded")
except poplib.error_proto as e:
    assert e.args[0].startswith(b"-ERR"), e
resp, lines, _ = p.retr(2)
assert b"body 2" in lines, lines
p.dele(1)
p.quit()
print("ok")
`
	out := testpeer.RunPython(t, script, "CERT="+cert, "SMTP="+addrs["smtp"], "POP3S="+addrs["pop3s"], "IMAPS="+addrs["imaps"])
	if string(out) != "ok\n" {
		t.Fatalf("python said %q", out)
	}
}
