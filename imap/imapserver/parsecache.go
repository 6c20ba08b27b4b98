package imapserver

import (
	"sync"
	"sync/atomic"
	"unsafe"
	"weak"

	"github.com/posthorn/posthorn/mime"
)

// The parse cache bounds the memory the messages' ParseCache slots hold.
//
// A slot holds a *parseEntry for the life of its message; the entry holds
// the parse, which the server drops again when the cache is over
// Limits.ParseCacheBytes. Eviction is CLOCK (second chance): a hit only
// sets the entry's referenced bit (an atomic load, and a store when the bit
// was clear), so the warm FETCH path takes no lock; a miss takes the
// cache's mutex to insert and, when over the bound, sweeps the hand over
// the ring, clearing referenced bits and dropping the parse of the first
// entry found unreferenced.
//
// The ring holds weak pointers to the entries, never the messages nor the
// parses: an expunged message (no longer referenced by any mailbox or
// session) is collected with its entry and its parse, and the hand drops
// its dead ring slot (and the bytes counted for it) when it reaches it.

// parseEntry is what a Message's ParseCache slot holds.
type parseEntry struct {
	pm  atomic.Pointer[parsedMsg] // nil when not (or no longer) cached; set under parseClock.mu
	ref atomic.Bool               // CLOCK referenced bit, set on a hit
	// slot is the entry's ring slot while pm is set; guarded by
	// parseClock.mu.
	slot *clockSlot
}

// load returns the cached parse and marks the entry referenced.
func (e *parseEntry) load() *parsedMsg {
	pm := e.pm.Load()
	if pm != nil && !e.ref.Load() {
		// Store only when clear, so that hits on a hot entry from many
		// sessions do not keep writing its cache line.
		e.ref.Store(true)
	}
	return pm
}

// parseClock is the bounded set of cached parses: a circular list of
// slots with a hand; new slots go in just behind the hand, so that each
// gets a whole turn to be used again before it can be evicted.
type parseClock struct {
	max int64 // bytes; > 0

	mu    sync.Mutex
	hand  *clockSlot // nil when empty
	n     int        // slots
	bytes int64      // the sizes of all slots, dead ones included
}

type clockSlot struct {
	prev, next *clockSlot
	e          weak.Pointer[parseEntry]
	size       int64
}

// add caches pm in e and evicts until the cache is within its bound. It
// returns the parse e holds: pm, or what a concurrent miss cached
// meanwhile if that is as complete (a whole parse replaces one of the
// header alone).
func (c *parseClock) add(e *parseEntry, pm *parsedMsg) *parsedMsg {
	size := pm.size()
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur := e.pm.Load(); cur != nil {
		if !cur.headerOnly || pm.headerOnly {
			return cur
		}
		// The whole parse replaces the header's, in its slot.
		e.pm.Store(pm)
		c.bytes += size - e.slot.size
		e.slot.size = size
		c.evict()
		return pm
	}
	e.pm.Store(pm)
	e.ref.Store(false)
	s := &clockSlot{e: weak.Make(e), size: size}
	e.slot = s
	if c.hand == nil {
		s.prev, s.next = s, s
		c.hand = s
	} else {
		s.next, s.prev = c.hand, c.hand.prev
		s.prev.next, s.next.prev = s, s
	}
	c.n++
	c.bytes += size
	c.evict()
	return pm
}

// evict sweeps the hand until the cache is within its bound. Each full
// turn clears every referenced bit, so it ends within two turns.
func (c *parseClock) evict() {
	for c.bytes > c.max && c.hand != nil {
		s := c.hand
		e := s.e.Value()
		if e != nil && e.ref.Load() {
			e.ref.Store(false)
			c.hand = s.next
			continue
		}
		if e != nil {
			e.pm.Store(nil)
			e.slot = nil
		}
		c.bytes -= s.size
		c.n--
		if c.n == 0 {
			c.hand = nil
		} else {
			s.prev.next, s.next.prev = s.next, s.prev
			c.hand = s.next
		}
		*s = clockSlot{}
	}
}

// stats returns the bytes counted and the number of slots.
func (c *parseClock) stats() (bytes int64, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes, c.n
}

// Sizes used to estimate what a parse holds.
const (
	partSize  = int64(unsafe.Sizeof(mime.Part{}))
	fieldSize = int64(unsafe.Sizeof(mime.Field{}))
	// parseOverhead covers the parsedMsg, its imapmsg.Encoded, the entry
	// and the ring slot, and the SORT keys computed on first use.
	parseOverhead = 512
)

// size estimates the bytes pm holds: the encoded replies, and per part
// the Part, its header fields and their raw bytes, and its parameters.
func (pm *parsedMsg) size() int64 {
	n := int64(parseOverhead)
	if pm.enc != nil {
		n += int64(pm.enc.Size())
	}
	var walk func(p *mime.Part, depth int)
	walk = func(p *mime.Part, depth int) {
		if p == nil || depth > 1000 {
			return
		}
		n += partSize
		for _, f := range p.Header.Fields() {
			n += fieldSize + int64(len(f.Raw))
		}
		for k, v := range p.Params {
			n += 48 + int64(len(k)+len(v))
		}
		for k, v := range p.DispositionParams {
			n += 48 + int64(len(k)+len(v))
		}
		n += int64(len(p.Children)) * 8
		for _, c := range p.Children {
			walk(c, depth+1)
		}
		walk(p.Message, depth+1)
	}
	walk(pm.root, 0)
	return n
}
