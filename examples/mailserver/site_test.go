package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/imapclient"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/testpeer"
	"github.com/posthorn/posthorn/internal/tlsutil"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/dkim"
	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/posthorn/posthorn/smtp/smtpqueue"
	"github.com/posthorn/posthorn/smtp/smtptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testSiteConfig is the configuration of the configured-server tests:
// two domains, an alias, a catch-all on the second domain.
const testSiteConfig = `{
  "hostname": "localhost",
  "domains": ["example.org", "example.net"],
  "aliases": {"info@example.org": "alice", "@example.net": "bob", "team@example.org": ["bob", "alice", "ghost"]},
  "postmaster": "alice",
  "checks": {"off": true}
}`

// testSite is a configured server started by startSite.
type testSite struct {
	addrs  map[string]string
	data   string
	cfg    config
	tls    *tls.Config // trusts the server's certificate
	remote *captureTransport
	stop   func() // stops the server (once)
	// certFile is the certificate the banner names.
	certFile string
}

// startConfigured writes conf and the accounts alice and bob (passwords
// "alice-password", "bob-password") and runs the program on free ports.
func startConfigured(t *testing.T, conf string, mod func(*config)) *testSite {
	t.Helper()
	data := t.TempDir()
	path := filepath.Join(data, "mailserver.json")
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(conf), &m))
	m["data_dir"] = data
	b, err := json.Marshal(m)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o600))
	cfg := defaultConfig()
	require.NoError(t, loadConfigFile(path, &cfg))
	for _, p := range []*string{&cfg.SMTP, &cfg.Submission, &cfg.SubmissionTLS, &cfg.IMAP, &cfg.IMAPTLS, &cfg.POP3, &cfg.POP3TLS} {
		*p = "127.0.0.1:0"
	}
	cfg.Web = ""
	cfg.Ops.Metrics = "127.0.0.1:0"
	ts := &testSite{data: data, remote: &captureTransport{got: make(chan captured, 10)}}
	cfg.Site.transport = ts.remote
	accts := accountsFile{}
	for _, u := range []string{"alice", "bob"} {
		a, err := newAccount(u+"-password", nil)
		require.NoError(t, err)
		accts[u] = a
	}
	require.NoError(t, writeAccounts(cfg.Site.accountsPath(data), accts))
	if mod != nil {
		mod(&cfg)
	}
	ts.cfg = cfg

	ctx, cancel := context.WithCancel(context.Background())
	readyc := make(chan map[string]string, 1)
	done := make(chan error, 1)
	var banner bytes.Buffer
	go func() {
		done <- run(ctx, cfg, slog.New(slog.DiscardHandler), &banner, func(ls listeners, _ mailStore) {
			m := map[string]string{}
			for name, l := range ls {
				m[name] = l.Addr().String()
			}
			readyc <- m
		})
	}()
	select {
	case ts.addrs = <-readyc:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("server did not start")
	}
	var once sync.Once
	ts.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		})
	}
	t.Cleanup(ts.stop)
	certFile := ""
	for _, line := range strings.Split(banner.String(), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "cert" {
			certFile = f[1]
		}
	}
	require.NotEmpty(t, certFile, banner.String())
	ts.certFile = certFile
	pem, err := os.ReadFile(certFile)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pem))
	ts.tls = &tls.Config{RootCAs: pool, ServerName: "localhost"}
	return ts
}

type captured struct {
	from string
	to   []string
	msg  string
}

// captureTransport stands for the Internet: it accepts every remote
// recipient and hands the message to the test.
type captureTransport struct{ got chan captured }

func (c *captureTransport) Destination(rcpt string) string {
	_, d, _ := cutLast(rcpt, "@")
	return d
}

func (c *captureTransport) Send(ctx context.Context, env *smtpclient.Envelope, msg smtpclient.Message) []smtpclient.RecipientResult {
	b, _ := io.ReadAll(io.NewSectionReader(msg, 0, msg.Size()))
	c.got <- captured{from: env.From, to: env.To, msg: string(b)}
	res := make([]smtpclient.RecipientResult, len(env.To))
	for i, r := range env.To {
		res[i].Recipient = r
	}
	return res
}

// smtpConv is a raw SMTP conversation for the relay tricks.
type smtpConv struct {
	t  *testing.T
	tp *textproto.Conn
}

func dialSMTP(t *testing.T, addr string) *smtpConv {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	tp := textproto.NewConn(c)
	t.Cleanup(func() { tp.Close() })
	_, _, err = tp.ReadResponse(220)
	require.NoError(t, err)
	s := &smtpConv{t: t, tp: tp}
	s.cmd("EHLO client.example.com")
	return s
}

// cmd sends line and returns the reply code and text.
func (s *smtpConv) cmd(line string) (int, string) {
	s.t.Helper()
	id, err := s.tp.Cmd("%s", line)
	require.NoError(s.t, err)
	s.tp.StartResponse(id)
	defer s.tp.EndResponse(id)
	code, msg, err := s.tp.ReadResponse(0)
	var te *textproto.Error
	if err != nil && !errors.As(err, &te) {
		s.t.Fatalf("%s: %v", line, err)
	}
	return code, msg
}

// readMailbox returns the messages of a mailbox, over IMAP with TLS.
func (ts *testSite) readMailbox(t *testing.T, user, box string) []string {
	t.Helper()
	ctx := context.Background()
	c, err := imapclient.DialTLS(ctx, ts.addrs["imaps"], &imapclient.Options{TLSConfig: ts.tls})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Login(ctx, user, user+"-password"))
	sel, err := c.Select(ctx, box, &imapclient.SelectOptions{ReadOnly: true})
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

// submit logs in on submissions (implicit TLS) and sends one message.
func (ts *testSite) submit(t *testing.T, user, from string, to []string, msg string) error {
	t.Helper()
	ctx := context.Background()
	c, err := smtpclient.DialTLS(ctx, ts.addrs["submissions"], &smtpclient.Options{TLSConfig: ts.tls})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Hello(ctx))
	require.NoError(t, c.Login(ctx, user, user+"-password"))
	if err := c.Mail(ctx, from, nil); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(ctx, r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data(ctx)
	require.NoError(t, err)
	io.WriteString(w, strings.ReplaceAll(msg, "\n", "\r\n"))
	return w.Close()
}

