package deflate

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testpeer"
)

// captureConn records what is written to it and has no input.
type captureConn struct {
	net.Conn
	mu  sync.Mutex
	out bytes.Buffer
}

func (c *captureConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}
func (c *captureConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (c *captureConn) Close() error                     { return nil }
func (c *captureConn) SetWriteDeadline(time.Time) error { return nil }

func (c *captureConn) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.out.Bytes())
}

// parkedStream writes random parts through a Conn at level, parking at
// random points (and with WriteNoFlush pieces, where Park must wait for the
// Flush), and returns the plaintext and the compressed stream.
func parkedStream(t testing.TB, r *rand.Rand, level int, pool *WriterPool, ops int) (plain, stream []byte) {
	t.Helper()
	cc := &captureConn{}
	c, err := NewConn(cc, Options{Level: level, Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	for range ops {
		var p []byte
		switch r.IntN(4) {
		case 0: // a repeat of earlier data, so matches reach into history
			if h := want.Bytes(); len(h) > 0 {
				start := r.IntN(len(h))
				p = bytes.Clone(h[start:min(len(h), start+1+r.IntN(3000))])
				break
			}
			fallthrough
		case 1:
			p = payload(1+r.IntN(200), r.Uint64())
		case 2:
			p = payload(1+r.IntN(40000), r.Uint64())
		case 3:
			p = fmt.Appendf(nil, "* %d FETCH (FLAGS (\\Seen))\r\n", r.IntN(1000))
		}
		want.Write(p)
		switch r.IntN(5) {
		case 0:
			if _, err := c.WriteNoFlush(p); err != nil {
				t.Fatal(err)
			}
			c.Park() // must not park with data pending
			if r.IntN(2) == 0 {
				if err := c.Flush(); err != nil {
					t.Fatal(err)
				}
			}
		default:
			if _, err := c.Write(p); err != nil {
				t.Fatal(err)
			}
		}
		if r.IntN(3) == 0 {
			c.Park()
			c.Park()                          // twice is harmless
			if err := c.Flush(); err != nil { // parked: nothing to do
				t.Fatal(err)
			}
		}
	}
	if r.IntN(2) == 0 {
		c.Park()
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return want.Bytes(), cc.bytes()
}

func flateDecode(t testing.TB, stream []byte) []byte {
	t.Helper()
	got, err := io.ReadAll(flate.NewReader(bytes.NewReader(stream)))
	if err != nil {
		t.Fatalf("compress/flate: %v", err)
	}
	return got
}

func ownDecode(t testing.TB, stream []byte) []byte {
	t.Helper()
	got, err := io.ReadAll(newInflater(&chunkReader{data: stream, sizes: []int{1, 7, 300, 4096}}))
	if err != nil {
		t.Fatalf("inflater: %v", err)
	}
	return got
}

var parkLevels = []int{flate.HuffmanOnly, flate.DefaultCompression, flate.BestSpeed, 2, 6, flate.BestCompression}

// A stream written across parks is one valid raw DEFLATE stream with the
// same plaintext, for compress/flate's reader and for ours, at every level,
// with and without a pool (and with the pool shared between levels' Conns).
func TestParkedStreamDecodes(t *testing.T) {
	pool := &WriterPool{}
	for _, level := range parkLevels {
		for i, p := range []*WriterPool{nil, pool} {
			t.Run(fmt.Sprintf("level%d/pool%d", level, i), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(level+10), uint64(i)))
				for range 3 {
					plain, stream := parkedStream(t, r, level, p, 40)
					if got := flateDecode(t, stream); !bytes.Equal(got, plain) {
						t.Fatalf("compress/flate: %d octets differ from %d written", len(got), len(plain))
					}
					if got := ownDecode(t, stream); !bytes.Equal(got, plain) {
						t.Fatalf("inflater: %d octets differ from %d written", len(got), len(plain))
					}
				}
			})
		}
	}
}

