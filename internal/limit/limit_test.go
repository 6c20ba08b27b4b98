package limit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var (
	ip1  = netip.MustParseAddr("192.0.2.1")
	ip2  = netip.MustParseAddr("192.0.2.2")
	ip6a = netip.MustParseAddr("2001:db8:1:2::1")
	ip6b = netip.MustParseAddr("2001:db8:1:2:ffff::9") // same /64
	ip6c = netip.MustParseAddr("2001:db8:1:3::1")      // another /64
)

func TestConnLimiter(t *testing.T) {
	l := NewConnLimiter(ConnLimits{Max: 4, PerIP: 2})
	var rels []func()
	acquire := func(a netip.Addr) error {
		rel, err := l.Acquire(a)
		if err == nil {
			rels = append(rels, rel)
		}
		return err
	}
	var le *Error
	if err := acquire(ip1); err != nil {
		t.Fatal(err)
	}
	if err := acquire(netip.AddrFrom16(ip1.As16())); err != nil { // ::ffff:192.0.2.1
		t.Fatal(err)
	}
	if err := acquire(ip1); !errors.As(err, &le) || le.Scope != PerNetwork || le.Limit != 2 || le.Network.String() != "192.0.2.1/32" {
		t.Fatalf("third from ip1: %v", err)
	}
	if err := acquire(ip6a); err != nil {
		t.Fatal(err)
	}
	if err := acquire(ip6b); err != nil {
		t.Fatal(err)
	}
	if total, n := l.Open(ip6b); total != 4 || n != 2 {
		t.Fatalf("Open = %d, %d", total, n)
	}
	if err := acquire(ip6c); !errors.As(err, &le) || le.Scope != Global || le.Limit != 4 {
		t.Fatalf("fifth: %v", err)
	}
	rels[0]()
	rels[0]() // twice: no effect
	if total, n := l.Open(ip1); total != 3 || n != 1 {
		t.Fatalf("after release Open = %d, %d", total, n)
	}
	if err := acquire(ip6a); !errors.As(err, &le) || le.Scope != PerNetwork || le.Network.String() != "2001:db8:1:2::/64" {
		t.Fatalf("third from the /64: %v", err)
	}
	if err := acquire(netip.Addr{}); err != nil { // a Unix socket
		t.Fatal(err)
	}
	if le.Error() == "" {
		t.Fatal("empty message")
	}
	for _, r := range rels {
		r()
	}
	if total, _ := l.Open(ip1); total != 0 || len(l.per) != 0 {
		t.Fatalf("after releasing all: total %d, %d networks kept", total, len(l.per))
	}
}

func TestConnLimiterDefaultsAndUnlimited(t *testing.T) {
	l := NewConnLimiter(ConnLimits{})
	if l.max != DefaultMaxConns || l.perIP != DefaultConnPerIP || l.v4 != 32 || l.v6 != 64 {
		t.Fatalf("defaults: %+v", l)
	}
	l = NewConnLimiter(ConnLimits{Max: -1, PerIP: -1, IPv4Prefix: 24, IPv6Prefix: 48})
	for range 5000 {
		if _, err := l.Acquire(ip1); err != nil {
			t.Fatal(err)
		}
	}
	if _, n := l.Open(ip2); n != 5000 { // same /24
		t.Fatalf("/24 count %d", n)
	}
}

func TestConnLimiterConcurrent(t *testing.T) {
	l := NewConnLimiter(ConnLimits{Max: 50, PerIP: 10})
	var open, peak, refused atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr := netip.AddrFrom4([4]byte{10, 0, 0, byte(g % 8)})
			for range 500 {
				rel, err := l.Acquire(addr)
				if err != nil {
					refused.Add(1)
					continue
				}
				n := open.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				open.Add(-1)
				rel()
			}
		}()
	}
	wg.Wait()
	if peak.Load() > 50 {
		t.Fatalf("peak %d over the limit", peak.Load())
	}
	if total, _ := l.Open(ip1); total != 0 {
		t.Fatalf("leaked %d", total)
	}
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newAuth(lim AuthLimits) (*AuthLimiter, *clock) {
	c := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	lim.Now = c.Now
	return NewAuthLimiter(lim), c
}