func smtpCode(err error) int {
	var se *smtp.Error
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// The configuration file: defaults, and the mistakes it refuses.
func TestConfigFile(t *testing.T) {
	cfg := defaultConfig()
	require.NoError(t, parseConfig("c.json", []byte(`{"domains": ["Example.ORG."]}`), &cfg))
	assert.Equal(t, []string{"example.org"}, cfg.Site.domains)
	assert.Equal(t, "example.org", cfg.Domain)
	assert.Equal(t, ":25", cfg.SMTP)
	assert.Equal(t, ":587", cfg.Submission)
	assert.Equal(t, ":465", cfg.SubmissionTLS)
	assert.Equal(t, ":993", cfg.IMAPTLS)
	assert.Equal(t, ":995", cfg.POP3TLS)
	assert.Equal(t, "", cfg.Web, "the web inbox is off in a configured server")
	assert.Equal(t, "+", cfg.Site.delimiter)
	assert.Equal(t, senderOwn, cfg.Site.senderCheck)
	assert.True(t, cfg.Site.relay)
	assert.False(t, cfg.ScramPlus)
	assert.Equal(t, "maildata", cfg.Data)
	assert.Equal(t, filepath.Join("maildata", "accounts.json"), cfg.Site.accountsPath(cfg.Data))

	cfg = defaultConfig()
	require.NoError(t, parseConfig("c.json", []byte(`{"domains": ["example.org"], "listen": {"smtp": "", "imap": "127.0.0.1:1143"},
		"recipient_delimiter": "-", "submission": {"relay": false, "sender_check": "domain"}, "scram_plus": true,
		"log": {"format": "json", "level": "debug"}, "data_dir": "/srv/mail"}`), &cfg))
	assert.Equal(t, "", cfg.SMTP)
	assert.Equal(t, "127.0.0.1:1143", cfg.IMAP)
	assert.Equal(t, "-", cfg.Site.delimiter)
	assert.False(t, cfg.Site.relay)
	assert.Equal(t, senderDomain, cfg.Site.senderCheck)
	assert.True(t, cfg.ScramPlus)
	assert.Equal(t, "json", cfg.LogFormat)
	assert.Equal(t, "/srv/mail", cfg.Data)

	for _, bad := range []string{
		`{}`,
		`{"domains": ["example.org"], "unknown": 1}`,
		`{"domains": ["exa mple.org"]}`,
		`{"domains": ["example.org", "example.org"]}`,
		`{"domains": ["example.org"], "aliases": {"info@example.com": "alice"}}`,
		`{"domains": ["example.org"], "aliases": {"info@example.org": "Alice%x"}}`,
		`{"domains": ["example.org"], "aliases": {"info": "alice"}}`,
		`{"domains": ["example.org"], "aliases": {"info@example.org": []}}`,
		`{"domains": ["example.org"], "aliases": {"info@example.org": 5}}`,
		`{"domains": ["example.org"], "aliases": {"info@example.org": ["alice", "B!"]}}`,
		`{"domains": ["example.org"], "submission": {"sender_check": "maybe"}}`,
		`{"domains": ["example.org"], "tls": {"cert": "c.pem"}}`,
		`{"domains": ["example.org"], "log": {"format": "xml"}}`,
		`{"domains": ["example.org"], "log": {"level": "loud"}}`,
		`{"domains": ["example.org"], "listen": {"smtp": "25"}}`,
		`{"domains": ["example.org"], "recipient_delimiter": "@"}`,
		`{"domains": ["example.org"]} {}`,
	} {
		cfg := defaultConfig()
		assert.Error(t, parseConfig("c.json", []byte(bad), &cfg), bad)
	}
	// The example file next to the program is valid.
	cfg = defaultConfig()
	assert.NoError(t, loadConfigFile("mailserver.example.json", &cfg))

	assert.Equal(t, "x.json", configPath([]string{"-config", "x.json", "-trace"}))
	assert.Equal(t, "y.json", configPath([]string{"-trace", "--config=y.json"}))
	assert.Equal(t, "", configPath([]string{"-trace", "--", "-config", "z"}))
}

// The accounts file keeps SCRAM keys, never the password; passwords are
// checked against them, and resolution follows aliases, plus-addressing
// and the catch-all.
func TestAccountsAndDirectory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "accounts.json")
	a, err := newAccount("secret-password", nil)
	require.NoError(t, err)
	require.NoError(t, writeAccounts(path, accountsFile{"alice": a, "bob": a}))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "secret-password")
	assert.Contains(t, string(b), "SCRAM-SHA-256$")
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	cfg := defaultConfig()
	require.NoError(t, parseConfig("c.json", []byte(testSiteConfig), &cfg))
	d, err := newDirectory(cfg.Site, path, nil)
	require.NoError(t, err)
	ctx := context.Background()
	assert.NoError(t, d.VerifyPassword(ctx, "alice", "secret-password"))
	assert.ErrorIs(t, d.VerifyPassword(ctx, "alice", "wrong-password"), sasl.ErrAuthFailed)
	assert.ErrorIs(t, d.VerifyPassword(ctx, "nobody", "secret-password"), sasl.ErrAuthFailed)
	_, err = d.LookupSCRAM(ctx, "alice", sasl.SHA1)
	assert.NoError(t, err)
	_, err = d.LookupSCRAM(ctx, "nobody", sasl.SHA256)
	assert.ErrorIs(t, err, sasl.ErrUnknownUser)

	for _, c := range []struct {
		to   smtp.Mailbox
		want string
		err  error
	}{
		{smtp.Mailbox{Local: "alice", Domain: "example.org"}, "alice", nil},
		{smtp.Mailbox{Local: "Alice", Domain: "EXAMPLE.ORG"}, "alice", nil},
		{smtp.Mailbox{Local: "alice+lists", Domain: "example.org"}, "alice", nil},
		{smtp.Mailbox{Local: "info", Domain: "example.org"}, "alice", nil},
		{smtp.Mailbox{Local: "info+x", Domain: "example.org"}, "alice", nil},
		{smtp.Mailbox{Local: "postmaster", Domain: "example.org"}, "alice", nil},
		{smtp.Mailbox{Local: "Postmaster"}, "alice", nil},
		{smtp.Mailbox{Local: "bob", Domain: "example.org"}, "bob", nil},
		{smtp.Mailbox{Local: "anything", Domain: "example.net"}, "bob", nil}, // catch-all
		{smtp.Mailbox{Local: "alice", Domain: "example.net"}, "alice", nil},  // an account beats the catch-all
		{smtp.Mailbox{Local: "team", Domain: "example.org"}, "list:team@example.org", nil},
		{smtp.Mailbox{Local: "nobody", Domain: "example.org"}, "", errNoSuchUser},
		{smtp.Mailbox{Local: "alice%evil.com", Domain: "example.org"}, "", errNoSuchUser},
		{smtp.Mailbox{Local: "evil.com!alice", Domain: "example.org"}, "", errNoSuchUser},
		{smtp.Mailbox{Local: "alice@evil.com", Domain: "example.org"}, "", errNoSuchUser},
		{smtp.Mailbox{Local: "alice", Domain: "evil.com"}, "", errRelayDenied},
	} {
		got, err := d.resolve(c.to)
		assert.Equal(t, c.want, got, c.to.String())
		assert.ErrorIs(t, err, c.err, c.to.String())
	}
	assert.True(t, d.owns("alice", smtp.Mailbox{Local: "alice", Domain: "example.net"}))
	assert.True(t, d.owns("alice", smtp.Mailbox{Local: "info", Domain: "example.org"}))
	assert.True(t, d.owns("alice", smtp.Mailbox{Local: "alice+x", Domain: "example.org"}))
	assert.False(t, d.owns("alice", smtp.Mailbox{Local: "bob", Domain: "example.org"}))
	assert.False(t, d.owns("bob", smtp.Mailbox{Local: "someone", Domain: "example.net"}), "a catch-all does not make every address yours")
	assert.False(t, d.owns("alice", smtp.Mailbox{Local: "alice", Domain: "example.com"}))
	assert.False(t, d.owns("alice", smtp.Mailbox{Local: "team", Domain: "example.org"}), "a list is nobody's own")
	assert.Equal(t, []string{"alice", "bob"}, d.members("list:team@example.org"), "sorted, ghost left out")

	// A change of the file is seen without a restart.
	c, err := newAccount("carol-password", nil)
	require.NoError(t, err)
	require.NoError(t, writeAccounts(path, accountsFile{"alice": a, "carol": c}))
	d.now = func() time.Time { return time.Now().Add(time.Hour) }
	assert.NoError(t, d.VerifyPassword(ctx, "carol", "carol-password"))
	_, err = d.resolve(smtp.Mailbox{Local: "bob", Domain: "example.org"})
	assert.ErrorIs(t, err, errNoSuchUser, "bob was removed")
}

