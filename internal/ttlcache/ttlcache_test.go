package ttlcache

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)

func TestGetExpiry(t *testing.T) {
	var c Cache[string, int]
	c.Put("a", 1, t0.Add(time.Minute), t0, 10)
	if v, exp, ok := c.Get("a", t0.Add(59*time.Second)); !ok || v != 1 || !exp.Equal(t0.Add(time.Minute)) {
		t.Fatalf("before expiry: %v %v %v", v, exp, ok)
	}
	if _, _, ok := c.Get("a", t0.Add(time.Minute)); ok {
		t.Fatal("an entry is gone at its expiry time")
	}
	if _, _, ok := c.Get("b", t0); ok {
		t.Fatal("missing key found")
	}
}

func TestBound(t *testing.T) {
	var c Cache[int, int]
	const size = 64
	// Expired entries go first: the live ones stay.
	for i := range size / 2 {
		c.Put(i, i, t0.Add(time.Second), t0, size)
	}
	for i := size / 2; i < size; i++ {
		c.Put(i, i, t0.Add(time.Hour), t0, size)
	}
	now := t0.Add(time.Minute)
	c.Put(1000, 1000, now.Add(time.Hour), now, size)
	if c.Len() != size/2+1 {
		t.Fatalf("Len = %d after the expired half was dropped, want %d", c.Len(), size/2+1)
	}
	for i := size / 2; i < size; i++ {
		if _, _, ok := c.Get(i, now); !ok {
			t.Fatalf("live entry %d dropped while expired ones were there", i)
		}
	}
	// All live: never more than size, and a full cache makes room for
	// size/8 keys at once.
	for i := 2000; i < 2000+10*size; i++ {
		c.Put(i, i, now.Add(time.Hour), now, size)
		if c.Len() > size {
			t.Fatalf("Len = %d > %d", c.Len(), size)
		}
	}
	c2 := Cache[int, int]{}
	for i := range size {
		c2.Put(i, i, now.Add(time.Hour), now, size)
	}
	c2.Put(-1, -1, now.Add(time.Hour), now, size)
	if want := size - size/8 + 1; c2.Len() != want {
		t.Fatalf("Len = %d after the first eviction, want %d", c2.Len(), want)
	}
	// Replacing a key of a full cache evicts nothing.
	n := c2.Len()
	for c2.Len() < size {
		c2.Put(10000+c2.Len(), 0, now.Add(time.Hour), now, size)
	}
	c2.Put(-1, -2, now.Add(time.Hour), now, size)
	if v, _, _ := c2.Get(-1, now); c2.Len() != size || v != -2 {
		t.Fatalf("replacing in a full cache: Len %d (from %d), value %d", c2.Len(), n, v)
	}
}

// BenchmarkPutFull: new keys into a cache full of live entries.
func BenchmarkPutFull(b *testing.B) {
	b.ReportAllocs()
	const size = 10000
	var c Cache[int, int]
	exp := t0.Add(time.Hour)
	for i := range size {
		c.Put(i, i, exp, t0, size)
	}
	b.ResetTimer()
	for i := range b.N {
		c.Put(size+i, i, exp, t0, size)
	}
}