func TestAuthLimiterNetworkDelay(t *testing.T) {
	a, _ := newAuth(AuthLimits{})
	want := []time.Duration{0, 0, 0, 0, 1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
		16 * time.Second, 32 * time.Second, time.Minute, time.Minute, time.Minute}
	for i, w := range want {
		// Each attempt uses a new user name: only the network counts.
		if got := a.Delay(ip1, ""); got != w {
			t.Fatalf("after %d failures: delay %v, want %v", i, got, w)
		}
		a.Failure(ip1, fmt.Sprintf("user%d", i))
	}
	if got := a.Delay(ip2, ""); got != 0 {
		t.Fatalf("other address delayed %v", got)
	}
	if got := a.Delay(ip1, "newuser"); got != time.Minute {
		t.Fatalf("delay %v", got)
	}
}

// TestAuthLimiterNoLockout: an attacker guesses alice's password from many
// addresses. She, from her own address, never waits more than
// UserMaxDelay.
func TestAuthLimiterNoLockout(t *testing.T) {
	a, _ := newAuth(AuthLimits{})
	for i := range 1000 {
		a.Failure(netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)}), "alice")
	}
	if got := a.Delay(ip1, "alice"); got != DefaultUserMaxDelay {
		t.Fatalf("alice waits %v, want %v", got, DefaultUserMaxDelay)
	}
	if got := a.Delay(ip1, "ALICE"); got != DefaultUserMaxDelay {
		t.Fatalf("case variant waits %v", got)
	}
	a.Success(ip1, "alice")
	if got := a.Delay(ip1, "alice"); got != 0 {
		t.Fatalf("after success alice waits %v", got)
	}
}

func TestAuthLimiterDecay(t *testing.T) {
	a, c := newAuth(AuthLimits{FreeFailures: -1, BaseDelay: time.Second, MaxDelay: time.Hour, DecayInterval: time.Minute, UserMaxDelay: -1})
	for range 5 {
		a.Failure(ip6a, "bob")
	}
	if got := a.Delay(ip6b, ""); got != 16*time.Second { // same /64; no free failures
		t.Fatalf("delay %v", got)
	}
	if got := a.Delay(ip6c, ""); got != 0 {
		t.Fatalf("other /64 delayed %v", got)
	}
	c.Add(2*time.Minute + 30*time.Second)
	if got := a.Delay(ip6a, ""); got != 4*time.Second {
		t.Fatalf("after 2.5 intervals: %v", got)
	}
	c.Add(30 * time.Second) // the half interval counts on
	if got := a.Delay(ip6a, ""); got != 2*time.Second {
		t.Fatalf("after 3 intervals: %v", got)
	}
	c.Add(time.Hour)
	if got := a.Delay(ip6a, ""); got != 0 || a.Len() != 0 {
		t.Fatalf("after an hour: %v, %d entries", got, a.Len())
	}
	// Success does not clear the network.
	for range 5 {
		a.Failure(ip1, "mallory")
	}
	a.Success(ip1, "mallory")
	if got := a.Delay(ip1, ""); got == 0 {
		t.Fatal("success cleared the network counter")
	}
}

func TestAuthLimiterBounded(t *testing.T) {
	a, _ := newAuth(AuthLimits{MaxEntries: 100})
	for i := range 10000 {
		a.Failure(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), fmt.Sprint("u", i))
	}
	if a.Len() > 100 {
		t.Fatalf("%d entries, cap 100", a.Len())
	}
	// The most recent survive.
	a.Failure(ip1, "")
	a.Failure(ip1, "")
	a.Failure(ip1, "")
	a.Failure(ip1, "")
	if a.Delay(ip1, "") == 0 {
		t.Fatal("recent entry evicted")
	}
	long := string(make([]byte, 10000))
	a.Failure(ip1, long)
	for _, el := range a.entries {
		if len(el.Value.(*authEntry).key.user) > maxUserKey {
			t.Fatal("user key not bounded")
		}
	}
}

