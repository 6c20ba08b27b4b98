package smtpserver

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/testpeer"
	"github.com/posthorn/posthorn/internal/tlsutil"
	"github.com/posthorn/posthorn/sasl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// peerCreds serves every mechanism the peers speak: passwords (PLAIN,
// LOGIN), secrets (CRAM-MD5), SCRAM keys and OAuth tokens ("token-"+user).
type peerCreds struct{ testCreds }

func (c peerCreds) LookupSCRAM(ctx context.Context, user string, h sasl.SCRAMHash) (sasl.SCRAMKeys, error) {
	p, ok := c.testCreds[user]
	if !ok {
		return sasl.SCRAMKeys{}, sasl.ErrUnknownUser
	}
	return sasl.NewSCRAMKeys(h, p, []byte("0123456789abcdef"), 4096)
}

func (c peerCreds) VerifyToken(ctx context.Context, authzid, token string) (string, error) {
	if _, ok := c.testCreds[authzid]; ok && token == "token-"+authzid {
		return authzid, nil
	}
	return "", sasl.ErrAuthFailed
}

type peerServer struct {
	addr, caFile string
	b            *testBackend
}

func startPeerServer(t *testing.T, mode Mode) *peerServer {
	t.Helper()
	cert, err := tlsutil.NewTestCert()
	require.NoError(t, err)
	caFile, _, err := cert.WriteFiles(t.TempDir())
	require.NoError(t, err)
	b := &testBackend{}
	reg := &sasl.Registry{
		Credentials: peerCreds{testCreds{"alice": "secret"}},
		Mechanisms:  []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "OAUTHBEARER", "XOAUTH2", "CRAM-MD5", "PLAIN", "LOGIN"},
	}
	s := &Server{Backend: b, Mode: mode, TLSConfig: cert.ServerConfig(), Auth: reg, Limits: Limits{MaxMessages: 1000}}
	return &peerServer{addr: startServer(t, s), caFile: caFile, b: b}
}

func (p *peerServer) port() string { return p.addr[strings.LastIndexByte(p.addr, ':')+1:] }

func TestPythonSmtplib(t *testing.T) {
	testpeer.Python(t)
	p := startPeerServer(t, ModeSubmission)
	script := `
import os, smtplib, ssl
ctx = ssl.create_default_context(cafile=os.environ["CA"])
port = int(os.environ["PORT"])
msg = b"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: py\r\n\r\n.dot line\r\nbody\r\n"
for mech in ["PLAIN", "LOGIN", "CRAM-MD5"]:
    s = smtplib.SMTP("127.0.0.1", port)
    s.ehlo("py.test")
    s.starttls(context=ctx)
    s.ehlo("py.test")
    s.esmtp_features["auth"] = mech
    s.login("alice", "secret")
    s.sendmail("alice@example.org", ["bob@example.org"], msg)
    s.quit()
s = smtplib.SMTP("127.0.0.1", port)
s.starttls(context=ctx)
s.login("alice", "secret")
utf = "From: jürgen@example.org\r\nSubject: grüße\r\n\r\nünïcode\r\n".encode()
s.sendmail("jürgen@example.org", ["bob@example.org"], utf, mail_options=["SMTPUTF8"])
big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 6000
s.sendmail("alice@example.org", ["bob@example.org"], big)
code, _ = s.docmd("AUTH", "PLAIN AGFsaWNlAHNlY3JldA==")
print("second AUTH", code)
s.quit()
`
	out := testpeer.RunPython(t, script, "CA="+p.caFile, "PORT="+p.port())
	assert.Contains(t, string(out), "second AUTH 503") // RFC 4954 §4
	msgs := p.b.messages()
	require.Len(t, msgs, 5)
	for _, m := range msgs[:3] {
		assert.Equal(t, "alice", m.Identity)
		assert.Contains(t, m.Data, "\r\n.dot line\r\n")
	}
	assert.True(t, msgs[3].Opts.SMTPUTF8)
	assert.Equal(t, "jürgen", msgs[3].From.Local)
	assert.Greater(t, len(msgs[4].Data), 6000*1000)
}

func TestPythonLMTP(t *testing.T) {
	testpeer.Python(t)
	p := startPeerServer(t, ModeLMTP)
	script := `
import os, smtplib
s = smtplib.LMTP("127.0.0.1", int(os.environ["PORT"]))
s.ehlo("py.test")  # sends LHLO
print(s.sendmail("a@example.org", ["u1@example.org", "u2@example.org"], b"Subject: l\r\n\r\nx\r\n"))
s.quit()
`
	out := testpeer.RunPython(t, script, "PORT="+p.port())
	assert.Equal(t, "{}\n", string(out))
	require.Len(t, p.b.messages(), 1)
}