// The MX of a configured server: only local domains and existing
// addresses, aliases, plus-addressing and the catch-all resolved,
// Return-Path and Delivered-To added; the classic relay tricks are
// refused or stay local.
func TestConfiguredMX(t *testing.T) {
	ts := startConfigured(t, testSiteConfig, nil)
	s := dialSMTP(t, ts.addrs["smtp"])
	code, _ := s.cmd("MAIL FROM:<sender@example.com>")
	require.Equal(t, 250, code)
	for _, c := range []struct {
		rcpt string
		code int
		enh  string
	}{
		{"<nobody@example.org>", 550, "5.1.1"},
		{"<victim@example.com>", 550, "5.7.1"},
		{"<victim%example.com@example.org>", 550, "5.1.1"},
		{"<example.com!victim@example.org>", 550, "5.1.1"},
		{`<"victim@example.com"@example.org>`, 550, "5.1.1"},
		{"<@example.org:victim@example.com>", 550, "5.7.1"},
		{"<victim@example.com@example.org>", 553, "5.1.3"},
		{"<alice+tag@example.org>", 250, ""},
		{"<info@example.org>", 250, ""},
		{"<team@example.org>", 250, ""}, // alice and bob again: one copy each
		{"<bob@example.org>", 250, ""},
		{"<whatever@example.net>", 250, ""}, // bob's catch-all
	} {
		code, msg := s.cmd("RCPT TO:" + c.rcpt)
		assert.Equal(t, c.code, code, "%s: %s", c.rcpt, msg)
		if c.enh != "" {
			assert.True(t, strings.HasPrefix(msg, c.enh), "%s: %s", c.rcpt, msg)
		}
	}
	code, _ = s.cmd("DATA")
	require.Equal(t, 354, code)
	code, msg := s.cmd("From: sender@example.com\r\nSubject: inbound\r\n\r\nhello\r\n.")
	require.Equal(t, 250, code, msg)

	for _, u := range []string{"alice", "bob"} {
		msgs := ts.readMailbox(t, u, "INBOX")
		require.Len(t, msgs, 1, u)
		m := msgs[0]
		assert.True(t, strings.HasPrefix(m, "Return-Path: <sender@example.com>\r\nDelivered-To: "+u+"@example.org\r\nReceived: "), "%s: %.200s", u, m)
		assert.Equal(t, 1, strings.Count(m, "Delivered-To:"), u)
		assert.Contains(t, m, "Subject: inbound")
	}
	// A list alone: a copy for each existing member.
	s = dialSMTP(t, ts.addrs["smtp"])
	s.cmd("MAIL FROM:<sender@example.com>")
	code, msg = s.cmd("RCPT TO:<team+x@example.org>")
	require.Equal(t, 250, code, msg)
	s.cmd("DATA")
	code, msg = s.cmd("Subject: team\r\n\r\nhello\r\n.")
	require.Equal(t, 250, code, msg)
	for _, u := range []string{"alice", "bob"} {
		msgs := ts.readMailbox(t, u, "INBOX")
		require.Len(t, msgs, 2, u)
		assert.True(t, strings.HasPrefix(msgs[1], "Return-Path: <sender@example.com>\r\nDelivered-To: "+u+"@example.org\r\n"), "%s: %.200s", u, msgs[1])
	}

	// Nothing went to the queue.
	select {
	case c := <-ts.remote.got:
		t.Fatalf("the MX relayed to %v", c.to)
	default:
	}
}