func TestAuthLimiterWait(t *testing.T) {
	a := NewAuthLimiter(AuthLimits{FreeFailures: -1, BaseDelay: 20 * time.Millisecond, MaxDelay: time.Hour})
	if err := a.Wait(context.Background(), ip1, "x"); err != nil {
		t.Fatal(err)
	}
	a.Failure(ip1, "")
	start := time.Now()
	if err := a.Wait(context.Background(), ip1, ""); err != nil || time.Since(start) < 20*time.Millisecond {
		t.Fatalf("Wait = %v after %v", err, time.Since(start))
	}
	for range 20 {
		a.Failure(ip1, "")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := a.Wait(ctx, ip1, ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v, want deadline exceeded", err)
	}
}

func TestAuthLimiterConcurrent(t *testing.T) {
	a := NewAuthLimiter(AuthLimits{MaxEntries: 64})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				addr := netip.AddrFrom4([4]byte{10, byte(g), byte(i >> 8), byte(i % 16)})
				user := fmt.Sprint("u", i%50)
				a.Delay(addr, user)
				if i%7 == 0 {
					a.Success(addr, user)
				} else {
					a.Failure(addr, user)
				}
			}
		}()
	}
	wg.Wait()
	if a.Len() > 64 {
		t.Fatalf("%d entries", a.Len())
	}
}

func TestAddrOf(t *testing.T) {
	for _, tt := range []struct {
		a    net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 25}, "192.0.2.1"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.1"), Port: 25}, "192.0.2.1"},
		{&net.UDPAddr{IP: net.ParseIP("2001:db8::1"), Port: 53}, "2001:db8::1"},
		{&net.TCPAddr{IP: net.ParseIP("fe80::1"), Zone: "eth0"}, "fe80::1"},
		{&net.IPAddr{IP: net.ParseIP("192.0.2.7")}, "192.0.2.7"},
		{&net.UnixAddr{Name: "/run/x"}, "invalid IP"},
	} {
		if got := AddrOf(tt.a).String(); got != tt.want {
			t.Errorf("AddrOf(%v) = %s, want %s", tt.a, got, tt.want)
		}
	}
}

func BenchmarkConnLimiterAcquire(b *testing.B) {
	l := NewConnLimiter(ConnLimits{})
	b.ReportAllocs()
	for b.Loop() {
		rel, err := l.Acquire(ip6a)
		if err != nil {
			b.Fatal(err)
		}
		rel()
	}
}

func BenchmarkAuthLimiterFailure(b *testing.B) {
	a := NewAuthLimiter(AuthLimits{MaxEntries: 10000})
	addrs := make([]netip.Addr, 50000)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		a.Failure(addrs[i%len(addrs)], "")
		a.Delay(addrs[i%len(addrs)], "")
		i++
	}
}

// TestAuthLimiterQueuesNetwork: parallel attempts from one network wait in
// turn, while a user's own attempts from elsewhere do not queue.
func TestAuthLimiterQueuesNetwork(t *testing.T) {
	a, c := newAuth(AuthLimits{FreeFailures: -1, BaseDelay: time.Second, MaxDelay: 10 * time.Second})
	a.Failure(ip1, "")
	// Four connections from ip1 try at once.
	for i, want := range []time.Duration{1, 2, 3, 4} {
		if got, _ := a.reserve(ip1, ""); got != want*time.Second {
			t.Fatalf("attempt %d waits %v, want %v", i, got, want*time.Second)
		}
	}
	// The queue drains with time.
	c.Add(4 * time.Second)
	if got, _ := a.reserve(ip1, ""); got != time.Second {
		t.Fatalf("after the queue drained: %v", got)
	}
	// A long queue is not waited out beyond twice MaxDelay.
	for range 50 {
		a.reserve(ip1, "")
	}
	if got, _ := a.reserve(ip1, ""); got != 20*time.Second {
		t.Fatalf("capped wait %v", got)
	}
	// Attacks on alice from many addresses do not queue her.
	for i := range 20 {
		a.Failure(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), "alice")
	}
	for range 10 {
		if got, _ := a.reserve(ip2, "alice"); got != DefaultUserMaxDelay {
			t.Fatalf("alice waits %v", got)
		}
	}
}

