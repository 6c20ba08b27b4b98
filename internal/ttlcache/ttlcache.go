// Package ttlcache is a bounded map of values that expire, for the caches
// of DNS answers and of the SPF and DMARC results built on them.
//
// A Cache does no locking of its own: its users already hold a mutex
// around it (the DNS client guards its in-flight table with the same one).
package ttlcache

import "time"

// Cache maps keys to values until their expiry, holding at most the size
// given to Put. The zero value is an empty cache ready to use.
type Cache[K comparable, V any] struct {
	m map[K]entry[V]
}

type entry[V any] struct {
	v       V
	expires time.Time
}

// Get returns the value under k and its expiry time if it has not
// expired at now.
func (c *Cache[K, V]) Get(k K, now time.Time) (v V, expires time.Time, ok bool) {
	e, found := c.m[k]
	if !found || !now.Before(e.expires) {
		return v, time.Time{}, false
	}
	return e.v, e.expires, true
}

// Put stores v under k until expires. When the cache holds size entries
// or more, it first drops the expired ones and then, if that was not
// enough, arbitrary ones (map order) down to seven eighths of size, so
// that a full cache of live entries pays for one scan per size/8 new
// keys rather than one per key. size < 1 is taken as 1.
func (c *Cache[K, V]) Put(k K, v V, expires, now time.Time, size int) {
	size = max(size, 1)
	if c.m == nil {
		c.m = make(map[K]entry[V])
	}
	if _, replace := c.m[k]; !replace && len(c.m) >= size {
		for key, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, key)
			}
		}
		keep := size - max(size/8, 1)
		for key := range c.m {
			if len(c.m) <= keep {
				break
			}
			delete(c.m, key)
		}
	}
	c.m[k] = entry[V]{v: v, expires: expires}
}

// Len returns the number of entries, expired ones included until a Put
// drops them.
func (c *Cache[K, V]) Len() int { return len(c.m) }