// Submission of a configured server: TLS and AUTH first, the sender and
// From: owned, DKIM-signed, local recipients delivered, remote ones
// queued and sent.
func TestConfiguredSubmission(t *testing.T) {
	ts := startConfigured(t, testSiteConfig, nil)

	// No TLS: no AUTH at all, not even SCRAM (its user name would travel
	// in clear), and no mail.
	ctx := context.Background()
	c, err := smtpclient.Dial(ctx, ts.addrs["submission"], nil)
	require.NoError(t, err)
	require.NoError(t, c.Hello(ctx))
	_, offered := c.Extension("AUTH")
	assert.False(t, offered, "AUTH before TLS")
	sc, err := sasl.NewSCRAMClient(sasl.SCRAMOptions{Username: "alice", Password: "alice-password"})
	require.NoError(t, err)
	assert.Error(t, c.Auth(ctx, sc), "SCRAM before TLS")
	assert.Equal(t, 530, smtpCode(c.Mail(ctx, "alice@example.org", nil)))
	c.Close()

	// TLS: no -PLUS offered by default (NeoMutt, config.go).
	c, err = smtpclient.DialTLS(ctx, ts.addrs["submissions"], &smtpclient.Options{TLSConfig: ts.tls})
	require.NoError(t, err)
	require.NoError(t, c.Hello(ctx))
	ext, _ := c.Extension("AUTH")
	assert.Equal(t, "SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN", ext)
	assert.Equal(t, 530, smtpCode(c.Mail(ctx, "alice@example.org", nil)), "AUTH required")
	c.Close()

	msg := "From: Alice <alice@example.org>\nTo: bob@example.org, friend@example.com\nSubject: submitted\n\nhi\n"
	assert.Equal(t, 550, smtpCode(ts.submit(t, "alice", "bob@example.org", []string{"bob@example.org"}, msg)), "someone else's sender")
	assert.Equal(t, 550, smtpCode(ts.submit(t, "alice", "alice@example.org", []string{"bob@example.org"},
		strings.Replace(msg, "alice@example.org", "boss@example.org", 1))), "someone else's From:")
	assert.Equal(t, 550, smtpCode(ts.submit(t, "alice", "alice@example.org", []string{"nobody@example.org"}, msg)), "unknown local user")
	require.NoError(t, ts.submit(t, "alice", "alice+out@example.org", []string{"bob@example.org", "friend@example.com"}, msg))

	select {
	case got := <-ts.remote.got:
		assert.Equal(t, "alice+out@example.org", got.from)
		assert.Equal(t, []string{"friend@example.com"}, got.to)
		assert.True(t, strings.HasPrefix(got.msg, "DKIM-Signature: "), "%.100s", got.msg)
		assert.Contains(t, got.msg, "d=example.org")
		assert.Contains(t, got.msg, "Subject: submitted")
	case <-time.After(20 * time.Second):
		t.Fatal("the queue did not send the remote copy")
	}
	msgs := ts.readMailbox(t, "bob", "INBOX")
	require.Len(t, msgs, 1)
	assert.True(t, strings.HasPrefix(msgs[0], "Return-Path: <alice+out@example.org>\r\nDelivered-To: bob@example.org\r\nDKIM-Signature: "), "%.200s", msgs[0])
}

// With relaying off, submission takes local mail only.
func TestConfiguredSubmissionNoRelay(t *testing.T) {
	ts := startConfigured(t, strings.Replace(testSiteConfig, `"postmaster"`, `"submission": {"relay": false}, "postmaster"`, 1), nil)
	err := ts.submit(t, "alice", "alice@example.org", []string{"friend@example.com"}, "From: alice@example.org\n\nx\n")
	assert.Equal(t, 550, smtpCode(err))
	_, err = os.Stat(filepath.Join(ts.data, "queue"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// IMAP LOGIN, POP3 USER/PASS and SASL PLAIN are checked against the
// stored SCRAM keys; CRAM-MD5 and APOP are not offered.
func TestConfiguredLogins(t *testing.T) {
	ts := startConfigured(t, testSiteConfig, func(c *config) { c.ScramPlus = true })
	ctx := context.Background()
	ic, err := imapclient.DialTLS(ctx, ts.addrs["imaps"], &imapclient.Options{TLSConfig: ts.tls})
	require.NoError(t, err)
	assert.Error(t, ic.Login(ctx, "alice", "bob-password"))
	require.NoError(t, ic.Login(ctx, "alice", "alice-password"))
	ic.Close()

	script := `
import poplib, ssl, os
ctx = ssl.create_default_context(cafile=os.environ["CERT"])
h, p = os.environ["POP3S"].rsplit(":", 1)
m = poplib.POP3_SSL(h, int(p), context=ctx)
caps = m.capa()
assert b"<" not in m.getwelcome(), m.getwelcome()  # no APOP timestamp
sasl = caps.get("SASL", [])
assert "CRAM-MD5" not in sasl, sasl
assert "SCRAM-SHA-256-PLUS" in sasl, sasl
try:
    m.user("bob"); m.pass_("alice-password")
    raise SystemExit("wrong password accepted")
except poplib.error_proto:
    pass
m = poplib.POP3_SSL(h, int(p), context=ctx)
m.user("bob"); m.pass_("bob-password")
print("pop3 ok", m.stat()[0])
m.quit()
m = poplib.POP3_SSL(h, int(p), context=ctx)
m.user("bob@example.net"); m.pass_("bob-password")
print("pop3 address login ok", m.stat()[0])
m.quit()
`
	out := testpeer.RunPython(t, script, "CERT="+ts.certFile, "POP3S="+ts.addrs["pop3s"])
	assert.Equal(t, "pop3 ok 0\npop3 address login ok 0\n", string(out))

	c, err := smtpclient.DialTLS(ctx, ts.addrs["submissions"], &smtpclient.Options{TLSConfig: ts.tls})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Hello(ctx))
	ext, _ := c.Extension("AUTH")
	assert.Equal(t, "SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN", ext, "scram_plus")
	require.NoError(t, c.Auth(ctx, sasl.NewPlainClient("", "alice", "alice-password")))

	// Mail clients offer the address as the user name: NAME@DOMAIN of a
	// local domain logs in as NAME, with SCRAM, PLAIN and IMAP LOGIN; an
	// alias does not.
	c2, err := smtpclient.DialTLS(ctx, ts.addrs["submissions"], &smtpclient.Options{TLSConfig: ts.tls})
	require.NoError(t, err)
	defer c2.Close()
	require.NoError(t, c2.Hello(ctx))
	sc, err := sasl.NewSCRAMClient(sasl.SCRAMOptions{Username: "Alice@Example.ORG", Password: "alice-password"})
	require.NoError(t, err)
	require.NoError(t, c2.Auth(ctx, sc))
	require.NoError(t, c2.Mail(ctx, "alice@example.org", nil), "the sender check knows the account")
	require.NoError(t, c2.Rcpt(ctx, "bob@example.org", nil))
	w, err := c2.Data(ctx)
	require.NoError(t, err)
	io.WriteString(w, "From: alice@example.org\r\nSubject: as address\r\n\r\nx\r\n")
	require.NoError(t, w.Close())
	assert.Len(t, ts.readMailbox(t, "bob", "INBOX"), 1)

	ic, err = imapclient.DialTLS(ctx, ts.addrs["imaps"], &imapclient.Options{TLSConfig: ts.tls})
	require.NoError(t, err)
	defer ic.Close()
	require.NoError(t, ic.Login(ctx, "bob@example.org", "bob-password"))
	sel, err := ic.Select(ctx, "INBOX", nil)
	require.NoError(t, err)
	assert.Equal(t, uint32(1), sel.NumMessages)
	ic2, err := imapclient.DialTLS(ctx, ts.addrs["imaps"], &imapclient.Options{TLSConfig: ts.tls})
	require.NoError(t, err)
	defer ic2.Close()
	assert.Error(t, ic2.Login(ctx, "info@example.org", "alice-password"), "an alias is not a login")
}

// SIGHUP loads a renewed certificate for new connections; open ones go on.
func TestConfiguredCertificateReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "privkey.pem")
	writePair := func() []byte {
		cert, err := tlsutil.NewTestCert("localhost", "127.0.0.1")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(keyFile, cert.KeyPEM, 0o600))
		require.NoError(t, os.WriteFile(certFile, cert.CertPEM, 0o644))
		return cert.CertPEM
	}
	first := writePair()
	conf := strings.Replace(testSiteConfig, `"postmaster"`, `"tls": {"cert": "`+certFile+`", "key": "`+keyFile+`"}, "postmaster"`, 1)
	ts := startConfigured(t, conf, nil)
	ctx := context.Background()

	leaf := func() *x509.Certificate {
		conn, err := tls.Dial("tcp", ts.addrs["imaps"], &tls.Config{InsecureSkipVerify: true})
		require.NoError(t, err)
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0]
	}
	assert.Equal(t, pemDER(t, first), leaf().Raw)

	old, err := imapclient.DialTLS(ctx, ts.addrs["imaps"], &imapclient.Options{TLSConfig: ts.tls})
	require.NoError(t, err)
	defer old.Close()
	require.NoError(t, old.Login(ctx, "alice", "alice-password"))

	second := writePair()
	require.NotEqual(t, first, second)
	assert.Equal(t, pemDER(t, first), leaf().Raw, "no reload without SIGHUP")
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	require.Eventually(t, func() bool { return bytes.Equal(pemDER(t, second), leaf().Raw) }, 10*time.Second, 20*time.Millisecond)

	// The connection opened before the reload still works.
	_, err = old.Select(ctx, "INBOX", nil)
	assert.NoError(t, err)
}

