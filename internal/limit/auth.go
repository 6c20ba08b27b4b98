package limit

import (
	"container/list"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults for [AuthLimits].
const (
	DefaultFreeFailures  = 3
	DefaultBaseDelay     = time.Second
	DefaultMaxDelay      = time.Minute
	DefaultUserMaxDelay  = 2 * time.Second
	DefaultDecayInterval = time.Minute
	DefaultMaxEntries    = 100_000
	DefaultBlockFor      = 15 * time.Minute
)

// maxUserKey bounds the bytes of a user name kept as a key.
const maxUserKey = 256

// AuthLimits configures an [AuthLimiter]. The zero value gives the
// defaults.
type AuthLimits struct {
	// FreeFailures is the number of failures per network, and per user,
	// that cost no delay. Zero means DefaultFreeFailures; a negative
	// value means none are free.
	FreeFailures int
	// BaseDelay is the first delay after the free failures; each further
	// failure doubles it. Zero means DefaultBaseDelay.
	BaseDelay time.Duration
	// MaxDelay caps the delay per network. Zero means DefaultMaxDelay.
	MaxDelay time.Duration
	// UserMaxDelay caps the delay per user name, kept small so that no one
	// can lock a user out. Zero means DefaultUserMaxDelay; a negative
	// value disables per-user delays.
	UserMaxDelay time.Duration
	// DecayInterval is the time after which one failure is forgotten.
	// Zero means DefaultDecayInterval.
	DecayInterval time.Duration
	// MaxEntries caps the counters kept (networks and users together);
	// the least recently touched is dropped first. Zero means
	// DefaultMaxEntries.
	MaxEntries int
	// IPv4Prefix and IPv6Prefix are the sizes of a client network in
	// bits. Zero means DefaultIPv4Prefix (32) and DefaultIPv6Prefix (64).
	IPv4Prefix, IPv6Prefix int
	// BlockAfter blocks a network once its (decayed) failure count
	// reaches it: further attempts from it fail at once, without a
	// credential check, for BlockFor. Zero means no blocking. Every host
	// behind one NAT shares the block: see the package documentation.
	BlockAfter int
	// UserBlockAfter blocks a user name the same way, whatever the
	// address. Zero means no blocking. Anyone can then lock the user
	// out for BlockFor by failing on purpose: keep it well above
	// BlockAfter, or off.
	UserBlockAfter int
	// BlockFor is how long a block lasts. Zero means DefaultBlockFor.
	BlockFor time.Duration

	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// BlockedError is returned by [AuthLimiter.Wait] for an attempt from a
// blocked network or for a blocked user. The attempt must fail without a
// credential check.
type BlockedError struct {
	// Network is the blocked network, or the zero Prefix when the user
	// is blocked.
	Network netip.Prefix
	// User is the blocked user name (lower case), or "".
	User string
	// Until is when the block ends.
	Until time.Time
}

// Error describes the block.
func (e *BlockedError) Error() string {
	if e.User != "" {
		return fmt.Sprintf("limit: user %q blocked after repeated authentication failures until %s", e.User, e.Until.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("limit: %s blocked after repeated authentication failures until %s", e.Network, e.Until.UTC().Format(time.RFC3339))
}

// Block describes one block in force, for [AuthLimiter.Blocks].
type Block struct {
	// Network is the blocked network, or the zero Prefix for a user.
	Network netip.Prefix
	// User is the blocked user name, or "".
	User string
	// Failures is the failure count that led to the block.
	Failures int
	// Until is when the block ends.
	Until time.Time
}

type authKey struct {
	net  netip.Prefix // valid for a network counter
	user string       // set for a user counter
}

type authEntry struct {
	key      authKey
	failures int
	last     time.Time // decay is counted from here
	nextFree time.Time // network: when the last reserved attempt may go
	blocked  time.Time // the block's end; zero or past: not blocked
}

// AuthLimiter computes the delay before an authentication attempt from the
// failures so far. It is safe for concurrent use.
type AuthLimiter struct {
	lim AuthLimits

	mu      sync.Mutex
	entries map[authKey]*list.Element // of *authEntry
	lru     list.List                 // front: most recently touched
}

// NewAuthLimiter returns an AuthLimiter with the given limits.
func NewAuthLimiter(l AuthLimits) *AuthLimiter {
	switch {
	case l.FreeFailures == 0:
		l.FreeFailures = DefaultFreeFailures
	case l.FreeFailures < 0:
		l.FreeFailures = 0
	}
	if l.BaseDelay <= 0 {
		l.BaseDelay = DefaultBaseDelay
	}
	if l.MaxDelay <= 0 {
		l.MaxDelay = DefaultMaxDelay
	}
	if l.UserMaxDelay == 0 {
		l.UserMaxDelay = DefaultUserMaxDelay
	}
	if l.DecayInterval <= 0 {
		l.DecayInterval = DefaultDecayInterval
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	if l.BlockFor <= 0 {
		l.BlockFor = DefaultBlockFor
	}
	l.IPv4Prefix = prefixLen(l.IPv4Prefix, DefaultIPv4Prefix, 32)
	l.IPv6Prefix = prefixLen(l.IPv6Prefix, DefaultIPv6Prefix, 128)
	if l.Now == nil {
		l.Now = time.Now
	}
	return &AuthLimiter{lim: l, entries: make(map[authKey]*list.Element)}
}

func (a *AuthLimiter) keys(addr netip.Addr, user string) (netKey, userKey authKey, hasNet, hasUser bool) {
	if p, ok := network(addr, a.lim.IPv4Prefix, a.lim.IPv6Prefix); ok {
		netKey, hasNet = authKey{net: p}, true
	}
	if user != "" && (a.lim.UserMaxDelay > 0 || a.lim.UserBlockAfter > 0) {
		if len(user) > maxUserKey {
			user = user[:maxUserKey]
		}
		userKey, hasUser = authKey{user: strings.ToLower(user)}, true
	}
	return
}

// Delay returns how long the next attempt from addr for user should wait.
// An empty user (not yet known, as before SASL) counts the network only.
func (a *AuthLimiter) Delay(addr netip.Addr, user string) time.Duration {
	nk, uk, hasNet, hasUser := a.keys(addr, user)
	now := a.lim.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	var d time.Duration
	if hasNet {
		d = a.delay(a.failures(nk, now), a.lim.MaxDelay)
	}
	if hasUser && a.lim.UserMaxDelay > 0 {
		d = max(d, a.delay(a.failures(uk, now), a.lim.UserMaxDelay))
	}
	return d
}

// Wait sleeps before an attempt from addr for user, and returns ctx.Err()
// if ctx ends first. Attempts from one network queue behind each other:
// each waits its delay after the previous one's turn, so opening parallel
// connections does not multiply an attacker's guessing rate. Attempts for
// one user do not queue (that would let anyone hold a user's attempts
// back); they wait at most UserMaxDelay.
func (a *AuthLimiter) Wait(ctx context.Context, addr netip.Addr, user string) error {
	if a == nil {
		return ctx.Err()
	}
	d, blocked := a.reserve(addr, user)
	if blocked != nil {
		return blocked
	}
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// reserve returns how long an attempt must wait and books its turn in the
// network's queue, or the block that refuses it.
func (a *AuthLimiter) reserve(addr netip.Addr, user string) (time.Duration, *BlockedError) {
	nk, uk, hasNet, hasUser := a.keys(addr, user)
	now := a.lim.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if hasNet {
		if until := a.blockedUntil(nk, now); !until.IsZero() {
			return 0, &BlockedError{Network: nk.net, Until: until}
		}
	}
	if hasUser {
		if until := a.blockedUntil(uk, now); !until.IsZero() {
			return 0, &BlockedError{User: uk.user, Until: until}
		}
	}
	var d time.Duration
	if hasNet {
		if nd := a.delay(a.failures(nk, now), a.lim.MaxDelay); nd > 0 {
			// failures > 0, so the entry exists.
			e := a.entries[nk].Value.(*authEntry)
			turn := e.nextFree
			if turn.Before(now) {
				turn = now
			}
			e.nextFree = turn.Add(nd)
			// A queue longer than the limiter's own cap is not waited
			// out: bound the wait so a connection is not held forever.
			d = min(e.nextFree.Sub(now), 2*a.lim.MaxDelay)
		}
	}
	if hasUser && a.lim.UserMaxDelay > 0 {
		d = max(d, a.delay(a.failures(uk, now), a.lim.UserMaxDelay))
	}
	return d, nil
}

// blockedUntil returns the end of k's block, or the zero time when k is
// not blocked. a.mu is held.
func (a *AuthLimiter) blockedUntil(k authKey, now time.Time) time.Time {
	el, ok := a.entries[k]
	if !ok {
		return time.Time{}
	}
	if e := el.Value.(*authEntry); e.blocked.After(now) {
		return e.blocked
	}
	return time.Time{}
}

// Blocks returns the blocks in force, networks first.
func (a *AuthLimiter) Blocks() []Block {
	now := a.lim.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []Block
	for el := a.lru.Front(); el != nil; el = el.Next() {
		e := el.Value.(*authEntry)
		if !e.blocked.After(now) {
			continue
		}
		out = append(out, Block{Network: e.key.net, User: e.key.user, Failures: e.failures, Until: e.blocked})
	}
	slices.SortStableFunc(out, func(x, y Block) int {
		switch {
		case x.User == "" && y.User != "":
			return -1
		case x.User != "" && y.User == "":
			return 1
		}
		return 0
	})
	return out
}

// Unblock lifts the block and forgets the failures of what names: an IP
// address (its network is unblocked), a network in CIDR notation (every
// counted network inside it), or else a user name. It reports how many
// counters it cleared.
func (a *AuthLimiter) Unblock(what string) int {
	var within netip.Prefix
	if ip, err := netip.ParseAddr(what); err == nil {
		if p, ok := network(ip, a.lim.IPv4Prefix, a.lim.IPv6Prefix); ok {
			within = p
		}
	} else if p, err := netip.ParsePrefix(what); err == nil {
		within = p.Masked()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for k, el := range a.entries {
		var hit bool
		if within.IsValid() {
			hit = k.net.IsValid() && within.Bits() <= k.net.Bits() && within.Contains(k.net.Addr())
		} else {
			hit = k.user != "" && k.user == strings.ToLower(what)
		}
		if hit {
			a.lru.Remove(el)
			delete(a.entries, k)
			n++
		}
	}
	return n
}

// Failure records a failed attempt from addr for user. Wait, Failure and
// Success do nothing on a nil *AuthLimiter, a server's way of turning
// the delays off.
func (a *AuthLimiter) Failure(addr netip.Addr, user string) {
	if a == nil {
		return
	}
	nk, uk, hasNet, hasUser := a.keys(addr, user)
	now := a.lim.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if hasNet {
		a.add(nk, now)
	}
	if hasUser {
		a.add(uk, now)
	}
}

// Success records a successful login: it clears the user's counter. The
// network's counter stays, decaying as usual.
func (a *AuthLimiter) Success(addr netip.Addr, user string) {
	if a == nil {
		return
	}
	_, uk, _, hasUser := a.keys(addr, user)
	if !hasUser {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if e, ok := a.entries[uk]; ok {
		a.lru.Remove(e)
		delete(a.entries, uk)
	}
}

// Len returns the number of counters kept.
func (a *AuthLimiter) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.entries)
}

// delay is zero for up to FreeFailures failures, then BaseDelay doubling
// per failure, capped at limit.
func (a *AuthLimiter) delay(failures int, limit time.Duration) time.Duration {
	n := failures - a.lim.FreeFailures
	if n <= 0 {
		return 0
	}
	d := a.lim.BaseDelay
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// failures returns the decayed failure count of k, dropping a counter that
// decayed to zero. a.mu is held.
func (a *AuthLimiter) failures(k authKey, now time.Time) int {
	el, ok := a.entries[k]
	if !ok {
		return 0
	}
	e := el.Value.(*authEntry)
	a.decay(e, now)
	if e.failures <= 0 && !e.blocked.After(now) {
		a.lru.Remove(el)
		delete(a.entries, k)
		return 0
	}
	return e.failures
}

func (a *AuthLimiter) decay(e *authEntry, now time.Time) {
	if gone := int(now.Sub(e.last) / a.lim.DecayInterval); gone > 0 {
		e.failures = max(e.failures-gone, 0)
		e.last = e.last.Add(time.Duration(gone) * a.lim.DecayInterval)
	}
}

// add counts one failure for k. a.mu is held.
func (a *AuthLimiter) add(k authKey, now time.Time) {
	if el, ok := a.entries[k]; ok {
		e := el.Value.(*authEntry)
		a.decay(e, now)
		if e.failures <= 0 {
			e.failures, e.last = 0, now
		}
		// Stop counting far past the cap, so decay brings it back in a
		// bounded time.
		if e.failures < a.lim.FreeFailures+64 {
			e.failures++
		}
		a.block(e, now)
		a.lru.MoveToFront(el)
		return
	}
	for len(a.entries) >= a.lim.MaxEntries {
		old := a.lru.Back()
		a.lru.Remove(old)
		delete(a.entries, old.Value.(*authEntry).key)
	}
	e := &authEntry{key: k, failures: 1, last: now}
	a.block(e, now)
	a.entries[k] = a.lru.PushFront(e)
}

// block starts e's block when its failures reach the threshold. a.mu is
// held.
func (a *AuthLimiter) block(e *authEntry, now time.Time) {
	after := a.lim.BlockAfter
	if e.key.user != "" {
		after = a.lim.UserBlockAfter
	}
	if after > 0 && e.failures >= after && !e.blocked.After(now) {
		e.blocked = now.Add(a.lim.BlockFor)
	}
}
