package smtpqueue

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posthorn/posthorn/smtp/smtptest"
)

// Messages to one destination share connections: with one delivery at a
// time, N messages go over one connection, one after the other, and a
// message refused (at RCPT, or after its data) neither breaks the session
// nor costs the next message a new connection.
func TestMessagesShareConnection(t *testing.T) {
	for _, c := range []struct {
		name     string
		perDest  int
		maxDials int64
	}{{"one at a time", 1, 1}, {"five at a time", 5, 5}} {
		t.Run(c.name, func(t *testing.T) {
			var dials atomic.Int64
			h := newHarness(t, []string{"one.test", "sender.test"}, func(o *Options) {
				o.MaxPerDestination = c.perDest
				mx := o.Transport.(*MX)
				dial := mx.Options.Options.Dialer
				mx.Options.Options.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
					if strings.HasPrefix(addr, "mx.one.test") {
						dials.Add(1)
					}
					return dial(ctx, network, addr)
				}
			})
			h.srv("one.test").SetFaults(
				smtptest.Fault{At: smtptest.AtRcpt, Reply: smtptest.Reply(550, "5.1.1 no such user"), When: func(a *smtptest.Attempt) bool { return strings.HasPrefix(a.To, "nobody@") }},
				smtptest.Fault{At: smtptest.AtData, Reply: smtptest.Reply(554, "5.6.0 content refused"), When: func(a *smtptest.Attempt) bool { return a.From == "spam@sender.test" }},
			)
			const n = 20
			for i := range n {
				from, to := "alice@sender.test", fmt.Sprintf("bob%d@one.test", i)
				switch i {
				case 5:
					to = "nobody@one.test"
				case 12:
					from = "spam@sender.test"
				}
				h.enqueue(&Envelope{From: from, To: []string{to}}, testMsg)
			}
			h.eventually("deliveries", func() bool { return len(h.srv("one.test").Messages()) >= n-2 })
			h.eventually("bounces", func() bool { return len(h.srv("sender.test").Messages()) == 2 })
			h.empty()
			if got := len(h.srv("one.test").Messages()); got != n-2 {
				t.Errorf("%d messages delivered, want %d", got, n-2)
			}
			if d := dials.Load(); d > c.maxDials {
				t.Errorf("%d connections for %d messages, want at most %d", d, n, c.maxDials)
			}
		})
	}
}

type closeCounter struct {
	net.Conn
	closed *atomic.Int64
	once   sync.Once
}

func (c *closeCounter) Close() error {
	c.once.Do(func() { c.closed.Add(1) })
	return c.Conn.Close()
}

// A kept connection is not held on to: after MX.IdleTimeout unused it is
// closed.
func TestIdleConnectionClosed(t *testing.T) {
	var dials, closed atomic.Int64
	h := newHarness(t, []string{"one.test", "sender.test"}, func(o *Options) {
		mx := o.Transport.(*MX)
		mx.IdleTimeout = 100 * time.Millisecond
		dial := mx.Options.Options.Dialer
		mx.Options.Options.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			dials.Add(1)
			return &closeCounter{Conn: c, closed: &closed}, nil
		}
	})
	h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@one.test"}}, testMsg)
	h.empty()
	if dials.Load() != 1 {
		t.Fatalf("%d dials", dials.Load())
	}
	h.eventually("the idle connection closed", func() bool { return closed.Load() == 1 })
}