// pemDER returns the DER of the first PEM block.
func pemDER(t *testing.T, b []byte) []byte {
	t.Helper()
	blk, _ := pem.Decode(b)
	require.NotNil(t, blk)
	return blk.Bytes
}

// The user subcommands write SCRAM keys and never the password; the
// queue subcommand works on the stopped server's queue; check-config
// reports what is missing.
func TestSubcommands(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "mailserver.json")
	require.NoError(t, os.WriteFile(conf, []byte(`{"domains": ["example.org"], "data_dir": "`+dir+`",
		"aliases": {"info@example.org": "carol"}}`), 0o600))
	sub := func(stdin string, args ...string) (int, string, string) {
		in := filepath.Join(t.TempDir(), "stdin")
		require.NoError(t, os.WriteFile(in, []byte(stdin), 0o600))
		f, err := os.Open(in)
		require.NoError(t, err)
		defer f.Close()
		var out, errOut bytes.Buffer
		code, ok := subcommand(args[0], args[1:], f, &out, &errOut)
		require.True(t, ok)
		return code, out.String(), errOut.String()
	}
	code, out, errOut := sub("", "check-config", "-config", conf)
	assert.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "warning: no accounts")
	assert.Contains(t, out, "warning: alias info@example.org: no account carol")

	code, _, errOut = sub("short\n", "useradd", "-config", conf, "carol")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "at least 8")
	code, out, errOut = sub("carol-password\n", "useradd", "-config", conf, "-quota-storage", "1000", "carol")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "added carol")
	code, _, errOut = sub("carol-password\n", "useradd", "-config", conf, "carol")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "exists")
	code, _, _ = sub("x\n", "useradd", "-config", conf, "Carol%x")
	assert.NotEqual(t, 0, code)

	b, err := os.ReadFile(filepath.Join(dir, "accounts.json"))
	require.NoError(t, err)
	assert.NotContains(t, string(b), "carol-password")
	a, err := readAccounts(filepath.Join(dir, "accounts.json"))
	require.NoError(t, err)
	require.NotNil(t, a["carol"].Quota)
	assert.Equal(t, int64(1000), a["carol"].Quota.Storage)

	cfg := defaultConfig()
	require.NoError(t, loadConfigFile(conf, &cfg))
	d, err := newDirectory(cfg.Site, filepath.Join(dir, "accounts.json"), nil)
	require.NoError(t, err)
	require.NoError(t, d.VerifyPassword(context.Background(), "carol", "carol-password"))

	code, _, errOut = sub("new-password\n", "passwd", "-config", conf, "carol")
	require.Equal(t, 0, code, errOut)
	require.NoError(t, d.reload())
	assert.Error(t, d.VerifyPassword(context.Background(), "carol", "carol-password"))
	assert.NoError(t, d.VerifyPassword(context.Background(), "carol", "new-password"))
	a, _ = readAccounts(filepath.Join(dir, "accounts.json"))
	assert.Equal(t, int64(1000), a["carol"].Quota.Storage, "passwd keeps the quota")

	code, out, errOut = sub("", "quota", "-config", conf, "-quota-messages", "5", "carol")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "carol: storage 1000 octets, messages 5\n", out)
	code, out, _ = sub("", "quota", "-config", conf, "carol")
	require.Equal(t, 0, code)
	assert.Equal(t, "carol: storage 1000 octets, messages 5\n", out)
	code, _, _ = sub("", "quota", "-config", conf, "nobody")
	assert.Equal(t, 1, code)

	code, out, errOut = sub("", "check-config", "-config", conf)
	assert.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "ok (1 domains, 1 aliases, 1 accounts)")
	assert.NotContains(t, out, "readable by others")
	require.NoError(t, os.Chmod(filepath.Join(dir, "accounts.json"), 0o644))
	_, out, _ = sub("", "check-config", "-config", conf)
	assert.Contains(t, out, "readable by others")

	code, _, errOut = sub("", "userdel", "-config", conf, "carol")
	require.Equal(t, 0, code, errOut)
	code, _, _ = sub("", "userdel", "-config", conf, "carol")
	assert.Equal(t, 1, code)

	code, _, errOut = sub("", "queue", "-config", conf, "list")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no queue")

	code, _, errOut = sub("", "useradd", "carol")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "-config FILE is required")
}

