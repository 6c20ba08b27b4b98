package smtpserver

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTransaction(t *testing.T) {
	b := &testBackend{}
	addr := startServer(t, &Server{Backend: b})
	w := dialWire(t, addr)
	r := w.cmd("EHLO client.test", 250)
	for _, ext := range []string{"PIPELINING", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING", "BINARYMIME", "DSN", "SIZE 33554432", "LIMITS RCPTMAX=100 MAILMAX=100"} {
		assert.True(t, hasLine(r, ext), "missing %s in %q", ext, r.Lines)
	}
	assert.False(t, hasLine(r, "STARTTLS"), "no TLS configured")
	assert.False(t, hasLine(r, "REQUIRETLS"), "RFC 8689: only under TLS")
	assert.False(t, hasLine(r, "AUTH"))
	w.cmd("MAIL FROM:<alice@example.org> SIZE=100 BODY=8BITMIME RET=HDRS ENVID=q+2Bx", 250)
	w.cmd("RCPT TO:<bob@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+40example.net", 250)
	w.cmd("RCPT TO:<Postmaster>", 250)
	w.cmd("DATA", 354)
	w.send("Subject: hi\r\n\r\n..leading dot\r\nline\r\n.\r\n")
	r = w.expect(250)
	assert.Equal(t, smtp.EnhancedCode{2, 0, 0}, r.Enhanced)
	w.cmd("QUIT", 221)
	w.expectClosed()

	msgs := b.messages()
	require.Len(t, msgs, 1)
	m := msgs[0]
	assert.Equal(t, "alice@example.org", m.From.String())
	assert.Equal(t, smtp.MailOptions{Size: 100, Body: smtp.Body8BitMIME, Return: smtp.ReturnHeaders, EnvelopeID: "q+x"}, m.Opts)
	assert.Equal(t, "bob@example.net", m.To[0].String())
	assert.Equal(t, smtp.RcptOptions{Notify: smtp.NotifySuccess | smtp.NotifyFailure, OriginalRecipientType: "rfc822", OriginalRecipient: "bob@example.net"}, m.RcptOpts[0])
	assert.True(t, m.To[1].IsPostmaster())
	// RFC 5321 §4.4: Received first; §4.5.2: the stuffing dot removed.
	assert.True(t, strings.HasPrefix(m.Data, "Received: from client.test ([127.0.0.1])\r\n\tby mx.test with ESMTP id "), m.Data)
	assert.True(t, strings.HasSuffix(m.Data, "\r\nSubject: hi\r\n\r\n.leading dot\r\nline\r\n"), m.Data)
}

func TestCommandSequencing(t *testing.T) {
	b := &testBackend{}
	addr := startServer(t, &Server{Backend: b})
	w := dialWire(t, addr)
	// RFC 5321 §4.1.4: sequence errors are 503.
	w.cmd("MAIL FROM:<a@example.org>", 503)
	w.cmd("HELO client.test", 250)
	w.cmd("RCPT TO:<b@example.org>", 503)
	w.cmd("DATA", 503)
	w.cmd("MAIL FROM:<a@example.org>", 250)
	w.cmd("MAIL FROM:<a@example.org>", 503)
	w.cmd("DATA", 554) // no recipients
	w.cmd("RSET", 250)
	w.cmd("RCPT TO:<b@example.org>", 503)
	w.cmd("NOOP", 250)
	w.cmd("VRFY bob", 252)
	w.cmd("EXPN list", 502)
	w.cmd("HELP", 214)
	w.cmd("FOO", 500)
	w.cmd("MAIL FROM:a@example.org", 553) // no brackets
	w.cmd("MAIL FROM:<a@@example.org>", 553)
	w.cmd("MAIL FROM:<a@example.org> FOO=BAR", 555)
	w.cmd("MAIL FROM:<a@example.org> SIZE=1 SIZE=2", 555)
	w.cmd("EHLO", 501)
	w.cmd("QUIT", 221)
	assert.Equal(t, 1, b.mails())
}

func TestSMTPUTF8(t *testing.T) {
	b := &testBackend{}
	addr := startServer(t, &Server{Backend: b})
	w := dialWire(t, addr)
	w.cmd("EHLO client.test", 250)
	// RFC 6531 §3.4: a non-ASCII address needs the SMTPUTF8 parameter.
	w.cmd("MAIL FROM:<jürgen@müller.example>", 553)
	w.cmd("MAIL FROM:<jürgen@müller.example> SMTPUTF8", 250)
	w.cmd("RCPT TO:<用户@例子.广告>", 250)
	w.cmd("DATA", 354)
	w.send("Subject: ünï\r\n\r\nbody\r\n.\r\n")
	w.expect(250)
	msgs := b.messages()
	require.Len(t, msgs, 1)
	assert.True(t, msgs[0].Opts.SMTPUTF8)
	assert.Contains(t, msgs[0].Data, "with UTF8SMTP id")
}

