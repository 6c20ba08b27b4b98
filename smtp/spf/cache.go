package spf

import (
	"net/netip"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
)

// outcomeKey identifies a cached outcome: the same client asking for the
// same domain gets the same result while the DNS data stands.
type outcomeKey struct {
	ip     netip.Addr
	domain string
}

func reportsTTL(r Resolver) bool {
	t, ok := r.(dns.ReportsTTL)
	return ok && t.ReportsTTL()
}

func (c *Checker) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// cached returns a copy of the cached outcome for key with this
// message's sender and HELO name, or nil.
func (c *Checker) cached(key outcomeKey, sender, helo string) *Outcome {
	c.mu.Lock()
	cached, _, ok := c.cache.Get(key, c.now())
	c.mu.Unlock()
	if !ok {
		return nil
	}
	o := new(Outcome)
	*o = cached
	o.Sender, o.Helo = sender, helo
	return o
}

// store keeps o for ttl (its Helo and Sender are the first message's;
// cached replaces them), evicting as ttlcache does when the cache is full.
func (c *Checker) store(key outcomeKey, o *Outcome, ttl time.Duration) {
	size := c.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cache.Put(key, *o, now.Add(ttl), now, size)
}
