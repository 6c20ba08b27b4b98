package imapserver_test

import (
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// Limits.AuthFailureDelay, as in smtpserver and pop3server: past three
// failed logins from a network, the next attempt from it waits, on any
// connection; a negative value turns the delay off.
func TestAuthFailureDelay(t *testing.T) {
	for _, tc := range []struct {
		delay    time.Duration
		min, max time.Duration
	}{
		{300 * time.Millisecond, 250 * time.Millisecond, 5 * time.Second},
		{-1, 0, 250 * time.Millisecond},
	} {
		ts := newTestServer(t, func(s *imapserver.Server) {
			s.Limits.AuthFailureDelay = tc.delay
			s.Limits.MaxAuthFailures = 10
		})
		c := ts.dial()
		c.run(`
C: a1 LOGIN alice wrong
S: a1 NO [AUTHENTICATIONFAILED] Authentication failed
C: a2 LOGIN alice wrong
S: a2 NO [AUTHENTICATIONFAILED] Authentication failed
C: a3 LOGIN alice wrong
S: a3 NO [AUTHENTICATIONFAILED] Authentication failed
C: a4 LOGIN alice wrong
S: a4 NO [AUTHENTICATIONFAILED] Authentication failed`)
		c2 := ts.dial()
		start := time.Now()
		c2.run(`
C: b1 LOGIN alice secret
S: b1 OK ...`)
		if d := time.Since(start); d < tc.min || d > tc.max {
			t.Errorf("AuthFailureDelay %v: the next login took %v", tc.delay, d)
		}
	}
}