// countingListener counts writes on accepted connections.
type countingListener struct {
	net.Listener
	writes atomic.Int64
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(p)
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, &l.writes}, nil
}

func TestPipeliningFlushesGroupOnce(t *testing.T) {
	b := &testBackend{}
	s := &Server{Backend: b, Hostname: "mx.test"}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := &countingListener{Listener: inner}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	w := dialWire(t, inner.Addr().String())
	w.cmd("EHLO client.test", 250)
	before := ln.writes.Load()
	// RFC 2920 §3.1: MAIL, RCPTs and DATA in one group.
	w.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\nRCPT TO:<d@example.org>\r\nDATA\r\n")
	for _, code := range []int{250, 250, 250, 250, 354} {
		w.expect(code)
	}
	// RFC 2920 §3.2: the replies of a group go out in one write.
	assert.Equal(t, int64(1), ln.writes.Load()-before)
	w.send("x\r\n.\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n")
	for _, code := range []int{250, 250, 250, 354} {
		w.expect(code)
	}
	w.send("y\r\n.\r\nQUIT\r\n")
	w.expect(250)
	w.expect(221)
	assert.Len(t, b.messages(), 2)
}

func TestBDAT(t *testing.T) {
	b := &testBackend{}
	addr := startServer(t, &Server{Backend: b})
	w := dialWire(t, addr)
	w.cmd("EHLO client.test", 250)
	w.cmd("MAIL FROM:<a@example.org> BODY=BINARYMIME", 250)
	w.cmd("RCPT TO:<b@example.org>", 250)
	// RFC 3030 §3: BINARYMIME cannot use DATA.
	w.cmd("DATA", 503)
	// Chunks may hold anything, bare LF and a lone dot included.
	w.send("BDAT 12\r\nSubject: x\n\n")
	w.expect(250)
	w.send("BDAT 6 LAST\r\n.\r\nz\x00\n")
	w.expect(250)
	msgs := b.messages()
	require.Len(t, msgs, 1)
	assert.True(t, strings.HasSuffix(msgs[0].Data, "Subject: x\n\n.\r\nz\x00\n"), "%q", msgs[0].Data)

	// A BDAT without a transaction is refused but consumed, so the
	// pipelined command after it runs (RFC 3030 §2).
	w.send("BDAT 10 LAST\r\nNOOP\r\nNOOPNOOP\r\n")
	w.expect(503)
	w.expect(250)
	// BDAT 0 LAST ends a message; an empty one here.
	w.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nBDAT 5\r\nhelloBDAT 0 LAST\r\n")
	w.expect(250)
	w.expect(250)
	w.expect(250)
	w.expect(250)
	msgs = b.messages()
	require.Len(t, msgs, 2)
	assert.True(t, strings.HasSuffix(msgs[1].Data, "\r\nhello"))
	w.cmd("BDAT x", 501)
	w.expectClosed()
}

func TestBDATBackendRejects(t *testing.T) {
	b := &testBackend{dataErr: smtp.NewError(554, smtp.EnhancedCode{5, 7, 1}, "spam")}
	addr := startServer(t, &Server{Backend: b})
	w := dialWire(t, addr)
	w.cmd("EHLO client.test", 250)
	w.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nBDAT 4\r\nabcdBDAT 4 LAST\r\nefghNOOP\r\n")
	w.expect(250)
	w.expect(250)
	w.expect(250)
	r := w.expect(554)
	assert.Equal(t, "spam", r.Text())
	w.expect(250) // NOOP in step
}

