package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imaptest"
	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/pop3/pop3test"
	"github.com/posthorn/posthorn/smtp/smtptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func login(t *testing.T, env *Env, rawURL, pass string, opts LoginOptions) *Report {
	t.Helper()
	lt, err := ParseLoginURL(rawURL)
	require.NoError(t, err)
	lt.Password = pass
	r := CheckLogin(context.Background(), env, lt, opts)
	t.Log("\n" + text(r))
	return r
}

func TestLoginIMAP(t *testing.T) {
	srv := imaptest.NewServer(t)
	srv.AddUser("bob", "secret")
	env := testEnv(srv.ClientTLSConfig().RootCAs)
	r := login(t, env, "imap://bob@"+srv.Addr, "secret", LoginOptions{})
	assert.Empty(t, problemIDs(r))
	assert.True(t, r.Has("login-auth"))
	assert.Contains(t, r.Details.(*LoginResult).Mailboxes, "INBOX")

	r = login(t, env, "imap://bob@"+srv.Addr, "wrong", LoginOptions{})
	assert.Equal(t, []string{"login-auth"}, problemIDs(r))
	assert.Contains(t, text(r), "authentication failed")
	assert.Contains(t, text(r), "fix: Check the user name")
}

func TestLoginIMAPSAllMechs(t *testing.T) {
	srv := imaptest.NewTLSServer(t)
	srv.AddUser("bob", "secret")
	r := login(t, testEnv(srv.ClientTLSConfig().RootCAs), "imaps://bob@"+srv.Addr, "secret", LoginOptions{AllMechs: true})
	assert.Empty(t, problemIDs(r))
	tried := r.Details.(*LoginResult).Tried
	assert.Equal(t, "ok", tried["PLAIN"])
	assert.GreaterOrEqual(t, len(tried), 2)
}

func TestLoginSMTP(t *testing.T) {
	srv := smtptest.NewServer(t)
	srv.AddUser("bob", "secret")
	env := testEnv(srv.ClientTLSConfig().RootCAs)
	r := login(t, env, "smtp://bob@"+srv.Addr, "secret", LoginOptions{})
	assert.Empty(t, problemIDs(r))
	r = login(t, env, "smtp://bob@"+srv.Addr, "nope", LoginOptions{})
	assert.Equal(t, []string{"login-auth"}, problemIDs(r))
	assert.Contains(t, text(r), "535")
}

func TestLoginSMTPNoStartTLS(t *testing.T) {
	srv := smtptest.NewUnstartedServer(t)
	srv.Server.TLSConfig = nil
	srv.Start()
	r := login(t, testEnv(nil), "smtp://bob@"+srv.Addr, "secret", LoginOptions{})
	assert.Equal(t, []string{"login-tls"}, problemIDs(r))
}

// syncBuffer is a trace sink for a server's concurrent sessions.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLoginPOP3(t *testing.T) {
	srv := pop3test.NewUnstartedServer(t)
	trace := &syncBuffer{}
	srv.Server.Trace = trace
	srv.Start()
	srv.AddUser("bob", "secret")
	require.NoError(t, srv.Deliver(context.Background(), "bob", []byte("Subject: hi\r\n\r\nhi\r\n")))
	env := testEnv(srv.ClientTLSConfig().RootCAs)
	r := login(t, env, "pop3://bob@"+srv.Addr, "secret", LoginOptions{})
	assert.Empty(t, problemIDs(r))
	assert.Equal(t, 1, r.Details.(*LoginResult).Messages)
	r = login(t, env, "pop3://bob@"+srv.Addr, "bad", LoginOptions{})
	assert.Equal(t, []string{"login-auth"}, problemIDs(r))

	r = login(t, env, "pop3://bob@"+srv.Addr, "secret", LoginOptions{AllMechs: true})
	assert.Empty(t, problemIDs(r))
	assert.Equal(t, "ok", r.Details.(*LoginResult).Tried["USER"])
	assert.Contains(t, trace.String(), "C: USER bob", "USER/PASS itself, not the strongest SASL mechanism")
}

func TestLoginRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	r := login(t, testEnv(nil), "imaps://bob@"+addr, "x", LoginOptions{})
	assert.Equal(t, []string{"login-refused"}, problemIDs(r))
}

func TestLoginTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	env := testEnv(nil)
	env.Timeout = 200 * time.Millisecond
	r := login(t, env, "imap://bob@"+ln.Addr().String(), "x", LoginOptions{})
	assert.Equal(t, []string{"login-greeting"}, problemIDs(r))
	assert.Contains(t, text(r), "timeout")
}

// With names from a test DNS server: one that does not exist (DNS step) and
// one that points at a server whose certificate is not for it (TLS step).
func TestLoginDNSAndTLS(t *testing.T) {
	srv := imaptest.NewTLSServer(t)
	srv.AddUser("bob", "secret")
	zone := dnstest.NewServer(t)
	zone.A("mail.example.test.", "127.0.0.1")
	cl := &dns.Client{Servers: []netip.AddrPort{zone.Addr}, Timeout: time.Second}
	opts := LoginOptions{Lookup: func(ctx context.Context, h string) ([]netip.Addr, error) { return cl.LookupNetIP(ctx, "ip", h) }}
	_, port, _ := net.SplitHostPort(srv.Addr)
	env := testEnv(srv.ClientTLSConfig().RootCAs)

	r := login(t, env, "imaps://bob@nosuch.example.test:"+port, "secret", opts)
	assert.Equal(t, []string{"login-dns"}, problemIDs(r))
	assert.Contains(t, text(r), "does not exist")

	r = login(t, env, "imaps://bob@mail.example.test:"+port, "secret", opts)
	assert.Equal(t, []string{"login-tls"}, problemIDs(r))
	assert.Contains(t, text(r), "certificate")
}

func TestRunLoginJSON(t *testing.T) {
	srv := imaptest.NewServer(t)
	srv.AddUser("bob", "secret")
	pem := t.TempDir() + "/ca.pem"
	writeCertPEM(t, pem, srv.Certificate())
	var out, errOut bytes.Buffer
	rc := run(context.Background(), []string{"login", "-json", "-ca", pem, "imap://bob@" + srv.Addr}, strings.NewReader("secret\n"), &out, &errOut)
	require.Equal(t, 0, rc, errOut.String())
	var rep Report
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	assert.Equal(t, "login", rep.Command)

	out.Reset()
	rc = run(context.Background(), []string{"login", "-ca", pem, "imap://bob@" + srv.Addr}, strings.NewReader("wrong\n"), &out, &errOut)
	assert.Equal(t, 1, rc)
	assert.True(t, strings.HasPrefix(out.String(), fmt.Sprintf("mailcheck login imap://bob@%s\n1 problem(s):\n  ERROR", srv.Addr)), out.String())
}

func TestRunUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		rc   int
	}{
		{nil, 2}, {[]string{"bogus"}, 2}, {[]string{"help"}, 0},
		{[]string{"server", "-h"}, 0}, {[]string{"server"}, 2}, {[]string{"server", "-port", "nope=1", "h"}, 2},
		{[]string{"login", "-h"}, 0}, {[]string{"login", "ftp://bob@h"}, 2}, {[]string{"login", "imap://h"}, 2},
		{[]string{"domain", "-h"}, 0}, {[]string{"domain", "-ip", "x", "example.org"}, 2},
		{[]string{"roundtrip", "imap://a@h", "smtp://a@h"}, 2},
	} {
		var out, errOut bytes.Buffer
		assert.Equal(t, c.rc, run(context.Background(), c.args, strings.NewReader(""), &out, &errOut), "%v: %s", c.args, errOut.String())
	}
}
