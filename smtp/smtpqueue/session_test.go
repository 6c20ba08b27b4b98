package smtpqueue

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"

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
