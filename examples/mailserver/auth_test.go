package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/imapclient"
	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/dkim"
	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startAuthServer runs the program with cfg changed by mod and returns
// the bound addresses.
func startAuthServer(t *testing.T, mod func(*config)) map[string]string {
	t.Helper()
	cfg := defaultConfig()
	cfg.Password = "demo-pw"
	cfg.Data = t.TempDir()
	for _, p := range []*string{&cfg.SMTP, &cfg.Submission, &cfg.SubmissionTLS, &cfg.IMAP, &cfg.IMAPTLS, &cfg.POP3, &cfg.POP3TLS} {
		*p = "127.0.0.1:0"
	}
	cfg.Web = ""
	cfg.Ops.Metrics = "127.0.0.1:0"
	mod(&cfg)
	ctx, cancel := context.WithCancel(context.Background())
	readyc := make(chan map[string]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard, func(ls listeners, _ mailStore) {
			m := map[string]string{}
			for name, l := range ls {
				m[name] = l.Addr().String()
			}
			readyc <- m
		})
	}()
	var addrs map[string]string
	select {
	case addrs = <-readyc:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("server did not start")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return addrs
}

// mailbox returns the messages in a mailbox of the demo account, read
// over IMAP.
func mailbox(t *testing.T, addr, name string) []string {
	t.Helper()
	ctx := context.Background()
	c, err := imapclient.Dial(ctx, addr, nil)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Login(ctx, "demo", "demo-pw"))
	sel, err := c.Select(ctx, name, &imapclient.SelectOptions{ReadOnly: true})
	require.NoError(t, err)
	if sel.NumMessages == 0 {
		return nil
	}
	var out []string
	fc := c.Fetch(ctx, imap.NumSet{Ranges: []imap.Range{{Start: 1, Stop: sel.NumMessages}}}, []imap.FetchAtt{
		{Item: imap.FetchBodySection, Section: &imap.FetchSection{Peek: true}},
	}, nil)
	for m := fc.Next(); m != nil; m = fc.Next() {
		for it := m.Next(); it != nil; it = m.Next() {
			if it, ok := it.(imapclient.FetchItemBodySection); ok {
				b, _ := io.ReadAll(it.Literal)
				out = append(out, string(b))
			}
		}
	}
	require.NoError(t, fc.Close())
	return out
}

func splitTXT(s string) []string {
	var out []string
	for len(s) > 255 {
		out = append(out, s[:255])
		s = s[255:]
	}
	return append(out, s)
}

// The MX checks SPF, DKIM and DMARC against DNS (a private server here):
// a signed message from an aligned domain is delivered with dkim=pass and
// dmarc=pass recorded, a spoofed sender with p=reject is refused, a
// failing one with p=quarantine lands in Junk. Submission signs, and the
// signature verifies against the key record dns-records prints.
// Both stores: the Maildir store files quarantined mail into Junk itself,
// the memory store through junkFiling.
func TestMailserverAuth(t *testing.T) {
	for _, store := range []string{storeMaildir, storeMemory} {
		t.Run(store, func(t *testing.T) { testMailserverAuth(t, store) })
	}
}

