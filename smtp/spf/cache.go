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

type cachedOutcome struct {
	o       Outcome // Helo and Sender are the first message's
	expires time.Time
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
	e, ok := c.cache[key]
	c.mu.Unlock()
	if !ok || !c.now().Before(e.expires) {
		return nil
	}
	o := new(Outcome)
	*o = e.o
	o.Sender, o.Helo = sender, helo
	return o
}

// store keeps o for ttl, evicting expired entries (or, if none, arbitrary
// ones) when the cache is full.
func (c *Checker) store(key outcomeKey, o *Outcome, ttl time.Duration) {
	size := c.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cache == nil {
		c.cache = make(map[outcomeKey]cachedOutcome)
	}
	if len(c.cache) >= size {
		for k, e := range c.cache {
			if !now.Before(e.expires) {
				delete(c.cache, k)
			}
		}
		for k := range c.cache {
			if len(c.cache) < size {
				break
			}
			delete(c.cache, k)
		}
	}
	c.cache[key] = cachedOutcome{o: *o, expires: now.Add(ttl)}
}
