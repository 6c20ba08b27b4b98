package dkim_test

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
	"github.com/posthorn/posthorn/smtp/dkim"
	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/stretchr/testify/require"
)

// startOpenDKIMMilter runs OpenDKIM as a milter on a private port, signing
// mail from example.com with key, and returns its address.
func startOpenDKIMMilter(t *testing.T, bin, dir string, k interopKey) string {
	t.Helper()
	port := testpeer.FreePort(t)
	conf := filepath.Join(dir, "milter.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(
		"Mode s\nSocket inet:%d@127.0.0.1\nDomain example.com\nSelector %s\nKeyFile %s\n"+
			"SignatureAlgorithm %s\nCanonicalization relaxed/simple\nRequireSafeKeys false\n"+
			"Syslog no\nPidFile %s\nInternalHosts 127.0.0.1\n",
		port, k.selector, k.file, k.alg, filepath.Join(dir, "opendkim.pid"))), 0o600))
	cmd := exec.Command(bin, "-f", "-x", conf)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		require.True(t, time.Now().Before(deadline), "opendkim milter did not listen: %v", err)
		time.Sleep(50 * time.Millisecond)
	}
}

// A message we sign, sent with our client through a private Postfix whose
// OpenDKIM milter signs it too, arrives with both signatures verifying
// (Postfix adds its Received field on top, which neither signed).
func TestPostfixWithOpenDKIMMilter(t *testing.T) {
	bin := opendkim(t)
	dir, keys, zone := interopSetup(t)
	rsaKey, edKey := keys[0], keys[1]
	milter := startOpenDKIMMilter(t, bin, dir, rsaKey)
	lmtp, msgs := testpeer.LMTPSink(t)
	pf := testpeer.StartPostfix(t, testpeer.PostfixOptions{LMTP: lmtp, Milter: milter})

	msg := "From: Joe <joe@example.com>\r\nTo: bob@localhost\r\nSubject: through postfix\r\n" +
		"Date: Mon, 07 Dec 2026 20:00:00 +0000\r\nMessage-ID: <pf-1@example.com>\r\n\r\n" +
		"Hello Bob,\r\n\r\n  this went through Postfix and OpenDKIM.\r\n"
	signed, err := dkim.SignStored(strings.NewReader(msg), int64(len(msg)), &dkim.SignOptions{
		Domain: "example.com", Selector: edKey.selector, Key: edKey.key})
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := smtpclient.Dial(ctx, pf.SMTP, &smtpclient.Options{LocalName: "client.example.com"})
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Send(ctx, &smtpclient.Envelope{From: "joe@example.com", To: []string{"bob@localhost"}}, signed, signed.Size())
	require.NoError(t, err)
	c.Quit(ctx)

	var got string
	select {
	case got = <-msgs:
	case <-ctx.Done():
		log, _ := os.ReadFile(pf.LogFile)
		t.Fatalf("no delivery; postfix log:\n%s", log)
	}
	res, err := dkim.Verify(ctx, strings.NewReader(got), &dkim.VerifyOptions{Resolver: zone})
	require.NoError(t, err)
	require.Len(t, res, 2, got)
	byAlg := map[dkim.Algorithm]dkim.Result{}
	for _, r := range res {
		byAlg[r.Signature.Algorithm] = r
	}
	require.Equal(t, dkim.Pass, byAlg[dkim.RSASHA256].Status, "OpenDKIM's signature: %v\n%s", byAlg[dkim.RSASHA256].Err, got)
	require.Equal(t, dkim.Pass, byAlg[dkim.Ed25519SHA256].Status, "our signature: %v\n%s", byAlg[dkim.Ed25519SHA256].Err, got)
	require.True(t, strings.HasPrefix(got, "Received:") || strings.Contains(got, "\r\nReceived:"), got)
}
