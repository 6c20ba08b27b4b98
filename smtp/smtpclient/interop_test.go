package smtpclient

import (
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testpeer"
	"github.com/posthorn/posthorn/sasl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRealPeers runs our client against one Dovecot and one Postfix
// (starting them takes most of the time, so they are shared).
func TestRealPeers(t *testing.T) {
	d := testpeer.StartDovecot(t, testpeer.DovecotOptions{})
	t.Run("DovecotLMTP", func(t *testing.T) { testDovecotLMTP(t, d) })
	p := testpeer.StartPostfix(t, testpeer.PostfixOptions{LMTP: d.LMTP, Dovecot: d, SMTPTimeout: 2 * time.Second})
	t.Run("Postfix", func(t *testing.T) { testPostfix(t, p) })
	t.Run("PostfixIdleAndRestart", func(t *testing.T) { testPostfixIdleAndRestart(t, p) })
}

// testPostfixIdleAndRestart: Postfix drops our pooled connection after its
// smtpd_timeout (2 s here), and later restarts; every send still succeeds,
// each on a new connection where the pooled one is gone (issue 15).
func testPostfixIdleAndRestart(t *testing.T, p *testpeer.Postfix) {
	ctx := ctxT(t)
	s := &Submitter{Addr: p.SMTP, Auth: &sasl.ClientOptions{Username: "alice", Password: "alicepw"},
		Options: Options{TLSConfig: p.TLSConfig(), LocalName: "client.test"}, NoopAfter: -1}
	defer s.Close(ctx)
	env := &Envelope{From: "alice@localhost", To: []string{"bob@localhost"}}
	for i := 0; i < 2; i++ {
		_, err := s.Submit(ctx, env, strings.NewReader(plainMsg))
		require.NoError(t, err, "send %d", i)
		time.Sleep(2500 * time.Millisecond)
	}
	p.Restart(t)
	_, err := s.Submit(ctx, env, strings.NewReader(plainMsg))
	require.NoError(t, err, "after the restart")
}

// testDovecotLMTP: our LMTP client against Dovecot's LMTP server, with
// per-recipient results (RFC 2033 §4.2).
func testDovecotLMTP(t *testing.T, d *testpeer.Dovecot) {
	start := time.Now()
	defer func() { t.Log("took", time.Since(start)) }()
	ctx := ctxT(t)
	c, err := Dial(ctx, d.LMTP, &Options{LMTP: true, LocalName: "client.test"})
	require.NoError(t, err)
	require.NoError(t, c.StartTLS(ctx, d.TLSConfig()))
	for i := 0; i < 3; i++ {
		res, err := c.Send(ctx, &Envelope{From: "sender@example.org", To: []string{"alice@localhost", "nobody@localhost", "bob@localhost"}}, strings.NewReader(plainMsg), int64(len(plainMsg)))
		require.ErrorIs(t, err, ErrPartial)
		require.Len(t, res, 3)
		assert.NoError(t, res[0].Err)
		assert.True(t, res[1].Permanent(), "%v", res[1].Err)
		assert.NoError(t, res[2].Err)
	}
	// A binary-free 8-bit message and a large one.
	big := "Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("y", 76)+"\r\n", 40000)
	_, err = c.Send(ctx, &Envelope{From: "sender@example.org", To: []string{"alice@localhost"}}, strings.NewReader(big), int64(len(big)))
	require.NoError(t, err)
	require.NoError(t, c.Quit(ctx))
}

// testPostfix: our client against a real Postfix: STARTTLS required,
// AUTH through Dovecot, implicit TLS on the SMTPS port, relay refused.
func testPostfix(t *testing.T, p *testpeer.Postfix) {
	start := time.Now()
	defer func() { t.Log("took", time.Since(start)) }()
	ctx := ctxT(t)
	auth := &sasl.ClientOptions{Username: "alice", Password: "alicepw"}

	s := &Submitter{Addr: p.SMTP, Auth: auth, Options: Options{TLSConfig: p.TLSConfig(), LocalName: "client.test"}}
	defer s.Close(ctx)
	for i := 0; i < 3; i++ {
		res, err := s.Submit(ctx, &Envelope{From: "alice@localhost", To: []string{"bob@localhost", "alice@localhost"}}, strings.NewReader(plainMsg))
		require.NoError(t, err)
		assert.NoError(t, res[0].Err)
	}
	// Relaying to another domain is refused per recipient.
	res, err := s.Submit(ctx, &Envelope{From: "alice@localhost", To: []string{"x@example.com", "bob@localhost"}}, strings.NewReader(plainMsg))
	var pe *PartialError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, []string{"bob@localhost"}, pe.Accepted)
	assert.Error(t, res[0].Err)
	assert.NoError(t, res[1].Err)

	s2 := &Submitter{Addr: p.SMTPS, TLS: TLSImplicit, Auth: auth, Options: Options{TLSConfig: p.TLSConfig()}}
	_, err = s2.Submit(ctx, &Envelope{From: "alice@localhost", To: []string{"bob@localhost"}}, strings.NewReader(plainMsg))
	require.NoError(t, err)
	require.NoError(t, s2.Close(ctx))
	t.Log("before wrong password", time.Since(start))

	// Wrong password is an *smtp.Error 535.
	s3 := &Submitter{Addr: p.SMTP, Auth: &sasl.ClientOptions{Username: "alice", Password: "nope"}, Options: Options{TLSConfig: p.TLSConfig()}}
	_, err = s3.Submit(ctx, &Envelope{From: "alice@localhost", To: []string{"bob@localhost"}}, strings.NewReader(plainMsg))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "535")
}
