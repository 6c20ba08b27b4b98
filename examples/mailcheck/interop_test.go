package main

import (
	"context"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testpeer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Real servers: a private Dovecot (IMAP, POP3) and Postfix (SMTP with AUTH
// through Dovecot, delivering to it by LMTP).
func TestInteropDovecotPostfix(t *testing.T) {
	dc := testpeer.StartDovecot(t, testpeer.DovecotOptions{})
	pf := testpeer.StartPostfix(t, testpeer.PostfixOptions{LMTP: dc.LMTP, Dovecot: dc})
	env := testEnv(dc.Roots)
	env.Timeout = 20 * time.Second
	pfEnv := testEnv(pf.Roots)
	pfEnv.Timeout = 20 * time.Second

	t.Run("server", func(t *testing.T) {
		r := CheckServer(context.Background(), env, "127.0.0.1", ServerOptions{Services: []Service{
			svcAt(t, "imap", dc.IMAP), svcAt(t, "imaps", dc.IMAPS), svcAt(t, "pop3", dc.POP3), svcAt(t, "pop3s", dc.POP3S),
		}, Versions: true})
		t.Log("\n" + text(r))
		for _, pr := range r.Details.([]*PortResult) {
			assert.True(t, pr.Open, pr.Service.Name)
			assert.NotNil(t, pr.TLS, pr.Service.Name)
			assert.NotEmpty(t, pr.AuthAfter, pr.Service.Name)
		}
		// Whatever the instance allows before TLS is reported, never
		// missed: Dovecot's test set-up allows plaintext on loopback.
		for _, pr := range r.Details.([]*PortResult) {
			if len(pr.AuthBefore) > 0 && !pr.Service.Implicit {
				assert.True(t, r.Has("plaintext-auth-before-tls"))
			}
		}

		r = CheckServer(context.Background(), pfEnv, "127.0.0.1", ServerOptions{Services: []Service{
			svcAt(t, "smtp", pf.SMTP), svcAt(t, "submissions", pf.SMTPS),
		}, RelayTest: true, Versions: true})
		t.Log("\n" + text(r))
		assert.True(t, r.Has("not-open-relay"), "Postfix refuses other domains")
		assert.False(t, r.Has("open-relay"))
		assert.False(t, r.Has("no-starttls"))
	})

	t.Run("login", func(t *testing.T) {
		for _, u := range []string{"imap://alice@" + dc.IMAP, "imaps://alice@" + dc.IMAPS, "pop3://alice@" + dc.POP3} {
			r := login(t, env, u, "alicepw", LoginOptions{AllMechs: true})
			assert.Empty(t, problemIDs(r), u)
			assert.True(t, r.Has("login-auth"), u)
		}
		r := login(t, env, "imap://alice@"+dc.IMAP, "wrong", LoginOptions{})
		assert.Equal(t, []string{"login-auth"}, problemIDs(r))
		r = login(t, pfEnv, "submissions://alice@"+pf.SMTPS, "alicepw", LoginOptions{})
		assert.Empty(t, problemIDs(r))
		r = login(t, pfEnv, "smtp://alice@"+pf.SMTP, "wrong", LoginOptions{})
		assert.Equal(t, []string{"login-auth"}, problemIDs(r))
	})

	t.Run("roundtrip", func(t *testing.T) {
		st, err := ParseLoginURL("submissions://alice@" + pf.SMTPS)
		require.NoError(t, err)
		it, err := ParseLoginURL("imaps://alice@" + dc.IMAPS)
		require.NoError(t, err)
		st.Password, it.Password = "alicepw", "alicepw"
		rt := *env
		rt.RootCAs = pf.Roots.Clone()
		rt.RootCAs.AppendCertsFromPEM(mustRead(t, dc.CertFile))
		r := CheckRoundtrip(context.Background(), &rt, st, it, RoundtripOptions{From: "alice@localhost", To: "alice@localhost", Wait: 20 * time.Second, Poll: 200 * time.Millisecond})
		t.Log("\n" + text(r))
		assert.Empty(t, problemIDs(r))
		assert.True(t, r.Has("roundtrip-delivered"))
	})
}