func TestLMTP(t *testing.T) {
	b := &testBackend{lmtpErrs: map[string]error{
		"full@example.org": smtp.NewError(452, smtp.EnhancedCode{4, 2, 2}, "Mailbox full"),
	}, rcptErr: map[string]error{
		"nobody@example.org": smtp.NewError(550, smtp.EnhancedCode{5, 1, 1}, "No such user"),
	}}
	addr := startServer(t, &Server{Backend: b, Mode: ModeLMTP})
	w := dialWire(t, addr)
	// RFC 2033 §4.1: LHLO only.
	w.cmd("EHLO client.test", 500)
	w.cmd("HELO client.test", 500)
	w.cmd("LHLO client.test", 250)
	w.cmd("MAIL FROM:<a@example.org>", 250)
	w.cmd("RCPT TO:<ok@example.org>", 250)
	w.cmd("RCPT TO:<nobody@example.org>", 550)
	w.cmd("RCPT TO:<full@example.org>", 250)
	w.cmd("DATA", 354)
	w.send("Subject: x\r\n\r\nbody\r\n.\r\n")
	// RFC 2033 §4.2: one reply per accepted recipient, in order.
	r := w.expect(250)
	assert.Contains(t, r.Text(), "ok@example.org")
	r = w.expect(452)
	assert.Equal(t, "Mailbox full", r.Text())
	// The same after BDAT.
	w.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<full@example.org>\r\nRCPT TO:<ok@example.org>\r\nBDAT 3 LAST\r\nabc")
	w.expect(250)
	w.expect(250)
	w.expect(250)
	w.expect(452)
	w.expect(250)
	msgs := b.messages()
	require.Len(t, msgs, 2)
	assert.Contains(t, msgs[0].Data, "with LMTP id")
}

func TestSubmissionRequiresAuth(t *testing.T) {
	srvTLS, cliTLS := testTLS(t)
	b := &testBackend{}
	reg := &sasl.Registry{Credentials: testCreds{"alice": "secret"}}
	addr := startServer(t, &Server{Backend: b, Mode: ModeSubmission, TLSConfig: srvTLS, Auth: reg})
	w := dialWire(t, addr)
	r := w.cmd("EHLO client.test", 250)
	assert.True(t, hasLine(r, "STARTTLS"))
	// PLAIN is not offered before TLS.
	assert.False(t, hasLine(r, "AUTH PLAIN"), "%q", r.Lines)
	w.cmd("MAIL FROM:<alice@example.org>", 530)
	// RFC 4954 §6: 538 for a mechanism that needs encryption.
	w.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==", 538)
	w.startTLS(cliTLS)
	w.cmd("MAIL FROM:<alice@example.org>", 503) // state discarded, EHLO again
	r = w.cmd("EHLO client.test", 250)
	assert.True(t, hasLine(r, "AUTH"), "%q", r.Lines)
	assert.True(t, hasLine(r, "REQUIRETLS"))
	assert.False(t, hasLine(r, "STARTTLS"))
	w.cmd("MAIL FROM:<alice@example.org>", 530)
	w.cmd("AUTH PLAIN", 334)
	w.cmd("AGFsaWNlAHNlY3JldA==", 235)
	w.cmd("AUTH PLAIN", 503)
	w.cmd("MAIL FROM:<alice@example.org> AUTH=alice@example.org REQUIRETLS", 250)
	w.cmd("RCPT TO:<bob@example.org>", 250)
	w.cmd("DATA", 354)
	w.send("Subject: x\r\n\r\nhi\r\n.\r\n")
	w.expect(250)
	msgs := b.messages()
	require.Len(t, msgs, 1)
	assert.Equal(t, "alice", msgs[0].Identity)
	assert.True(t, msgs[0].Opts.RequireTLS)
	assert.Equal(t, "alice@example.org", msgs[0].Opts.Auth)
	assert.Contains(t, msgs[0].Data, "with ESMTPSA (TLS1.3)")
}

func TestAuthMechanisms(t *testing.T) {
	b := &testBackend{}
	reg := &sasl.Registry{Credentials: testCreds{"alice": "secret"}, AllowPlaintext: true}
	addr := startServer(t, &Server{Backend: b, Auth: reg, Limits: Limits{AuthFailureDelay: time.Millisecond}})
	w := dialWire(t, addr)
	r := w.cmd("EHLO client.test", 250)
	assert.True(t, hasLine(r, "AUTH "), "%q", r.Lines)
	w.cmd("AUTH FOO", 504)
	w.cmd("AUTH LOGIN", 334)
	w.cmd("YWxpY2U=", 334)
	w.cmd("c2VjcmV0", 235)

	w = dialWire(t, addr)
	w.cmd("EHLO client.test", 250)
	w.cmd("AUTH PLAIN", 334)
	w.cmd("*", 501) // RFC 4954 §4: cancelled
	w.cmd("AUTH PLAIN !!!", 501)
	w.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==", 235)
}

func TestAuthFailuresLimited(t *testing.T) {
	b := &testBackend{}
	reg := &sasl.Registry{Credentials: testCreds{"alice": "secret"}, AllowPlaintext: true}
	addr := startServer(t, &Server{Backend: b, Auth: reg, Limits: Limits{AuthFailureDelay: 10 * time.Millisecond, MaxAuthFailures: 2}})
	w := dialWire(t, addr)
	w.cmd("EHLO client.test", 250)
	start := time.Now()
	w.cmd("AUTH PLAIN AGFsaWNlAHdyb25n", 535)
	w.send("AUTH PLAIN AGFsaWNlAHdyb25n\r\n")
	w.expect(535)
	w.expect(421)
	w.expectClosed()
	assert.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond, "delays 10ms then 20ms")
}