// A message queued for a remote domain that cannot be reached waits in
// the queue; "queue" refuses while the server runs, and lists, holds,
// releases, retries and deletes it once the server is stopped.
func TestQueueSubcommand(t *testing.T) {
	ts := startConfigured(t, testSiteConfig, func(c *config) {
		c.Site.transport = deferTransport{}
	})
	require.NoError(t, ts.submit(t, "alice", "alice@example.org", []string{"friend@example.com"}, "From: alice@example.org\nSubject: waits\n\nx\n"))
	conf := ts.cfg.Site.path
	sub := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code, ok := subcommand(args[0], args[1:], os.Stdin, &out, &errOut)
		require.True(t, ok)
		return code, out.String(), errOut.String()
	}
	// Running: through the admin API.
	code, out, errOut := sub("queue", "-config", conf, "-metrics", ts.addrs["metrics"], "list")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "from alice@example.org")
	require.Contains(t, out, "friend@example.com")
	id := strings.Fields(out)[0]
	code, out, errOut = sub("queue", "-config", conf, "-metrics", ts.addrs["metrics"], "hold", id)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "hold done")
	code, out, _ = sub("queue", "-config", conf, "-metrics", ts.addrs["metrics"], "list")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "held")
	code, _, errOut = sub("queue", "-config", conf, "-metrics", ts.addrs["metrics"], "release", "nosuchid")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "404")
	code, _, _ = sub("queue", "-config", conf, "-metrics", ts.addrs["metrics"], "release", id)
	require.Equal(t, 0, code)
	// A wrong admin address: a clear error.
	code, _, errOut = sub("queue", "-config", conf, "-metrics", "127.0.0.1:1", "list")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "in use by the running server")

	// Stopped: on the directory itself.
	ts.stop()
	code, out, errOut = sub("queue", "-config", conf, "list")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "from alice@example.org")
	require.Contains(t, out, "friend@example.com")
	require.Equal(t, id, strings.Fields(out)[0])
	for _, op := range []string{"hold", "release", "retry"} {
		code, out, errOut = sub("queue", "-config", conf, op, id)
		assert.Equal(t, 0, code, "%s: %s", op, errOut)
		assert.Contains(t, out, op+" done")
	}
	code, _, _ = sub("queue", "-config", conf, "hold", id)
	require.Equal(t, 0, code)
	code, out, _ = sub("queue", "-config", conf, "list")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "held")
	code, _, errOut = sub("queue", "-config", conf, "delete", id)
	require.Equal(t, 0, code, errOut)
	code, out, _ = sub("queue", "-config", conf, "list")
	require.Equal(t, 0, code)
	assert.Equal(t, "queue empty\n", out)
	code, _, _ = sub("queue", "-config", conf, "delete", id)
	assert.Equal(t, 1, code)
	code, _, _ = sub("queue", "-config", conf, "frobnicate", id)
	assert.Equal(t, 2, code)
}

// deferTransport answers every recipient 451: mail stays queued.
type deferTransport struct{}

func (deferTransport) Destination(rcpt string) string { _, d, _ := cutLast(rcpt, "@"); return d }
func (deferTransport) Send(ctx context.Context, env *smtpclient.Envelope, msg smtpclient.Message) []smtpclient.RecipientResult {
	res := make([]smtpclient.RecipientResult, len(env.To))
	for i, r := range env.To {
		res[i] = smtpclient.RecipientResult{Recipient: r, Err: smtp.NewError(451, smtp.EnhancedCode{4, 4, 1}, "try later")}
	}
	return res
}

// A configured MX applies the sender domain's DMARC policy (reject is
// refused, quarantine filed into Junk with Delivered-To), and what
// submission queues for a remote domain carries a DKIM signature that
// verifies against the data directory's key.
func TestConfiguredMessageAuthentication(t *testing.T) {
	z := dnstest.NewServer(t)
	z.TXT("bank.example", "v=spf1 ip4:192.0.2.1 -all")
	z.TXT("_dmarc.bank.example", "v=DMARC1; p=reject")
	z.TXT("news.example", "v=spf1 ip4:192.0.2.1 -all")
	z.TXT("_dmarc.news.example", "v=DMARC1; p=quarantine")
	conf := strings.Replace(testSiteConfig, `"checks": {"off": true}`,
		`"checks": {"check_loopback": true, "resolver": "`+z.Addr.String()+`"}, "dkim": {"selector": "mail"}`, 1)
	ts := startConfigured(t, conf, nil)
	ctx := context.Background()
	send := func(from, msg string) error {
		cl, err := smtpclient.Dial(ctx, ts.addrs["smtp"], &smtpclient.Options{LocalName: "out.example.com"})
		require.NoError(t, err)
		defer cl.Quit(ctx)
		_, err = cl.Send(ctx, &smtpclient.Envelope{From: from, To: []string{"info@example.org"}}, strings.NewReader(msg), int64(len(msg)))
		return err
	}
	assert.Equal(t, 550, smtpCode(send("ceo@bank.example", "From: ceo@bank.example\r\nSubject: wire\r\n\r\nnow\r\n")))
	require.NoError(t, send("x@news.example", "From: x@news.example\r\nSubject: deals\r\n\r\nbuy\r\n"))
	assert.Empty(t, ts.readMailbox(t, "alice", "INBOX"))
	junk := ts.readMailbox(t, "alice", "Junk")
	require.Len(t, junk, 1)
	assert.True(t, strings.HasPrefix(junk[0], "Return-Path: <x@news.example>\r\nDelivered-To: alice@example.org\r\n"), "%.200s", junk[0])
	assert.Contains(t, junk[0], "policy.dmarc=quarantine")

	// dns-records -config prints the key record of every local domain.
	var out, errOut bytes.Buffer
	require.Equal(t, 0, dnsRecordsConfigured([]string{"-config", ts.cfg.Site.path}, &out, &errOut), errOut.String())
	for _, d := range []string{"example.org", "example.net"} {
		i := strings.Index(out.String(), "mail._domainkey."+d+". IN TXT (")
		require.GreaterOrEqual(t, i, 0, out.String())
		line, _, _ := strings.Cut(out.String()[i:], "\n")
		var txt strings.Builder
		for _, part := range strings.Split(line, `"`)[1:] {
			if !strings.HasPrefix(part, " ") && !strings.HasPrefix(part, ")") {
				txt.WriteString(part)
			}
		}
		z.TXT("mail._domainkey."+d, splitTXT(txt.String())...)
	}

	// Each local From: domain signs for itself (DMARC alignment).
	for _, from := range []string{"alice@example.org", "alice@example.net"} {
		require.NoError(t, ts.submit(t, "alice", from, []string{"friend@example.com"},
			"From: "+from+"\nTo: friend@example.com\nSubject: signed\n\nhello\n"))
		var got captured
		select {
		case got = <-ts.remote.got:
		case <-time.After(20 * time.Second):
			t.Fatal("nothing sent")
		}
		res, err := dkim.Verify(ctx, strings.NewReader(got.msg), &dkim.VerifyOptions{Resolver: dnsClientFor(z)})
		require.NoError(t, err)
		require.Len(t, res, 1)
		assert.Equal(t, dkim.Pass, res[0].Status, "%v", res[0].Err)
		_, domain, _ := cutLast(from, "@")
		assert.Equal(t, domain, res[0].Signature.Domain)
	}
}

