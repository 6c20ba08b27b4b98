package limit

import (
	"fmt"
	"net/netip"
	"sync"
)

// Defaults for [ConnLimits].
const (
	DefaultMaxConns  = 1000
	DefaultConnPerIP = 20
)

// ConnLimits configures a [ConnLimiter]. The zero value gives the defaults.
type ConnLimits struct {
	// Max is the number of connections open at once. Zero means
	// DefaultMaxConns; a negative value means no limit.
	Max int
	// PerIP is the number of connections open at once from one client
	// network. Zero means DefaultConnPerIP; a negative value means no
	// limit.
	PerIP int
	// IPv4Prefix and IPv6Prefix are the sizes of a client network in
	// bits. Zero means DefaultIPv4Prefix (32) and DefaultIPv6Prefix (64).
	IPv4Prefix, IPv6Prefix int
}

// Scope says which limit an [Error] is about.
type Scope int

const (
	// Global is the limit over all connections.
	Global Scope = iota
	// PerNetwork is the limit per client network.
	PerNetwork
)

// Error reports that a connection limit is reached.
type Error struct {
	// Scope is Global or PerNetwork.
	Scope Scope
	// Limit is the limit that was reached.
	Limit int
	// Network is the client network for a PerNetwork error.
	Network netip.Prefix
}

// Error describes the error.
func (e *Error) Error() string {
	if e.Scope == PerNetwork {
		return fmt.Sprintf("limit: too many connections from %s (limit %d)", e.Network, e.Limit)
	}
	return fmt.Sprintf("limit: too many connections (limit %d)", e.Limit)
}

// ConnLimiter counts open connections. It is safe for concurrent use.
type ConnLimiter struct {
	max, perIP int
	v4, v6     int

	mu    sync.Mutex
	total int
	per   map[netip.Prefix]int
}

// NewConnLimiter returns a ConnLimiter with the given limits.
func NewConnLimiter(l ConnLimits) *ConnLimiter {
	def := func(n, d int) int {
		if n == 0 {
			return d
		}
		return n
	}
	return &ConnLimiter{
		max:   def(l.Max, DefaultMaxConns),
		perIP: def(l.PerIP, DefaultConnPerIP),
		v4:    prefixLen(l.IPv4Prefix, DefaultIPv4Prefix, 32),
		v6:    prefixLen(l.IPv6Prefix, DefaultIPv6Prefix, 128),
		per:   make(map[netip.Prefix]int),
	}
}

// Acquire counts a new connection from addr, or returns a *[Error] if that
// would exceed a limit. Call release exactly once when the connection
// closes; further calls do nothing. An invalid addr (a Unix socket) counts
// against the global limit only.
func (l *ConnLimiter) Acquire(addr netip.Addr) (release func(), err error) {
	p, ok := network(addr, l.v4, l.v6)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max > 0 && l.total >= l.max {
		return nil, &Error{Scope: Global, Limit: l.max}
	}
	if ok && l.perIP > 0 && l.per[p] >= l.perIP {
		return nil, &Error{Scope: PerNetwork, Limit: l.perIP, Network: p}
	}
	l.total++
	if ok {
		l.per[p]++
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.total--
			if ok {
				if l.per[p] <= 1 {
					delete(l.per, p)
				} else {
					l.per[p]--
				}
			}
		})
	}, nil
}

// Open returns the number of open connections, in total and from addr's
// network.
func (l *ConnLimiter) Open(addr netip.Addr) (total, fromNet int) {
	p, ok := network(addr, l.v4, l.v6)
	l.mu.Lock()
	defer l.mu.Unlock()
	if ok {
		fromNet = l.per[p]
	}
	return l.total, fromNet
}