// TestAuthLimiterBlocks: past BlockAfter failures a network is refused
// at once (no delay, no credential check) until BlockFor passes or
// Unblock lifts it; a user is blocked past UserBlockAfter from any
// address; other networks and users are untouched.
func TestAuthLimiterBlocks(t *testing.T) {
	a, c := newAuth(AuthLimits{BaseDelay: time.Second, MaxDelay: 3 * time.Second, BlockAfter: 5, UserBlockAfter: 8, BlockFor: 10 * time.Minute})
	ctx := context.Background()
	for i := range 4 {
		a.Failure(ip1, fmt.Sprint("u", i))
	}
	if d := a.Delay(ip1, ""); d != time.Second {
		t.Fatalf("delay %v before the block", d)
	}
	a.Failure(ip1, "u4")
	var be *BlockedError
	if err := a.Wait(ctx, ip1, "someone"); !errors.As(err, &be) || be.Network != netip.MustParsePrefix(ip1.String()+"/32") || be.User != "" {
		t.Fatalf("Wait = %v, want a network block", err)
	}
	if !be.Until.Equal(c.Now().Add(10 * time.Minute)) {
		t.Fatalf("until %v", be.Until)
	}
	if err := a.Wait(ctx, ip2, "someone"); err != nil {
		t.Fatalf("other network: %v", err)
	}
	if bs := a.Blocks(); len(bs) != 1 || bs[0].Network != be.Network || bs[0].Failures != 5 {
		t.Fatalf("Blocks = %+v", bs)
	}
	// The block outlives the decay of the failures, and ends on time.
	c.Add(9 * time.Minute)
	if err := a.Wait(ctx, ip1, ""); !errors.As(err, &be) {
		t.Fatalf("after 9 minutes: %v", err)
	}
	c.Add(time.Minute + time.Second)
	if err := a.Wait(ctx, ip1, ""); err != nil {
		t.Fatalf("after the block: %v", err)
	}
	// Unblock by address lifts a block at once.
	for range 5 {
		a.Failure(ip1, "")
	}
	if err := a.Wait(ctx, ip1, ""); !errors.As(err, &be) {
		t.Fatal("not blocked again")
	}
	if n := a.Unblock(ip1.String()); n != 1 {
		t.Fatalf("Unblock cleared %d", n)
	}
	if err := a.Wait(ctx, ip1, ""); err != nil {
		t.Fatalf("after Unblock: %v", err)
	}
	// A user guessed at from many addresses is blocked from all of them.
	for i := range 8 {
		a.Failure(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), "Alice")
	}
	if err := a.Wait(ctx, ip2, "alice"); !errors.As(err, &be) || be.User != "alice" {
		t.Fatalf("Wait = %v, want a user block", err)
	}
	if err := a.Wait(ctx, ip2, "bob"); err != nil {
		t.Fatalf("bob: %v", err)
	}
	if n := a.Unblock("ALICE"); n != 1 {
		t.Fatalf("Unblock(ALICE) cleared %d", n)
	}
	if err := a.Wait(ctx, ip2, "alice"); err != nil {
		t.Fatalf("alice after Unblock: %v", err)
	}
	// A CIDR unblocks every network inside it.
	for range 5 {
		a.Failure(ip6a, "")
	}
	if n := a.Unblock("2001:db8::/32"); n != 1 {
		t.Fatalf("Unblock(CIDR) cleared %d", n)
	}
}

// TestAuthLimiterNoBlockByDefault: without thresholds nothing blocks,
// however many failures.
func TestAuthLimiterNoBlockByDefault(t *testing.T) {
	a, _ := newAuth(AuthLimits{MaxDelay: 2 * time.Second})
	for range 1000 {
		a.Failure(ip1, "alice")
	}
	if bs := a.Blocks(); len(bs) != 0 {
		t.Fatalf("Blocks = %v", bs)
	}
	if d := a.Delay(ip1, "alice"); d != 2*time.Second {
		t.Fatalf("delay %v, want the 2s cap", d)
	}
}
