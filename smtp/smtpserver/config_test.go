package smtpserver

import (
	"context"
	"crypto/tls"
	"testing"

	"github.com/posthorn/posthorn/internal/wiretest"
)

// credBackend is a Backend that verifies passwords too.
type credBackend struct {
	*testBackend
	testCreds
}

func (b credBackend) NewSession(ctx context.Context, c *ConnInfo) (Session, error) {
	return b.testBackend.NewSession(ctx, c)
}

// Auth nil means what it means in imapserver and pop3server: the default
// mechanisms over the Backend's credential interfaces, plaintext ones
// before TLS only with AllowInsecureAuth; a Backend with none gets no
// AUTH.
func TestAuthNilDefaultRegistry(t *testing.T) {
	c := wiretest.Dial(t, startServer(t, &Server{Backend: credBackend{&testBackend{}, testCreds{"alice": "secret"}}, AllowInsecureAuth: true}))
	c.Script(`
		S: 220 ...
		C: EHLO client.test
		S: ~ 250-AUTH PLAIN LOGIN
		S: ~ 250 
		C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
		S: 235 ...`)

	c = wiretest.Dial(t, startServer(t, &Server{Backend: &testBackend{}, AllowInsecureAuth: true}))
	c.Script(`
		S: 220 ...
		C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
		S: 502 5.5.1 AUTH not available`)
}

// The MX keeps Go's TLS 1.2 cipher suites, since a sender refused at the
// handshake falls back to plaintext (RFC 7435 §3); submission offers only
// AEAD suites.
func TestTLSSuitesByMode(t *testing.T) {
	srvTLS, cliTLS := testTLS(t)
	cbcOnly := cliTLS.Clone()
	cbcOnly.MaxVersion = tls.VersionTLS12
	cbcOnly.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}
	for _, mode := range []Mode{ModeMX, ModeSubmission} {
		c := wiretest.Dial(t, startServer(t, &Server{Backend: &testBackend{}, Mode: mode, TLSConfig: srvTLS}))
		c.Script(`
			S: 220 ...
			C: EHLO client.test
			S: ~ 250 
			C: STARTTLS
			S: 220 ...`)
		err := tls.Client(c.NetConn(), cbcOnly).Handshake()
		if (err == nil) != (mode == ModeMX) {
			t.Errorf("%v: CBC-only TLS 1.2 handshake: %v", mode, err)
		}
	}
}
