package pop3server_test

import (
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/pop3/internal/pop3fake"
	"github.com/posthorn/posthorn/pop3/pop3server"
	"github.com/posthorn/posthorn/sasl"
)

func TestHooks(t *testing.T) {
	var (
		mu       sync.Mutex
		connects []pop3server.ConnEvent
		closes   []pop3server.ConnEvent
		auths    []pop3server.AuthEvent
		deletes  []pop3server.DeleteEvent
	)
	rec := func(f func()) { mu.Lock(); f(); mu.Unlock() }
	env := start(t, &pop3server.Server{AllowInsecureAuth: true, Hooks: pop3server.Hooks{
		Connect:    func(e pop3server.ConnEvent) { rec(func() { connects = append(connects, e) }) },
		Disconnect: func(e pop3server.ConnEvent) { rec(func() { closes = append(closes, e) }) },
		Auth:       func(e pop3server.AuthEvent) { rec(func() { auths = append(auths, e) }) },
		Deleted:    func(e pop3server.DeleteEvent) { rec(func() { deletes = append(deletes, e) }) },
	}})
	c := pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK POP3 server ready
		C: USER alice
		S: +OK send PASS
		C: PASS wrong
		S: -ERR [AUTH] authentication failed
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: +OK alice has 2 messages (144 octets)
		C: DELE 1
		S: +OK message 1 deleted
		C: DELE 2
		S: +OK message 2 deleted
		C: QUIT
		S: +OK bye
	`)
	c.ExpectClosed()
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
	if len(connects) != 1 || connects[0] != (pop3server.ConnEvent{Remote: local}) {
		t.Errorf("Connect events %+v", connects)
	}
	if closes[0].Remote != local || closes[0].Duration <= 0 {
		t.Errorf("Disconnect event %+v", closes[0])
	}
	if len(auths) != 2 {
		t.Fatalf("Auth events %+v, want 2", auths)
	}
	if a := auths[0]; a.Mechanism != "USER" || a.Username != "alice" || !errors.Is(a.Err, sasl.ErrAuthFailed) {
		t.Errorf("failed Auth event %+v", a)
	}
	if a := auths[1]; a != (pop3server.AuthEvent{Remote: local, Mechanism: "USER", Username: "alice"}) {
		t.Errorf("successful Auth event %+v", a)
	}
	if len(deletes) != 1 || deletes[0] != (pop3server.DeleteEvent{Remote: local, Username: "alice", Count: 2}) {
		t.Errorf("Deleted events %+v", deletes)
	}
}

// A connection over the limit is reported with the reason it was refused.
func TestHooksRefusedConnection(t *testing.T) {
	refused := make(chan pop3server.ConnEvent, 4)
	env := start(t, &pop3server.Server{AllowInsecureAuth: true,
		Limits: pop3server.Limits{MaxConnections: 1},
		Hooks: pop3server.Hooks{Connect: func(e pop3server.ConnEvent) {
			if e.Refused != "" {
				refused <- e
			}
		}}})
	first := pop3fake.Dial(t, env.Addr)
	first.Script(`S: +OK POP3 server ready`)
	second := pop3fake.Dial(t, env.Addr)
	second.Script(`S: -ERR [SYS/TEMP] too many connections`)
	select {
	case e := <-refused:
		if e.Refused != "too many connections" || e.Remote != netip.MustParseAddr("127.0.0.1") {
			t.Fatalf("refused event %+v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no Connect event for the refused connection")
	}
}