func TestSwaks(t *testing.T) {
	testpeer.Need(t, "swaks", "swaks")
	p := startPeerServer(t, ModeMX)
	lmtp := startPeerServer(t, ModeLMTP)
	cases := [][]string{
		{"--server", p.addr, "--pipeline"},
		{"--server", p.addr, "-tls", "--tls-ca-path", p.caFile, "-a", "PLAIN", "-au", "alice", "-ap", "secret"},
		{"--server", p.addr, "-tls", "-a", "LOGIN", "-au", "alice", "-ap", "secret", "--pipeline"},
		{"--server", p.addr, "-tls", "-a", "CRAM-MD5", "-au", "alice", "-ap", "secret"},
		{"--server", lmtp.addr, "--protocol", "LMTP", "--pipeline"},
	}
	for _, args := range cases {
		args = append(args, "--from", "alice@example.org", "--to", "bob@example.org", "--helo", "swaks.test")
		out, err := testpeer.Run(t, "swaks", args...)
		require.NoError(t, err, "%v\n%s", args, out)
	}
	msgs := p.b.messages()
	require.Len(t, msgs, 4)
	assert.Equal(t, "alice", msgs[1].Identity)
	assert.Len(t, lmtp.b.messages(), 1)
	// AUTH PLAIN without TLS is refused by our server (not offered).
	out, err := testpeer.Run(t, "swaks", "--server", p.addr, "-a", "PLAIN", "-au", "alice", "-ap", "secret", "--from", "a@example.org", "--to", "b@example.org")
	require.Error(t, err, "%s", out)
}

func TestCurl(t *testing.T) {
	testpeer.Need(t, "curl", "curl")
	p := startPeerServer(t, ModeSubmission)
	file := filepath.Join(t.TempDir(), "msg.eml")
	require.NoError(t, os.WriteFile(file, []byte("From: alice@example.org\r\nSubject: curl\r\n\r\nhello from curl\r\n"), 0o600))
	out, err := testpeer.Run(t, "curl", "-sS", "--ssl-reqd", "--cacert", p.caFile,
		"--url", "smtp://127.0.0.1:"+p.port(), "--user", "alice:secret",
		"--mail-from", "alice@example.org", "--mail-rcpt", "bob@example.org", "-T", file)
	require.NoError(t, err, "%s", out)
	msgs := p.b.messages()
	require.Len(t, msgs, 1)
	assert.Contains(t, msgs[0].Data, "hello from curl")
}

func TestMsmtpMechanisms(t *testing.T) {
	testpeer.Need(t, "msmtp", "msmtp")
	p := startPeerServer(t, ModeSubmission)
	dir := t.TempDir()
	msg := filepath.Join(dir, "msg")
	require.NoError(t, os.WriteFile(msg, []byte("From: alice@example.org\nSubject: msmtp\n\nbody\n"), 0o600))
	mechs := []string{"plain", "login", "cram-md5", "scram-sha-1", "scram-sha-256", "oauthbearer", "xoauth2"}
	for _, mech := range mechs {
		pass := "secret"
		if mech == "oauthbearer" || mech == "xoauth2" {
			pass = "token-alice"
		}
		rc := filepath.Join(dir, "rc-"+mech)
		conf := fmt.Sprintf("account test\nhost 127.0.0.1\nport %s\ntls on\ntls_starttls on\ntls_trust_file %s\nauth %s\nuser alice\npassword %s\nfrom alice@example.org\n", p.port(), p.caFile, mech, pass)
		require.NoError(t, os.WriteFile(rc, []byte(conf), 0o600))
		out, err := runWithStdin(t, msg, "msmtp", "-C", rc, "-a", "test", "bob@example.org")
		require.NoError(t, err, "%s: %s", mech, out)
	}
	msgs := p.b.messages()
	require.Len(t, msgs, len(mechs))
	for _, m := range msgs {
		assert.Equal(t, "alice", m.Identity)
	}
}

func TestPostfixSmtpSource(t *testing.T) {
	testpeer.Need(t, "smtp-source", "postfix")
	p := startPeerServer(t, ModeMX)
	out, err := testpeer.Run(t, "smtp-source", "-s", "4", "-m", "200", "-l", "4096", "-f", "a@example.org", "-t", "b@example.org", p.addr)
	require.NoError(t, err, "%s", out)
	assert.Len(t, p.b.messages(), 200)
	// LMTP variant.
	l := startPeerServer(t, ModeLMTP)
	out, err = testpeer.Run(t, "smtp-source", "-L", "-s", "2", "-m", "20", "-f", "a@example.org", "-t", "b@example.org", l.addr)
	require.NoError(t, err, "%s", out)
	assert.Len(t, l.b.messages(), 20)
}

// TestImplicitTLSPeers: Python's SMTP_SSL and swaks --tls-on-connect
// against ServeTLS (RFC 8314).
func TestImplicitTLSPeers(t *testing.T) {
	testpeer.Python(t)
	cert, err := tlsutil.NewTestCert()
	require.NoError(t, err)
	caFile, _, err := cert.WriteFiles(t.TempDir())
	require.NoError(t, err)
	b := &testBackend{}
	s := &Server{Backend: b, TLSConfig: cert.ServerConfig(), Hostname: "mx.test"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = s.ServeTLS(ln) }()
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	script := `
import os, smtplib, ssl
ctx = ssl.create_default_context(cafile=os.environ["CA"])
s = smtplib.SMTP_SSL("127.0.0.1", int(os.environ["PORT"]), context=ctx)
s.sendmail("a@example.org", ["b@example.org"], b"Subject: tls\r\n\r\nimplicit\r\n")
s.quit()
`
	testpeer.RunPython(t, script, "CA="+caFile, "PORT="+port)
	if _, err := exec.LookPath("swaks"); err == nil {
		out, err := testpeer.Run(t, "swaks", "--server", ln.Addr().String(), "--tls-on-connect", "--from", "a@example.org", "--to", "b@example.org")
		require.NoError(t, err, "%s", out)
	}
	msgs := b.messages()
	require.NotEmpty(t, msgs)
	assert.Contains(t, msgs[0].Data, "with ESMTPS (TLS1.3)")
}
