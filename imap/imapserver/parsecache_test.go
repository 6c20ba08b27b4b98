package imapserver

import (
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/internal/imapmsg"
	"github.com/posthorn/posthorn/mime"
)

const cacheTestMsg = "From: Bob <bob@example.org>\r\nTo: alice@example.org\r\n" +
	"Subject: Hello\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n"

func testParse(t testing.TB) *parsedMsg {
	r := strings.NewReader(cacheTestMsg)
	root, err := mime.Index(r, r.Size(), mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return &parsedMsg{root: root, enc: imapmsg.Encode(r, root)}
}

// The cache stays within its bound, and entries used again between
// misses (the working set) survive a stream of entries used once.
func TestParseClockWorkingSet(t *testing.T) {
	one := testParse(t).size()
	c := &parseClock{max: 100 * one}
	hot := make([]*parseEntry, 50)
	for i := range hot {
		hot[i] = new(parseEntry)
		c.add(hot[i], testParse(t))
	}
	var cold []*parseEntry // kept alive, so that eviction is what drops them
	for i := range 5000 {
		for _, e := range hot {
			if e.load() == nil {
				c.add(e, testParse(t))
			}
		}
		e := new(parseEntry)
		cold = append(cold, e)
		c.add(e, testParse(t))
		if b, _ := c.stats(); b > c.max {
			t.Fatalf("after %d cold entries the cache holds %d bytes, bound %d", i+1, b, c.max)
		}
	}
	misses := 0
	for _, e := range hot {
		if e.load() == nil {
			misses++
		}
	}
	if misses > 0 {
		t.Errorf("%d of %d hot entries evicted by a scan", misses, len(hot))
	}
	held := 0
	for _, e := range cold {
		if e.pm.Load() != nil {
			held++
		}
	}
	if held > 50 {
		t.Errorf("%d cold entries still cached, want at most 50", held)
	}
}

// The ring does not keep an entry (nor its parse) alive: once the
// message holding the entry is gone, the collector frees both, and the
// hand drops the slot and its bytes.
func TestParseClockWeak(t *testing.T) {
	one := testParse(t).size()
	c := &parseClock{max: 10 * one}
	freed := make(chan struct{}, 10)
	for range 10 {
		e := new(parseEntry)
		pm := testParse(t)
		runtime.AddCleanup(pm, func(ch chan struct{}) { ch <- struct{}{} }, freed)
		c.add(e, pm)
	}
	for range 10 {
		runtime.GC()
		if len(freed) == 10 {
			break
		}
	}
	if len(freed) != 10 {
		t.Fatalf("%d of 10 parses freed after their entries were dropped", len(freed))
	}
	// A new entry over the bound makes the hand sweep the dead slots.
	c.max = one
	c.add(new(parseEntry), testParse(t))
	if b, n := c.stats(); n != 1 || b != one {
		t.Errorf("after the sweep: %d slots, %d bytes; want 1, %d", n, b, one)
	}
}

// A whole parse replaces a header-only one in its slot, with its size,
// and a header-only parse never replaces a whole one.
func TestParseClockUpgrade(t *testing.T) {
	whole := testParse(t)
	head := &parsedMsg{root: whole.root, enc: &imapmsg.Encoded{Envelope: whole.enc.Envelope}, headerOnly: true}
	c := &parseClock{max: 1 << 20}
	e := new(parseEntry)
	if got := c.add(e, head); got != head {
		t.Fatal("header-only parse not cached")
	}
	if got := c.add(e, whole); got != whole || e.pm.Load() != whole {
		t.Fatal("whole parse did not replace the header's")
	}
	if got := c.add(e, head); got != whole {
		t.Fatal("header-only parse replaced the whole one")
	}
	if b, n := c.stats(); n != 1 || b != whole.size() {
		t.Errorf("%d slots, %d bytes; want 1, %d", n, b, whole.size())
	}
}

// Concurrent misses and hits on shared entries keep the count right.
func TestParseClockConcurrent(t *testing.T) {
	one := testParse(t).size()
	c := &parseClock{max: 20 * one}
	entries := make([]*parseEntry, 100)
	for i := range entries {
		entries[i] = new(parseEntry)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				e := entries[(i*7+g)%len(entries)]
				if e.load() == nil {
					if c.add(e, testParse(t)) == nil {
						t.Error("add returned nil")
						return
					}
				}
			}
		})
	}
	wg.Wait()
	b, n := c.stats()
	cached := 0
	for _, e := range entries {
		if e.pm.Load() != nil {
			cached++
		}
	}
	if b > c.max || int64(n)*one != b || cached != n {
		t.Errorf("%d bytes in %d slots, %d entries cached; bound %d, %d a parse", b, n, cached, c.max, one)
	}
}

// cacheMsg is a Message with a ParseCache slot, as a store implements it.
type cacheMsg struct {
	data string
	slot atomic.Pointer[parseBox]
}

type parseBox struct{ v any }

func (m *cacheMsg) UID() uint32                { return 1 }
func (m *cacheMsg) Flags() []string            { return nil }
func (m *cacheMsg) InternalDate() time.Time    { return time.Time{} }
func (m *cacheMsg) Size() int64                { return int64(len(m.data)) }
func (m *cacheMsg) ModSeq() uint64             { return 1 }
func (m *cacheMsg) Open() (io.ReaderAt, error) { return strings.NewReader(m.data), nil }
func (m *cacheMsg) LoadParsed() any {
	if b := m.slot.Load(); b != nil {
		return b.v
	}
	return nil
}
func (m *cacheMsg) StoreParsed(v any) { m.slot.Store(&parseBox{v}) }

// BenchmarkParsedHit is the cost the bounded cache adds to every
// structure item of a warm FETCH: the slot's load, the type assertion,
// the entry's parse and its referenced bit (already set), from several
// goroutines at once on the same messages.
func BenchmarkParsedHit(b *testing.B) {
	srv := &Server{Backend: nil}
	srv.init()
	s := &session{srv: srv}
	msgs := make([]*cacheMsg, 1000)
	for i := range msgs {
		msgs[i] = &cacheMsg{data: cacheTestMsg}
		if _, err := s.parsed(msgs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		s := &session{srv: srv}
		i := 0
		for pb.Next() {
			if _, err := s.parsed(msgs[i%len(msgs)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
