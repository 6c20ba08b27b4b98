package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/imapclient"
	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runOnce runs the program on free ports with cfg (ports replaced) and
// returns the bound addresses, what it printed, and a stop function that
// returns once run has.
func runOnce(t *testing.T, cfg config) (addrs map[string]string, banner string, stop func()) {
	t.Helper()
	for _, p := range []*string{&cfg.SMTP, &cfg.Submission, &cfg.SubmissionTLS, &cfg.IMAP, &cfg.IMAPTLS, &cfg.POP3, &cfg.POP3TLS} {
		*p = "127.0.0.1:0"
	}
	cfg.Web = ""
	cfg.Ops.Metrics = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	readyc := make(chan map[string]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, cfg, slog.New(slog.DiscardHandler), &out, func(ls listeners, _ mailStore) {
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
		cancel()
		t.Fatalf("run: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("server did not start")
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}
	t.Cleanup(stop)
	return addrs, out.String(), stop
}

// bannerField returns the words after the first banner line starting
// with key ("account", "cert").
func bannerField(banner, key string) []string {
	for _, line := range strings.Split(banner, "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && f[0] == key {
			return f[1:]
		}
	}
	return nil
}

// inboxOverIMAPS logs in over implicit TLS, trusting only certFile, and
// returns INBOX's UIDVALIDITY, its messages by UID and the certificate the
// server presented.
func inboxOverIMAPS(t *testing.T, addr, certFile, user, password string) (validity uint32, msgs map[uint32]string, served []byte) {
	t.Helper()
	pemBytes, err := os.ReadFile(certFile)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pemBytes))
	tlsConfig := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			served = raw[0]
			return nil
		}}
	ctx := context.Background()
	c, err := imapclient.DialTLS(ctx, addr, &imapclient.Options{TLSConfig: tlsConfig})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Login(ctx, user, password))
	sel, err := c.Select(ctx, "INBOX", &imapclient.SelectOptions{ReadOnly: true})
	require.NoError(t, err)
	msgs = map[uint32]string{}
	if sel.NumMessages > 0 {
		// 1:N (imap.NumSetOf(1, N) would be the two messages 1 and N).
		got, err := c.Fetch(ctx, imap.NumSet{Ranges: []imap.Range{{Start: 1, Stop: sel.NumMessages}}}, []imap.FetchAtt{
			{Item: imap.FetchUID},
			{Item: imap.FetchBodySection, Section: &imap.FetchSection{Peek: true}},
		}, nil).Collect()
		require.NoError(t, err)
		for _, m := range got {
			require.Len(t, m.BodySections, 1)
			msgs[m.UID] = string(m.BodySections[0].Bytes)
		}
	}
	return sel.UIDValidity, msgs, served
}

func sendMX(t *testing.T, addr, subject string) {
	t.Helper()
	ctx := context.Background()
	cl, err := smtpclient.Dial(ctx, addr, nil)
	require.NoError(t, err)
	defer cl.Close()
	msg := "From: a@example.org\r\nTo: demo@localhost\r\nSubject: " + subject + "\r\n\r\nbody of " + subject + "\r\n"
	_, err = cl.Send(ctx, &smtpclient.Envelope{From: "a@example.org", To: []string{"demo@localhost"}}, strings.NewReader(msg), int64(len(msg)))
	require.NoError(t, err)
}