func testMailserverAuth(t *testing.T, store string) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{5}, 32))
	rec, err := dkim.KeyRecordFor(key.Public())
	require.NoError(t, err)
	z := dnstest.NewServer(t)
	z.TXT("shop.example", "v=spf1 ip4:127.0.0.1 -all")
	z.TXT("s1._domainkey.shop.example", splitTXT(rec)...)
	z.TXT("_dmarc.shop.example", "v=DMARC1; p=reject")
	z.TXT("bank.example", "v=spf1 ip4:192.0.2.1 -all")
	z.TXT("_dmarc.bank.example", "v=DMARC1; p=reject")
	z.TXT("news.example", "v=spf1 ip4:192.0.2.1 -all")
	z.TXT("_dmarc.news.example", "v=DMARC1; p=quarantine")

	keyFile := filepath.Join(t.TempDir(), "dkim.pem")
	addrs := startAuthServer(t, func(c *config) {
		c.Domain, c.Hostname = "example.org", "mx.example.org"
		c.Auth.Resolver = z.Addr.String()
		c.Auth.CheckLoopback = true
		c.Auth.DKIMKey = keyFile
		c.Auth.Selector = "mail"
		c.Store = store
	})
	ctx := context.Background()
	send := func(from string, msg string) error {
		cl, err := smtpclient.Dial(ctx, addrs["smtp"], &smtpclient.Options{LocalName: "out.shop.example"})
		require.NoError(t, err)
		defer cl.Quit(ctx)
		_, err = cl.Send(ctx, &smtpclient.Envelope{From: from, To: []string{"demo@example.org"}}, strings.NewReader(msg), int64(len(msg)))
		return err
	}

	// 1. Signed by shop.example, sent from its SPF-authorised address.
	var signed bytes.Buffer
	require.NoError(t, dkim.Sign(&signed, strings.NewReader("From: orders@shop.example\r\nTo: demo@example.org\r\nSubject: receipt\r\n\r\nthanks\r\n"),
		&dkim.SignOptions{Domain: "shop.example", Selector: "s1", Key: key}))
	forged := "Authentication-Results: mx.example.org; dmarc=pass header.from=bank.example\r\n"
	require.NoError(t, send("bounces@shop.example", forged+signed.String()))
	inbox := mailbox(t, addrs["imap"], "INBOX")
	require.Len(t, inbox, 1)
	assert.True(t, strings.HasPrefix(inbox[0], "Authentication-Results: mx.example.org;\r\n\tspf=pass smtp.mailfrom=bounces@shop.example;\r\n\tspf=none smtp.helo=out.shop.example;\r\n\tdkim=pass header.d=shop.example"), inbox[0])
	assert.Contains(t, inbox[0], "dmarc=pass header.from=shop.example policy.dmarc=reject\r\nReceived-SPF: pass")
	assert.NotContains(t, inbox[0], "bank.example")

	// 2. A spoofed bank.example sender: SPF fails, nothing signs, p=reject.
	err = send("ceo@bank.example", "From: ceo@bank.example\r\nSubject: wire money\r\n\r\nnow\r\n")
	var se *smtp.Error
	require.True(t, errors.As(err, &se), "%v", err)
	assert.Equal(t, 550, se.Code)
	assert.Equal(t, smtp.EnhancedCode{5, 7, 1}, se.Enhanced)

	// 3. p=quarantine: delivered into Junk, not the INBOX.
	require.NoError(t, send("x@news.example", "From: x@news.example\r\nSubject: deals\r\n\r\nbuy\r\n"))
	assert.Len(t, mailbox(t, addrs["imap"], "INBOX"), 1)
	junk := mailbox(t, addrs["imap"], "Junk")
	require.Len(t, junk, 1)
	assert.Contains(t, junk[0], "dmarc=fail header.from=news.example policy.dmarc=quarantine")

	// 4. Submission signs as example.org with the key in keyFile; the
	// record dns-records prints for it verifies the signature.
	var out, errOut bytes.Buffer
	require.Equal(t, 0, dnsRecordsMain([]string{"-domain", "example.org", "-hostname", "mx.example.org", "-dkim-key", keyFile, "-dkim-selector", "mail"}, &out, &errOut), errOut.String())
	records := out.String()
	assert.Contains(t, records, "example.org.\tIN MX 10 mx.example.org.\n")
	assert.Contains(t, records, `example.org.	IN TXT "v=spf1 mx -all"`)
	assert.Contains(t, records, `_dmarc.example.org.	IN TXT "v=DMARC1; p=reject; rua=mailto:postmaster@example.org"`)
	i := strings.Index(records, "mail._domainkey.example.org. IN TXT (")
	require.GreaterOrEqual(t, i, 0, records)
	dkimLine, _, _ := strings.Cut(records[i:], "\n")
	var txt strings.Builder
	for _, part := range strings.Split(dkimLine, `"`)[1:] {
		if !strings.HasPrefix(part, " ") && !strings.HasPrefix(part, ")") {
			txt.WriteString(part)
		}
	}
	require.True(t, strings.HasPrefix(txt.String(), "v=DKIM1; k=rsa; p="), txt.String())
	z.TXT("mail._domainkey.example.org", splitTXT(txt.String())...)

	opts := smtpclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // the demo's self-signed certificate
	_, err = smtpclient.Submit(ctx, addrs["submission"], &sasl.ClientOptions{Username: "demo", Password: "demo-pw"},
		"demo@example.org", []string{"demo@example.org"},
		strings.NewReader("From: demo@example.org\r\nTo: demo@example.org\r\nSubject: signed\r\n\r\nhello\r\n"),
		&smtpclient.SubmitOptions{TLS: smtpclient.TLSRequired, Options: opts})
	require.NoError(t, err)
	inbox = mailbox(t, addrs["imap"], "INBOX")
	require.Len(t, inbox, 2)
	sub := inbox[1]
	require.True(t, strings.HasPrefix(sub, "DKIM-Signature: "), sub)
	res, err := dkim.Verify(ctx, strings.NewReader(sub), &dkim.VerifyOptions{Resolver: dnsClientFor(z)})
	require.NoError(t, err)
	require.Len(t, res, 1)
	assert.Equal(t, dkim.Pass, res[0].Status, "%v", res[0].Err)
	assert.Equal(t, "example.org", res[0].Signature.Domain)

	// The key file is kept: a second dns-records run prints the same.
	var again bytes.Buffer
	require.Equal(t, 0, dnsRecordsMain([]string{"-domain", "example.org", "-hostname", "mx.example.org", "-dkim-key", keyFile, "-dkim-selector", "mail"}, &again, io.Discard))
	assert.Equal(t, records, again.String())
	st, err := os.Stat(keyFile)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}

func dnsClientFor(z *dnstest.Server) *dns.Client {
	return &dns.Client{Servers: []netip.AddrPort{z.Addr}, Timeout: time.Second, Attempts: 1}
}