// An account added or re-quota'd in the accounts file while the server
// runs is served without a restart.
func TestConfiguredAccountsChangeWhileRunning(t *testing.T) {
	ts := startConfigured(t, testSiteConfig, nil)
	path := ts.cfg.Site.accountsPath(ts.data)
	a, err := readAccounts(path)
	require.NoError(t, err)
	c, err := newAccount("carol-password", &quotaConfig{Messages: 1})
	require.NoError(t, err)
	a["carol"] = c
	require.NoError(t, writeAccounts(path, a))

	deliver := func() (int, string) {
		s := dialSMTP(t, ts.addrs["smtp"])
		s.cmd("MAIL FROM:<x@example.com>")
		code, msg := s.cmd("RCPT TO:<carol@example.org>")
		if code != 250 {
			return code, msg
		}
		s.cmd("DATA")
		return s.cmd("Subject: q\r\n\r\nx\r\n.")
	}
	require.Eventually(t, func() bool { code, _ := deliver(); return code == 250 }, 10*time.Second, 100*time.Millisecond)
	code, msg := deliver()
	assert.Equal(t, 452, code, "over the quota of one message: %s", msg)
	ctx := context.Background()
	ic, err := imapclient.DialTLS(ctx, ts.addrs["imaps"], &imapclient.Options{TLSConfig: ts.tls})
	require.NoError(t, err)
	defer ic.Close()
	require.NoError(t, ic.Login(ctx, "carol", "carol-password"))
}

// failTransport refuses every remote recipient for good.
type failTransport struct{}

func (failTransport) Destination(rcpt string) string { _, d, _ := cutLast(rcpt, "@"); return d }
func (failTransport) Send(ctx context.Context, env *smtpclient.Envelope, msg smtpclient.Message) []smtpclient.RecipientResult {
	res := make([]smtpclient.RecipientResult, len(env.To))
	for i, r := range env.To {
		res[i] = smtpclient.RecipientResult{Recipient: r, Err: smtp.NewError(550, smtp.EnhancedCode{5, 1, 1}, "no such user there")}
	}
	return res
}

// A remote recipient refused for good comes back to the local sender as
// a DSN, which the queue delivers into the sender's INBOX itself; the
// message size limit of the configuration holds on submission.
func TestConfiguredBounceAndSizeLimit(t *testing.T) {
	conf := strings.Replace(testSiteConfig, `"postmaster"`, `"limits": {"max_message_size": 4096}, "postmaster"`, 1)
	ts := startConfigured(t, conf, func(c *config) { c.Site.transport = failTransport{} })
	require.NoError(t, ts.submit(t, "alice", "alice@example.org", []string{"gone@example.com"},
		"From: alice@example.org\nTo: gone@example.com\nSubject: lost\n\nhello\n"))
	var inbox []string
	require.Eventually(t, func() bool {
		inbox = ts.readMailbox(t, "alice", "INBOX")
		return len(inbox) == 1
	}, 20*time.Second, 100*time.Millisecond)
	dsn := inbox[0]
	assert.True(t, strings.HasPrefix(dsn, "Return-Path: <>\r\nDelivered-To: alice@example.org\r\n"), "%.200s", dsn)
	assert.Contains(t, dsn, "multipart/report")
	assert.Contains(t, dsn, "gone@example.com")
	assert.Contains(t, dsn, "5.1.1")

	big := "From: alice@example.org\nSubject: big\n\n" + strings.Repeat("0123456789abcdef\n", 400)
	err := ts.submit(t, "alice", "alice@example.org", []string{"bob@example.org"}, big)
	assert.Equal(t, 552, smtpCode(err), "%v", err)
	assert.Empty(t, ts.readMailbox(t, "bob", "INBOX"))

	// The same limit for IMAP APPEND (RFC 7889 APPENDLIMIT).
	ctx := context.Background()
	ic, err := imapclient.DialTLS(ctx, ts.addrs["imaps"], &imapclient.Options{TLSConfig: ts.tls})
	require.NoError(t, err)
	defer ic.Close()
	caps, err := ic.Capability(ctx)
	require.NoError(t, err)
	assert.Contains(t, caps, "APPENDLIMIT=4096")
}

// fakeDNS answers MX and TXT look-ups for the relay test.
type fakeDNS struct{ mx string }

func (f fakeDNS) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return []*net.MX{{Host: f.mx, Pref: 10}}, nil
}

