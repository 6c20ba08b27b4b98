package smtpqueue

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/posthorn/posthorn/smtp/smtptest"
)

// fakeClock is a Clock the test moves by hand.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
	// onAdvance runs after each Advance: the harness wakes the queue's
	// loop, which may have computed its wait from the time before.
	onAdvance func()
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{c.now.Add(d), ch})
	return ch
}

// Advance moves the time forward and wakes the waiters now due.
func (c *fakeClock) Advance(d time.Duration) {
	c.advance(d)
	if c.onAdvance != nil {
		c.onAdvance()
	}
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// waiting reports whether someone waits for the time at.
func (c *fakeClock) waiting(at time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.waiters {
		if w.at.Equal(at) {
			return true
		}
	}
	return false
}

// Set moves the time to t (if later).
func (c *fakeClock) Set(t time.Time) {
	if d := t.Sub(c.Now()); d > 0 {
		c.Advance(d)
	}
}

// testNet maps domains to smtptest servers: the MX of d is "mx.d", and
// dialling "mx.d:25" reaches d's server.
type testNet struct {
	mu      sync.Mutex
	servers map[string]*smtptest.Server
	addrs   map[string]string // other servers (a Postfix), by domain
}

func (n *testNet) addr(domain string) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if a, ok := n.addrs[domain]; ok {
		return a, true
	}
	if s, ok := n.servers[domain]; ok {
		return s.Addr, true
	}
	return "", false
}

func (n *testNet) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	if _, ok := n.addr(strings.ToLower(name)); !ok {
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	return []*net.MX{{Host: "mx." + name + ".", Pref: 10}}, nil
}

func (n *testNet) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	a, ok := n.addr(strings.TrimPrefix(host, "mx."))
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var d net.Dialer
	return d.DialContext(ctx, network, a)
}

func (n *testNet) transport() *MX {
	return &MX{Options: smtpclient.DeliverOptions{
		Resolver: n,
		Options:  smtpclient.Options{LocalName: "queue.test", Dialer: n.dial},
	}}
}

// harness is a queue under test with its servers, clock and events.
type harness struct {
	t      *testing.T
	dir    string
	q      *Queue
	clock  *fakeClock
	net    *testNet
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
	events []Event
}

func newHarness(t *testing.T, domains []string, edit func(*Options)) *harness {
	return newHarnessAddrs(t, domains, nil, edit)
}

func newHarnessAddrs(t *testing.T, domains []string, addrs map[string]string, edit func(*Options)) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), clock: newFakeClock(), net: &testNet{servers: map[string]*smtptest.Server{}, addrs: addrs}}
	for _, d := range domains {
		h.net.servers[d] = smtptest.NewServer(t)
	}
	h.start(edit)
	return h
}

func (h *harness) start(edit func(*Options)) {
	h.t.Helper()
	o := &Options{
		Hostname:   "queue.test",
		Postmaster: "postmaster@sender.test",
		Transport:  h.net.transport(),
		Clock:      h.clock,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnEvent: func(ev Event) {
			h.mu.Lock()
			h.events = append(h.events, ev)
			h.mu.Unlock()
		},
	}
	if testing.Verbose() {
		o.Logger = slog.New(slog.NewTextHandler(testWriter{h.t}, nil))
	}
	if edit != nil {
		edit(o)
	}
	q, err := Open(h.dir, o)
	if err != nil {
		h.t.Fatal(err)
	}
	h.q = q
	h.clock.onAdvance = q.kick
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan error, 1)
	go func() { h.done <- q.Run(ctx) }()
	h.t.Cleanup(h.stop)
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	<-h.done
	h.q.Close()
	h.cancel = nil
}

func (h *harness) srv(domain string) *smtptest.Server { return h.net.servers[domain] }

func (h *harness) enqueue(env *Envelope, msg string) string {
	h.t.Helper()
	id, err := h.q.Enqueue(context.Background(), env, strings.NewReader(msg))
	if err != nil {
		h.t.Fatal(err)
	}
	return id
}

// eventually waits (in real time) until cond holds.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; queue: %+v", what, h.q.List())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// attempted waits until message id has had n attempts and is idle (or
// gone).
func (h *harness) attempted(id string, n int) {
	h.t.Helper()
	h.eventually("attempt", func() bool {
		mi, err := h.q.Get(id)
		return err == ErrNotFound || (mi.Attempts >= n && !mi.Active)
	})
}

func (h *harness) empty() {
	h.t.Helper()
	h.eventually("empty queue", func() bool {
		s := h.q.Stats()
		return s.Queued == 0 && s.Active == 0
	})
}

func (h *harness) eventsOf(typ EventType) []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Event
	for _, e := range h.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

const testMsg = "From: alice@sender.test\r\nTo: bob@one.test\r\nSubject: hello\r\nMessage-ID: <1@sender.test>\r\n\r\nHi Bob!\r\n"