func TestXCLIENT(t *testing.T) {
	b := &testBackend{}
	s := &Server{Backend: b}
	addr := startServer(t, s)
	w := dialWire(t, addr)
	r := w.cmd("EHLO proxy.test", 250)
	assert.False(t, hasLine(r, "XCLIENT"))
	w.cmd("XCLIENT ADDR=192.0.2.7", 550)

	s2 := &Server{Backend: b, XCLIENTTrusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	addr = startServer(t, s2)
	w = dialWire(t, addr)
	r = w.cmd("EHLO proxy.test", 250)
	assert.True(t, hasLine(r, "XCLIENT"))
	w.cmd("XCLIENT ADDR=192.0.2.7 PORT=4000 HELO=real.test", 220)
	w.cmd("EHLO real.test", 250)
	w.cmd("MAIL FROM:<a@example.org>", 250)
	w.cmd("RCPT TO:<b@example.org>", 250)
	w.cmd("DATA", 354)
	w.send("x\r\n.\r\n")
	w.expect(250)
	msgs := b.messages()
	require.Len(t, msgs, 1)
	assert.Contains(t, msgs[0].Data, "from real.test ([192.0.2.7])")
}

func TestBackendPanicEndsOnlyThatSession(t *testing.T) {
	b := &testBackend{panicIn: "mail"}
	addr := startServer(t, &Server{Backend: b})
	w := dialWire(t, addr)
	w.cmd("EHLO client.test", 250)
	w.cmd("MAIL FROM:<a@example.org>", 421)
	w.expectClosed()
	b.mu.Lock()
	b.panicIn = ""
	b.mu.Unlock()
	w = dialWire(t, addr)
	w.cmd("EHLO client.test", 250)
	w.cmd("MAIL FROM:<a@example.org>", 250)
}

func TestShutdownAnswers421(t *testing.T) {
	b := &testBackend{}
	s := &Server{Backend: b, Hostname: "mx.test"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	w := dialWire(t, ln.Addr().String())
	w.cmd("EHLO client.test", 250)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.Shutdown(ctx))
	w.expect(421)
	w.expectClosed()
	assert.ErrorIs(t, <-done, ErrServerClosed)
	assert.Equal(t, 1, b.closed)
}

func TestImplicitTLS(t *testing.T) {
	srvTLS, cliTLS := testTLS(t)
	b := &testBackend{}
	s := &Server{Backend: b, TLSConfig: srvTLS, Hostname: "mx.test"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = s.ServeTLS(ln) }()
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	tc := newTLSWire(t, c, cliTLS)
	r := tc.cmd("EHLO client.test", 250)
	assert.False(t, hasLine(r, "STARTTLS"))
	assert.True(t, hasLine(r, "REQUIRETLS"))
	tc.cmd("MAIL FROM:<a@example.org> REQUIRETLS", 250)
}

func TestConnInfoAndTimeout(t *testing.T) {
	b := &testBackend{}
	addr := startServer(t, &Server{Backend: b, Limits: Limits{CommandTimeout: 200 * time.Millisecond}})
	w := dialWire(t, addr)
	// RFC 5321 §4.5.3.2.7: 421 when the client is silent too long.
	w.expect(421)
	w.expectClosed()
}

func TestNewSessionRefuses(t *testing.T) {
	addr := startServer(t, &Server{Backend: refusingBackend{}})
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	w := &wire{t: t, c: c}
	w.br = newBR(c)
	r := w.expect(554)
	assert.Equal(t, "go away", r.Text())
}

type refusingBackend struct{}

func (refusingBackend) NewSession(ctx context.Context, c *ConnInfo) (Session, error) {
	return nil, smtp.NewError(554, smtp.EnhancedCode{5, 7, 1}, "go away")
}

func TestMessagesPerConnection(t *testing.T) {
	b := &testBackend{}
	addr := startServer(t, &Server{Backend: b, Limits: Limits{MaxMessages: 2}})
	w := dialWire(t, addr)
	w.cmd("EHLO client.test", 250)
	for i := 0; i < 2; i++ {
		w.send(fmt.Sprintf("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nmsg %d\r\n.\r\n", i))
		w.expect(250)
		w.expect(250)
		w.expect(354)
		w.expect(250)
	}
	w.cmd("MAIL FROM:<a@example.org>", 421)
	w.expectClosed()
}