// The compressor taken after Park is primed with the history: a repeat of
// what was written before the park compresses to a few octets, so matches
// do reach back across the park (at BestSpeed too, where
// flate.NewWriterDict would ignore a dictionary).
func TestParkKeepsHistory(t *testing.T) {
	text := payload(8000, 7)
	for _, level := range []int{flate.BestSpeed, 6, flate.BestCompression} {
		cc := &captureConn{}
		// No pool: the compressor after Park is a new one.
		c, err := NewConn(cc, Options{Level: level})
		if err != nil {
			t.Fatal(err)
		}
		c.Write(text)
		c.Park()
		if c.w != nil {
			t.Fatalf("level %d: not parked", level)
		}
		first := len(cc.bytes())
		c.Write(text)
		// Without the history the repeat would cost what the first copy
		// did (about 4.6 KiB); with it, a few hundred octets at most.
		if n := len(cc.bytes()) - first; n > first/8 {
			t.Errorf("level %d: a repeat after Park took %d octets, the first copy %d; history lost?", level, n, first)
		}
		c.Close()
		if got := flateDecode(t, cc.bytes()); !bytes.Equal(got, append(bytes.Clone(text), text...)) {
			t.Fatalf("level %d: stream does not decode", level)
		}
	}
}

// ParkAfter parks a Conn that has been idle that long, and a Write after
// it works.
func TestParkAfter(t *testing.T) {
	cc := &captureConn{}
	c, err := NewConn(cc, Options{Pool: &WriterPool{}, ParkAfter: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("* OK one\r\n"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.wmu.Lock()
		parked := c.w == nil
		c.wmu.Unlock()
		if parked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not parked after ParkAfter")
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.Write([]byte("* OK two\r\n"))
	c.Close()
	c.Park() // after Close: nothing
	if got := string(flateDecode(t, cc.bytes())); got != "* OK one\r\n* OK two\r\n" {
		t.Fatalf("got %q", got)
	}
}

// zlib (decompressobj(wbits=-15), as RFC 4978 §3 prescribes for the peer)
// decodes a stream written across parks at every level.
func TestParkedStreamPythonZlib(t *testing.T) {
	testpeer.Python(t)
	dir := t.TempDir()
	var want []string
	r := rand.New(rand.NewPCG(99, 1))
	pool := &WriterPool{}
	for i, level := range parkLevels {
		plain, stream := parkedStream(t, r, level, pool, 30)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.z", i)), stream, 0o600); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("%d %x", len(plain), sha256sum(plain)))
	}
	out := testpeer.RunPython(t, `
import os, zlib, hashlib
d = os.environ["DIR"]
for i in range(int(os.environ["N"])):
    z = zlib.decompressobj(-15)
    data = open(os.path.join(d, "%d.z" % i), "rb").read()
    # Feed it in pieces, as from a socket.
    out = b"".join(z.decompress(data[j:j+1000]) for j in range(0, len(data), 1000))
    assert z.eof, "no final block"
    print(len(out), hashlib.sha256(out).hexdigest())
`, "DIR="+dir, fmt.Sprintf("N=%d", len(parkLevels)))
	if got := strings.TrimSpace(string(out)); got != strings.Join(want, "\n") {
		t.Fatalf("python zlib:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// FuzzPark interleaves writes, unflushed writes, flushes and parks as the
// input says; the stream must decode to what was written.
func FuzzPark(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7}, uint8(1))
	f.Add([]byte{3, 3, 3, 0xff, 0x10, 3, 0x80}, uint8(6))
	f.Add(bytes.Repeat([]byte{0x41, 0x83, 0x02}, 50), uint8(9))
	f.Fuzz(func(t *testing.T, ops []byte, lvl uint8) {
		if len(ops) > 256 {
			ops = ops[:256] // bounded: each op may prime 32 KiB at level 9
		}
		level := int(lvl%12) - 2
		if level == 0 {
			level = flate.NoCompression
		}
		cc := &captureConn{}
		c, err := NewConn(cc, Options{Level: level, Pool: &WriterPool{}})
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		for i, op := range ops {
			p := payload(int(op>>2)*97+1, uint64(i))
			switch op & 3 {
			case 0:
				c.Write(p)
				want.Write(p)
			case 1:
				c.WriteNoFlush(p)
				want.Write(p)
			case 2:
				c.Flush()
			case 3:
				c.Park()
			}
		}
		c.Close()
		if got := flateDecode(t, cc.bytes()); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("decoded %d octets, wrote %d", len(got), want.Len())
		}
	})
}

// heapPerConn returns the live heap per Conn of n Conns at level after
// each wrote a response, parked or not.
func heapPerConn(t testing.TB, n int, park bool) float64 {
	pool := &WriterPool{}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	conns := make([]*Conn, n)
	for i := range conns {
		c, err := NewConn(&captureConn{}, Options{Pool: pool})
		if err != nil {
			t.Fatal(err)
		}
		c.Write(payload(2000, uint64(i)))
		if park {
			c.Park()
		}
		conns[i] = c
	}
	// The pool holds parked compressors until two GCs have passed: they
	// are the pool's to drop, not the connections'.
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	per := float64(int64(ms.HeapAlloc)-int64(before)) / float64(n)
	runtime.KeepAlive(conns)
	return per
}

// An idle parked Conn holds its inflater, its history and its input buffer
// (about 90 KiB, most of it the inflater's window and the default 16 KiB
// read buffer), not the compressor's 1.2 MiB.
func TestParkedConnMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates ~100 MiB")
	}
	const n = 64
	active := heapPerConn(t, n, false)
	parked := heapPerConn(t, n, true)
	t.Logf("heap per Conn: active %.0f KiB, parked %.0f KiB", active/1024, parked/1024)
	if parked > 160<<10 {
		t.Errorf("parked Conn holds %.0f KiB", parked/1024)
	}
	if active < 1<<20 {
		t.Logf("active Conn holds less than 1 MiB (%.0f KiB): compress/flate changed?", active/1024)
	}
}

// BenchmarkParkedConnMemory reports the heap an idle Conn holds, parked
// and not.
func BenchmarkParkedConnMemory(b *testing.B) {
	for _, park := range []bool{false, true} {
		b.Run(fmt.Sprintf("park=%v", park), func(b *testing.B) {
			var per float64
			for range b.N {
				per = heapPerConn(b, 64, park)
			}
			b.ReportMetric(per/1024, "KiB/conn")
		})
	}
}

// BenchmarkParkUnpark is the cost of one idle period: Park, then a small
// response that takes a pooled compressor back and primes it with 32 KiB
// of history.
func BenchmarkParkUnpark(b *testing.B) {
	for _, level := range []int{flate.BestSpeed, 6} {
		b.Run(fmt.Sprintf("level%d", level), func(b *testing.B) {
			c, err := NewConn(fakeConn{}, Options{Level: level, Pool: &WriterPool{}})
			if err != nil {
				b.Fatal(err)
			}
			c.Write(payload(64<<10, 1))
			resp := []byte("* 3 EXISTS\r\n")
			b.ReportAllocs()
			b.SetBytes(int64(len(resp)))
			for b.Loop() {
				c.Park()
				c.Write(resp)
			}
		})
	}
}

func sha256sum(p []byte) []byte {
	s := sha256.Sum256(p)
	return s[:]
}

// Two Conns sharing a pool take each other's compressors after parking; a
// compressor must start clean for its new Conn.
func TestParkSwapsPooledCompressors(t *testing.T) {
	pool := &WriterPool{}
	var cs [2]*Conn
	var ccs [2]*captureConn
	var want [2]bytes.Buffer
	for i := range cs {
		ccs[i] = &captureConn{}
		c, err := NewConn(ccs[i], Options{Level: 6, Pool: pool})
		if err != nil {
			t.Fatal(err)
		}
		cs[i] = c
	}
	for round := range 40 {
		i := round % 2
		p := payload(3000, uint64(round))
		cs[i].Write(p)
		want[i].Write(p)
		cs[i].Park()
	}
	for i := range cs {
		cs[i].Close()
		if got := flateDecode(t, ccs[i].bytes()); !bytes.Equal(got, want[i].Bytes()) {
			t.Fatalf("conn %d: stream does not decode to what was written", i)
		}
	}
}

// Park never waits behind a Write blocked on a peer that does not read
// (net.Pipe has no buffer): the ParkAfter timer must not pile up.
func TestParkDoesNotWaitForBlockedWrite(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	c, err := NewConn(a, Options{Pool: &WriterPool{}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	started := make(chan struct{})
	wrote := make(chan error, 1)
	go func() {
		close(started)
		_, err := c.Write([]byte("* OK blocked\r\n"))
		wrote <- err
	}()
	<-started
	time.Sleep(50 * time.Millisecond) // the Write is blocked in the pipe
	done := make(chan struct{})
	go func() { c.Park(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Park waited for a blocked Write")
	}
	go io.Copy(io.Discard, b)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
}
