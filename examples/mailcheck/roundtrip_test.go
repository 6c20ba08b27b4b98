package main

import (
	"context"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imaptest"
	"github.com/posthorn/posthorn/smtp/smtptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func roundtripTargets(t *testing.T, smtpAddr, imapAddr string) (*LoginTarget, *LoginTarget) {
	t.Helper()
	st, err := ParseLoginURL("smtp://bob@" + smtpAddr)
	require.NoError(t, err)
	it, err := ParseLoginURL("imap://bob@" + imapAddr)
	require.NoError(t, err)
	st.Password, it.Password = "pw", "pw"
	return st, it
}

// Our SMTP server delivers into our IMAP server's store: the message comes
// back, with the delay reported.
func TestRoundtrip(t *testing.T) {
	im := imaptest.NewServer(t)
	im.AddUser("bob", "pw")
	sm := smtptest.NewUnstartedServer(t)
	sm.Store = im.Store
	sm.AddUser("bob", "pw")
	sm.Start()
	st, it := roundtripTargets(t, sm.Addr, im.Addr)
	r := CheckRoundtrip(context.Background(), testEnv(im.ClientTLSConfig().RootCAs), st, it,
		RoundtripOptions{From: "bob@example.test", To: "bob@example.test", Wait: 5 * time.Second, Poll: 50 * time.Millisecond})
	t.Log("\n" + text(r))
	assert.Empty(t, problemIDs(r))
	assert.True(t, r.Has("roundtrip-delivered"))
	assert.Positive(t, r.Details.(*RoundtripResult).Delay)
}

// A message that never arrives is reported as such, after the wait.
func TestRoundtripLost(t *testing.T) {
	im := imaptest.NewServer(t)
	im.AddUser("bob", "pw")
	sm := smtptest.NewServer(t) // keeps the mail to itself
	sm.AddUser("bob", "pw")
	st, it := roundtripTargets(t, sm.Addr, im.Addr)
	r := CheckRoundtrip(context.Background(), testEnv(im.ClientTLSConfig().RootCAs), st, it,
		RoundtripOptions{From: "bob@example.test", To: "bob@example.test", Wait: 300 * time.Millisecond, Poll: 50 * time.Millisecond})
	t.Log("\n" + text(r))
	assert.Equal(t, []string{"roundtrip-not-delivered"}, problemIDs(r))
	assert.Len(t, sm.Messages(), 1)
}

func TestRoundtripBadPassword(t *testing.T) {
	im := imaptest.NewServer(t)
	sm := smtptest.NewServer(t)
	sm.AddUser("bob", "other")
	st, it := roundtripTargets(t, sm.Addr, im.Addr)
	r := CheckRoundtrip(context.Background(), testEnv(im.ClientTLSConfig().RootCAs), st, it, RoundtripOptions{From: "bob@example.test", To: "bob@example.test"})
	t.Log("\n" + text(r))
	assert.Equal(t, []string{"roundtrip-send"}, problemIDs(r))
	assert.Contains(t, text(r), "authentication")
}

func TestAuthResultsFields(t *testing.T) {
	hdr := []byte("Authentication-Results: mx.example.org;\r\n spf=pass smtp.mailfrom=a@example.org;\r\n\tdkim=fail header.d=example.org\r\nAuthentication-Results: other; dmarc=pass\r\n\r\n")
	fs := unfoldFields(hdr)
	require.Len(t, fs, 2)
	assert.Equal(t, "Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=a@example.org; dkim=fail header.d=example.org", fs[0])
	assert.True(t, authResultsFailed(fs[0]))
	assert.False(t, authResultsFailed(fs[1]))
	assert.True(t, authResultsFailed("x; SPF=SoftFail"))
}
