package dmarc

import (
	"context"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
)

// DefaultCacheSize is the number of discoveries an Evaluator keeps when
// CacheSize is zero.
const DefaultCacheSize = 4096

// cacheKey names a cached tree walk: the policy discovery for an Author
// Domain, or (org set) the Organizational Domain of an identifier.
type cacheKey struct {
	domain string
	org    bool
}

func (e *Evaluator) clock() time.Time {
	if e.now != nil {
		return e.now()
	}
	return time.Now()
}

// caching reports whether results may be cached: the cache is on and the
// resolver reports the TTLs they rest on.
func (e *Evaluator) caching() bool {
	e.init()
	if e.CacheSize < 0 {
		return false
	}
	t, ok := e.Resolver.(dns.ReportsTTL)
	return ok && t.ReportsTTL()
}

// cached returns the unexpired entry for k, or nil.
func (e *Evaluator) cached(k cacheKey) *Discovery {
	if !e.caching() {
		return nil
	}
	e.mu.Lock()
	d, _, ok := e.cache.Get(k, e.clock())
	e.mu.Unlock()
	if !ok {
		return nil
	}
	return d
}

// track returns a context whose DNS answers report their TTLs to the
// tracker, when caching.
func (e *Evaluator) track(ctx context.Context) (context.Context, *dns.TTLTracker) {
	if !e.caching() {
		return ctx, nil
	}
	return dns.WithTTLTracker(ctx)
}

// store keeps d under k for the shortest TTL the tracker saw.
func (e *Evaluator) store(k cacheKey, t *dns.TTLTracker, d *Discovery) {
	if t == nil {
		return
	}
	ttl, ok := t.TTL()
	if !ok || ttl <= 0 {
		return
	}
	size := e.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	now := e.clock()
	c := *d
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cache.Put(k, &c, now.Add(ttl), now, size) // &c is not modified once stored
}