func (f fakeDNS) LookupTXT(ctx context.Context, name string) ([]string, error) {
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// Submitted mail for another domain leaves through the queue's direct
// delivery to that domain's MX (a test server here): with our host name
// in EHLO, over STARTTLS, DKIM-signed, from the envelope sender.
func TestConfiguredRelayThroughMX(t *testing.T) {
	remote := smtptest.NewServer(t)
	host, port, err := net.SplitHostPort(remote.Addr)
	require.NoError(t, err)
	ts := startConfigured(t, strings.Replace(testSiteConfig, `"hostname": "localhost"`, `"hostname": "mail.example.org"`, 1), func(c *config) {
		c.Site.transport = nil
		c.Site.tuneMX = func(mx *smtpqueue.MX) {
			mx.Options.Resolver = fakeDNS{mx: host}
			mx.Options.Port = port
			mx.STS.Resolver = fakeDNS{}
		}
	})
	require.NoError(t, ts.submit(t, "alice", "alice@example.org", []string{"friend@example.com"},
		"From: alice@example.org\nTo: friend@example.com\nSubject: out\n\nhello\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := remote.WaitForMessages(ctx, 1, smtptest.To("friend@example.com"))
	require.NoError(t, err)
	m := msgs[0]
	assert.Equal(t, "mail.example.org", m.Hello)
	assert.True(t, m.TLS, "opportunistic STARTTLS")
	assert.Equal(t, "alice@example.org", m.From)
	assert.Contains(t, string(m.Raw), "DKIM-Signature: ")
	assert.Contains(t, string(m.Raw), "d=example.org")
}

// A configured server on the in-memory store ("store": "memory").
func TestConfiguredMemoryStore(t *testing.T) {
	ts := startConfigured(t, strings.Replace(testSiteConfig, `"postmaster"`, `"store": "memory", "postmaster"`, 1), nil)
	require.NoError(t, ts.submit(t, "alice", "alice@example.org", []string{"bob@example.org", "friend@example.com"}, "From: alice@example.org\n\nx\n"))
	assert.Len(t, ts.readMailbox(t, "bob", "INBOX"), 1)
	select {
	case <-ts.remote.got:
	case <-time.After(20 * time.Second):
		t.Fatal("the queue did not send")
	}
	_, err := os.Stat(filepath.Join(ts.data, "mail"))
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing of the mail on disk")
}

// A submitted message whose local delivery fails after the 250 (the
// mailbox went over its quota with this message) is not lost: it waits
// in the queue, and arrives once there is room.
func TestConfiguredSubmissionLocalFailureIsQueued(t *testing.T) {
	ts := startConfigured(t, testSiteConfig, nil)
	path := ts.cfg.Site.accountsPath(ts.data)
	a, err := readAccounts(path)
	require.NoError(t, err)
	bob := a["bob"]
	bob.Quota = &quotaConfig{Storage: 300}
	a["bob"] = bob
	require.NoError(t, writeAccounts(path, a))
	time.Sleep(1100 * time.Millisecond) // the directory looks at the file once a second

	msg := "From: alice@example.org\nSubject: big for bob\n\n" + strings.Repeat("x", 600) + "\n"
	require.NoError(t, ts.submit(t, "alice", "alice@example.org", []string{"bob@example.org"}, msg))
	assert.Empty(t, ts.readMailbox(t, "bob", "INBOX"))

	sub := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code, ok := subcommand(args[0], args[1:], os.Stdin, &out, &errOut)
		require.True(t, ok)
		return code, out.String(), errOut.String()
	}
	var out string
	require.Eventually(t, func() bool {
		var code int
		code, out, _ = sub("queue", "-config", ts.cfg.Site.path, "-metrics", ts.addrs["metrics"], "list")
		return code == 0 && strings.Contains(out, "bob@example.org")
	}, 10*time.Second, 100*time.Millisecond)
	id := strings.Fields(out)[0]

	bob.Quota = nil
	a["bob"] = bob
	require.NoError(t, writeAccounts(path, a))
	time.Sleep(1100 * time.Millisecond)
	require.Eventually(t, func() bool {
		sub("queue", "-config", ts.cfg.Site.path, "-metrics", ts.addrs["metrics"], "retry", id)
		return len(ts.readMailbox(t, "bob", "INBOX")) == 1
	}, 20*time.Second, 500*time.Millisecond)
	m := ts.readMailbox(t, "bob", "INBOX")[0]
	assert.True(t, strings.HasPrefix(m, "Return-Path: <alice@example.org>\r\nDelivered-To: bob@example.org\r\nDKIM-Signature: "), "%.200s", m)
	assert.Equal(t, 1, strings.Count(m, "DKIM-Signature:"))
}

// recordingCreds records the user names the credentials are asked for.
type recordingCreds struct{ users []string }

func (r *recordingCreds) VerifyPassword(ctx context.Context, username, password string) error {
	r.users = append(r.users, username)
	return sasl.ErrAuthFailed
}

func (r *recordingCreds) LookupSCRAM(ctx context.Context, username string, h sasl.SCRAMHash) (sasl.SCRAMKeys, error) {
	r.users = append(r.users, username)
	return sasl.SCRAMKeys{}, sasl.ErrUnknownUser
}

// Every spelling of an account's address reaches the abuse limits as
// the account, so that case variants do not each get a fresh budget.
func TestLoginNamesReachTheLimitsAsTheAccount(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "accounts.json")
	a, err := newAccount("secret-password", nil)
	require.NoError(t, err)
	require.NoError(t, writeAccounts(path, accountsFile{"alice": a}))
	cfg := defaultConfig()
	require.NoError(t, parseConfig("c.json", []byte(testSiteConfig), &cfg))
	d, err := newDirectory(cfg.Site, path, nil)
	require.NoError(t, err)
	rec := &recordingCreds{}
	l := loginNames{rec, d}
	ctx := context.Background()
	for _, u := range []string{"alice", "alice@example.org", "ALICE@Example.ORG", "aLiCe@example.net"} {
		l.VerifyPassword(ctx, u, "x")
		l.LookupSCRAM(ctx, u, sasl.SHA256)
	}
	l.VerifyPassword(ctx, "info@example.org", "x") // an alias is not a login
	l.VerifyPassword(ctx, "alice@example.com", "x")
	assert.Equal(t, []string{"alice", "alice", "alice", "alice", "alice", "alice", "alice", "alice", "info@example.org", "alice@example.com"}, rec.users)
}
