package smtpqueue

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/smtp/smtptest"
)

// Enqueues, deliveries with random temporary and permanent failures, and
// every operation at once, under -race: the queue ends empty (after
// releases and retries), and every delivered, failed or deleted message is
// accounted for.
func TestConcurrentOperations(t *testing.T) {
	h := newHarness(t, []string{"one.test", "two.test", "sender.test"}, func(o *Options) { o.MaxPerDestination = 2 })
	fault := func(a *smtptest.Attempt) bool { return rand.IntN(4) == 0 }
	h.srv("one.test").SetFaults(smtptest.Fault{At: smtptest.AtRcpt, Reply: smtptest.Reply(451, "4.7.1 later"), When: fault})
	h.srv("two.test").SetFaults(smtptest.Fault{At: smtptest.AtRcpt, Reply: smtptest.Reply(550, "5.1.1 gone"), When: fault})
	var ids []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 15 {
				id := h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"a@one.test", "b@two.test", "c@one.test"}}, testMsg)
				mu.Lock()
				ids = append(ids, id)
				pick := ids[rand.IntN(len(ids))]
				mu.Unlock()
				switch (g + i) % 5 {
				case 0:
					h.q.Hold(pick)
				case 1:
					h.q.Release(pick)
				case 2:
					h.q.RetryNow(pick)
				case 3:
					if i%3 == 0 {
						h.q.Delete(pick)
					}
				}
				h.q.List()
				h.q.Stats()
			}
		})
	}
	wg.Wait()
	// Let every message meet the faults once before they end.
	h.eventually("a first attempt of each", func() bool {
		for _, m := range h.q.List() {
			if m.Attempts == 0 && !m.Held {
				return false
			}
		}
		return true
	})
	h.srv("one.test").SetFaults()
	h.srv("two.test").SetFaults()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, m := range h.q.List() {
			if m.Held {
				h.q.Release(m.ID)
			} else if !m.Active {
				h.q.RetryNow(m.ID)
			}
		}
		if s := h.q.Stats(); s.Queued == 0 && s.Active == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not empty: %+v", h.q.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	s := h.q.Stats()
	t.Logf("%+v", s)
	for _, sub := range []string{"msg", "state", "tmp"} {
		if ents, _ := os.ReadDir(filepath.Join(h.dir, sub)); len(ents) != 0 {
			t.Errorf("%d files left in %s", len(ents), sub)
		}
	}
	if s.Delivered == 0 || s.Failed+s.Deferred == 0 {
		t.Errorf("the faults did not bite: %+v", s)
	}
}