// The zero-configuration first run keeps what it made: restarted on the
// same data directory, the server has the demo account with the same
// random password, the mail delivered before with its UID and
// UIDVALIDITY, and the same certificate, which the first run wrote and
// the second serves.
func TestMailserverRestartKeepsAccountMailAndCertificate(t *testing.T) {
	dir := t.TempDir()
	cfg := defaultConfig()
	cfg.Data = dir

	addrs, banner, stop := runOnce(t, cfg)
	acct := bannerField(banner, "account")
	require.GreaterOrEqual(t, len(acct), 4, banner)
	require.Equal(t, []string{"login", "demo", "password"}, acct[:3], banner)
	password := acct[3]
	require.GreaterOrEqual(t, len(password), 12, "random password")
	certFile := bannerField(banner, "cert")[0]
	require.Equal(t, filepath.Join(dir, "cert.pem"), certFile)
	assert.Contains(t, banner, "survive restarts")

	// The password is kept for the demo account only, readable by the
	// owner only.
	fi, err := os.Stat(filepath.Join(dir, "demo-account.json"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	fi, err = os.Stat(filepath.Join(dir, "key.pem"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	var kept demoAccount
	b, err := os.ReadFile(filepath.Join(dir, "demo-account.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &kept))
	assert.Equal(t, demoAccount{User: "demo", Password: password}, kept)

	sendMX(t, addrs["smtp"], "before restart")
	validity, msgs, served := inboxOverIMAPS(t, addrs["imaps"], certFile, "demo", password)
	require.Len(t, msgs, 1)
	var uid uint32
	for u, body := range msgs {
		uid = u
		require.Contains(t, body, "Subject: before restart")
	}
	certPEM, err := os.ReadFile(certFile)
	require.NoError(t, err)
	// The DKIM key is kept too, so the record published stays right;
	// the banner's dns-records line names it.
	dkimFile := filepath.Join(dir, "dkim.pem")
	dkimPEM, err := os.ReadFile(dkimFile)
	require.NoError(t, err)
	assert.Contains(t, banner, "-dkim-key "+dkimFile)

	// A second server on the same data directory is refused before it
	// touches the store.
	second := cfg
	for _, p := range []*string{&second.SMTP, &second.Submission, &second.SubmissionTLS, &second.IMAP, &second.IMAPTLS, &second.POP3, &second.POP3TLS} {
		*p = "127.0.0.1:0"
	}
	second.Web = ""
	second.Ops.Metrics = "127.0.0.1:0"
	cancelled, cancel := context.WithCancel(context.Background())
	cancel() // were it let in, it would return at once
	err = run(cancelled, second, slog.New(slog.DiscardHandler), io.Discard, nil)
	require.ErrorContains(t, err, "in use by another mailserver")
	stop()

	addrs, banner, _ = runOnce(t, cfg)
	acct = bannerField(banner, "account")
	require.GreaterOrEqual(t, len(acct), 4, banner)
	assert.Equal(t, password, acct[3], "the password printed after the restart")
	again, err := os.ReadFile(certFile)
	require.NoError(t, err)
	assert.Equal(t, certPEM, again, "certificate file rewritten")
	again, err = os.ReadFile(dkimFile)
	require.NoError(t, err)
	assert.Equal(t, dkimPEM, again, "DKIM key rewritten")

	validity2, msgs2, served2 := inboxOverIMAPS(t, addrs["imaps"], certFile, "demo", password)
	assert.Equal(t, validity, validity2, "UIDVALIDITY")
	assert.Equal(t, msgs, msgs2, "messages by UID")
	assert.Equal(t, served, served2, "certificate served")

	// New mail continues the UIDs; it does not reuse the first one.
	sendMX(t, addrs["smtp"], "after restart")
	_, msgs3, _ := inboxOverIMAPS(t, addrs["imaps"], certFile, "demo", password)
	require.Len(t, msgs3, 2)
	for u, body := range msgs3 {
		if u != uid {
			assert.Greater(t, u, uid)
			assert.Contains(t, body, "Subject: after restart")
		}
	}
}

// -password fixes the demo account's password, and the one given is what
// the next start without the flag keeps; -store memory writes nothing to
// the data directory and forgets the mail at exit.
func TestMailserverPasswordFlagAndMemoryStore(t *testing.T) {
	dir := t.TempDir()
	cfg := defaultConfig()
	cfg.Data = dir
	cfg.Password = "fixed-pw"
	addrs, banner, stop := runOnce(t, cfg)
	assert.Equal(t, []string{"login", "demo", "password", "fixed-pw"}, bannerField(banner, "account")[:4])
	_, msgs, _ := inboxOverIMAPS(t, addrs["imaps"], filepath.Join(dir, "cert.pem"), "demo", "fixed-pw")
	assert.Empty(t, msgs)
	stop()

	cfg.Password = ""
	_, banner, stop = runOnce(t, cfg)
	assert.Equal(t, []string{"login", "demo", "password", "fixed-pw"}, bannerField(banner, "account")[:4])
	stop()

	mem := t.TempDir()
	cfg.Data, cfg.Store = mem, storeMemory
	addrs, banner, stop = runOnce(t, cfg)
	assert.Contains(t, banner, "in-memory store")
	certFile := bannerField(banner, "cert")[0]
	sendMX(t, addrs["smtp"], "forgotten")
	acct := bannerField(banner, "account")
	_, msgs, _ = inboxOverIMAPS(t, addrs["imaps"], certFile, "demo", acct[3])
	assert.Len(t, msgs, 1)
	stop()
	entries, err := os.ReadDir(mem)
	require.NoError(t, err)
	assert.Empty(t, entries, "-store memory wrote to the data directory")
	_, err = os.Stat(certFile)
	assert.ErrorIs(t, err, os.ErrNotExist, "temporary certificate left behind")

	cfg.Store = "sqlite"
	err = run(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard, nil)
	assert.ErrorContains(t, err, `-store "sqlite"`)
}
