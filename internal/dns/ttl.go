package dns

import (
	"context"
	"time"
)

// TTLTracker records the shortest time to live among the answers a
// Client gives through one context (see WithTTLTracker), so that a result
// computed from them (an SPF outcome, a DMARC policy discovery) can be
// cached no longer than the DNS data it rests on. It is not safe for
// concurrent use: one tracker follows one sequential evaluation.
type TTLTracker struct {
	min     time.Duration
	answers int
}

type ttlKey struct{}

// WithTTLTracker returns a context under which every answer of a Client
// (from its cache or the network, positive or negative) reports its
// remaining TTL to the returned tracker. A failed lookup reports zero.
func WithTTLTracker(parent context.Context) (context.Context, *TTLTracker) {
	t := &TTLTracker{}
	return context.WithValue(parent, ttlKey{}, t), t
}

// TTL is the shortest remaining TTL observed, and whether any answer was
// observed at all.
func (t *TTLTracker) TTL() (time.Duration, bool) {
	return t.min, t.answers > 0
}

func (t *TTLTracker) observe(ttl time.Duration) {
	if t.answers == 0 || ttl < t.min {
		t.min = max(ttl, 0)
	}
	t.answers++
}

// observeTTL reports ttl to the context's tracker, if any.
func observeTTL(ctx context.Context, ttl time.Duration) {
	if t, ok := ctx.Value(ttlKey{}).(*TTLTracker); ok {
		t.observe(ttl)
	}
}

// ReportsTTL is implemented by resolvers that report TTLs to a
// TTLTracker (*Client does); a cache built on a tracker must not trust a
// resolver without it, whose answers the tracker never sees.
type ReportsTTL interface {
	ReportsTTL() bool
}

// ReportsTTL reports whether the client reports TTLs to trackers: true
// unless its cache is disabled (then every answer counts as TTL zero
// anyway).
func (c *Client) ReportsTTL() bool { return c.CacheSize >= 0 }
