package imapserver_test

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
)

func TestHooks(t *testing.T) {
	var (
		mu       sync.Mutex
		connects []imapserver.ConnEvent
		closes   []imapserver.ConnEvent
		auths    []imapserver.AuthEvent
	)
	rec := func(f func()) { mu.Lock(); f(); mu.Unlock() }
	ts := newTestServer(t, func(s *imapserver.Server) {
		s.Limits.MaxConnections = 1
		s.Hooks = imapserver.Hooks{
			Connect:    func(e imapserver.ConnEvent) { rec(func() { connects = append(connects, e) }) },
			Disconnect: func(e imapserver.ConnEvent) { rec(func() { closes = append(closes, e) }) },
			Auth:       func(e imapserver.AuthEvent) { rec(func() { auths = append(auths, e) }) },
		}
	})
	c := ts.dial()
	c.run(`
C: a1 LOGIN alice wrong
S: a1 NO [AUTHENTICATIONFAILED] Authentication failed
C: a2 AUTHENTICATE PLAIN AGFsaWNlAG5vcGU=
S: a2 NO [AUTHENTICATIONFAILED] Authentication failed
C: a3 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==
S: ~ a3 OK`)

	// One connection at a time: a second is turned away and reported.
	c2, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 128)
	n, _ := c2.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "* BYE [UNAVAILABLE]") {
		t.Fatalf("second connection got %q", buf[:n])
	}

	c.run(`
C: a4 LOGOUT
S: * BYE Logging out
S: a4 OK LOGOUT completed`)
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(closes)
		mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no Disconnect event")
		}
		time.Sleep(5 * time.Millisecond)
	}

	mu.Lock()
	defer mu.Unlock()
	local := netip.MustParseAddr("127.0.0.1")
	if len(connects) != 2 || connects[0] != (imapserver.ConnEvent{Remote: local}) ||
		connects[1] != (imapserver.ConnEvent{Remote: local, Refused: "too many connections"}) {
		t.Errorf("Connect events %+v", connects)
	}
	if closes[0].Remote != local || closes[0].Duration <= 0 {
		t.Errorf("Disconnect event %+v", closes[0])
	}
	if len(auths) != 3 {
		t.Fatalf("Auth events %+v, want 3", auths)
	}
	// LOGIN names the user in the clear; the failed PLAIN exchange
	// reports the name it tried (for per-account counting).
	for i, want := range []imapserver.AuthEvent{{Mechanism: "LOGIN", Username: "alice"}, {Mechanism: "PLAIN", Username: "alice"}} {
		if a := auths[i]; a.Remote != local || a.Mechanism != want.Mechanism || a.Username != want.Username || !errors.Is(a.Err, imapserver.ErrAuthFailed) {
			t.Errorf("failed Auth event %d: %+v", i, a)
		}
	}
	if a := auths[2]; a != (imapserver.AuthEvent{Remote: local, Mechanism: "PLAIN", Username: "alice"}) {
		t.Errorf("successful Auth event %+v", a)
	}
}
