package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testpeer"
	"github.com/posthorn/posthorn/smtp/dkim"
	"github.com/posthorn/posthorn/smtp/smtpqueue"
	"github.com/stretchr/testify/require"
)

// Submitted mail for a remote domain goes through the queue to that
// domain's MX, here a private Postfix whose OpenDKIM milter verifies
// signatures (issue 19): it arrives at Postfix's mailbox (an LMTP sink)
// with OpenDKIM's Authentication-Results saying dkim=pass for our domain.
func TestConfiguredRelayToPostfixWithOpenDKIM(t *testing.T) {
	bin := "/usr/sbin/opendkim"
	if _, err := os.Stat(bin); err != nil {
		bin = testpeer.Need(t, "opendkim", "opendkim")
	}
	dir := t.TempDir()

	// The site's DKIM key, made first so that OpenDKIM knows its record.
	key, err := dkim.GenerateKey(dkim.Ed25519SHA256)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	keyFile := filepath.Join(dir, "dkim.pem")
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	rec, err := dkim.KeyRecordFor(key.Public())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "keys"), []byte("mail._domainkey.example.org "+rec+"\n"), 0o600))

	// OpenDKIM verifying as a milter, reading keys from the file.
	port := testpeer.FreePort(t)
	conf := filepath.Join(dir, "opendkim.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(
		"Mode v\nSocket inet:%d@127.0.0.1\nTestPublicKeys %s\nAuthservID mx.remote.test\nSyslog no\nPidFile %s\n",
		port, filepath.Join(dir, "keys"), filepath.Join(dir, "opendkim.pid"))), 0o600))
	cmd := exec.Command(bin, "-f", "-x", conf)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	milter := fmt.Sprintf("127.0.0.1:%d", port)
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", milter)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second, 50*time.Millisecond, "opendkim did not listen")

	lmtp, got := testpeer.LMTPSink(t)
	pf := testpeer.StartPostfix(t, testpeer.PostfixOptions{LMTP: lmtp, Milter: milter})
	host, pfPort, err := net.SplitHostPort(pf.SMTP)
	require.NoError(t, err)

	conf2 := strings.Replace(testSiteConfig, `"hostname": "localhost"`, `"hostname": "mail.example.org"`, 1)
	conf2 = strings.Replace(conf2, `"postmaster"`, `"dkim": {"key": "`+keyFile+`", "selector": "mail"}, "postmaster"`, 1)
	ts := startConfigured(t, conf2, func(c *config) {
		c.Site.transport = nil
		c.Site.tuneMX = func(mx *smtpqueue.MX) {
			mx.Options.Resolver = fakeDNS{mx: host}
			mx.Options.Port = pfPort
			mx.STS.Resolver = fakeDNS{}
		}
	})
	// Postfix takes mail for localhost (its mydestination).
	require.NoError(t, ts.submit(t, "alice", "alice@example.org", []string{"bob@localhost"},
		"From: Alice <alice@example.org>\nTo: bob@localhost\nSubject: through Postfix and OpenDKIM\n\nHello Bob,\n\n  signed by the queue.\n"))
	var msg string
	select {
	case msg = <-got:
	case <-time.After(60 * time.Second):
		t.Fatal("nothing reached Postfix's mailbox")
	}
	hdr, _, _ := strings.Cut(msg, "\r\n\r\n")
	require.Contains(t, hdr, "DKIM-Signature: ", hdr)
	var ar string
	for _, f := range strings.Split(strings.ReplaceAll(hdr, "\r\n\t", " "), "\r\n") {
		if strings.HasPrefix(f, "Authentication-Results: mx.remote.test") {
			ar = f
		}
	}
	require.NotEmpty(t, ar, "no Authentication-Results from OpenDKIM:\n%s", hdr)
	require.Contains(t, ar, "dkim=pass", ar)
	require.Contains(t, ar, "header.d=example.org", ar)
}
