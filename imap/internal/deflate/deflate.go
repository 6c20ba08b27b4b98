// Package deflate implements the COMPRESS=DEFLATE layer of IMAP (RFC 4978)
// as a net.Conn wrapper, usable by the IMAP server and client alike (and by
// any other line protocol that wants the same framing).
//
// After "C: c COMPRESS DEFLATE" / "S: c OK", both sides wrap their connection
// with NewConn: everything written is compressed as raw DEFLATE (RFC 1951,
// no zlib or gzip header, RFC 4978 §3: zlib windowBits -8 … -15) and
// everything read is inflated.
//
// # Implementation notes
//
//   - Every Write ends with a sync flush (flate.Writer.Flush: an empty stored
//     block, "00 00 ff ff" on the wire), so the bytes of that Write are on the
//     socket, decodable, when Write returns. Protocol code puts its usual
//     bufio.Writer on top of the Conn: bufio calls Write only when it flushes
//     (at the end of a response) or when its buffer is full, so the peer never
//     waits for data stuck in the compressor — the failure that made mox
//     disable its COMPRESS. The cost is 5 bytes per Write; use a large bufio
//     buffer (e.g. 64 KiB) for big literals.
//   - The compressed output goes through a private bufio.Writer that is
//     flushed after every sync flush, so one Write is usually one syscall.
//   - Reads inflate into a fixed buffer (the 32 KiB window, 16 KiB of
//     output and 4 KiB of input) whatever the compression ratio, so a decompression bomb costs the reader CPU, never memory. The
//     limits on what is read (line length, literal size) are the protocol
//     layer's, as without compression.
//   - Reading uses the package's own inflater (inflate.go), not
//     compress/flate's: that one releases a block's data only after it has
//     read the header of the next block, so a peer flushing with
//     Z_PARTIAL_FLUSH (isync's mbsync) would wait for ever, and its first
//     read error is final. Ours hands out every block as it ends, and
//     decodes in steps that are undone when input runs short, so a read
//     timeout is never final: servers wake a reader by moving its read
//     deadline (IMAP IDLE) and then read on.
//   - Parking (Park, Options.ParkAfter): compress/flate's compressor is
//     about 1.2 MiB (hash tables of 640 KiB and its window, allocated at
//     every level), too much to keep per idle connection. Because every
//     Write ends with a sync flush, the stream is then at a block boundary,
//     byte aligned, and the only state the peer's decompressor carries into
//     the next block is its window, the last 32 KiB of plaintext (RFC 1951
//     §2). So an idle Conn can hand its compressor (and its 16 KiB output
//     buffer) to a WriterPool and keep just those 32 KiB in a ring; the next
//     Write takes a compressor from the pool, Resets it (raw DEFLATE has no
//     header, so a Reset compressor writes nothing but new blocks) and
//     primes it by compressing the history into io.Discard, after which its
//     matches may reach back into octets the peer has in its window. The
//     peer sees one continuous stream. flate.NewWriterDict is not used: it
//     allocates a new compressor (Writer.Reset keeps the dictionary given at
//     creation, there is no ResetDict), and it ignores the dictionary at
//     BestSpeed, the default level. Priming costs compressing 32 KiB once
//     per idle period, which is why parking is for idle connections (after
//     ParkAfter, or by an explicit Park), not after every Write. A parked
//     Conn holds about 110 KiB: the inflater (32 KiB window, 16 KiB
//     output, 4 KiB input), the history ring and the input reader.
//   - Deadlines are those of the underlying connection (the methods are
//     passed through). A write error, a timeout included, is final.
//   - Close writes what is pending and the final DEFLATE block (bounded by a
//     5-second write deadline, never waiting behind a blocked Write) and
//     closes the underlying connection. It is safe to call more than once.
//   - Reads and writes may run concurrently (one reader, one writer), as on a
//     net.Conn; concurrent Writes are serialised.
package deflate

import (
	"bufio"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Options configures a Conn. The zero value is ready to use.
type Options struct {
	// Level is the compress/flate level of the sending side, from
	// flate.HuffmanOnly (-2) to flate.BestCompression (9). The zero value
	// means flate.BestSpeed (1): RFC 4978 §4 notes that responses compress to
	// 25-40% at zlib's cheapest level already, and IMAP servers are CPU
	// bound long before they are bandwidth bound.
	Level int

	// Reader, if not nil, is the buffered reader the protocol code used on
	// the connection before COMPRESS. Compressed input is read through it,
	// so bytes it has already buffered are not lost. When nil, a new
	// buffered reader on the connection is used.
	Reader *bufio.Reader

	// Pool, if not nil, is where the Conn takes its compressor from and
	// where Park and Close return it. Share one Pool between the
	// connections of a server. When nil, Park drops the compressor and the
	// next Write allocates a new one (about 1.2 MiB).
	Pool *WriterPool

	// ParkAfter, if positive, parks the Conn (see Park) once nothing has
	// been written to it for that long.
	ParkAfter time.Duration
}

// Conn is a net.Conn that compresses what is written to it and decompresses
// what is read from it (RFC 4978). Its methods other than Read, Write, Close
// and Flush are those of the underlying connection.
type Conn struct {
	net.Conn

	zr *inflater

	wmu       sync.Mutex
	level     int
	pool      *WriterPool
	w         *writer // nil while parked
	hist      history
	dirty     bool  // WriteNoFlush left data in the compressor
	werr      error // the first write error; final
	parkAfter time.Duration
	timer     *time.Timer
	closed    bool
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("deflate: connection closed")

// NewConn wraps c for COMPRESS=DEFLATE. It returns an error only for an
// invalid Options.Level.
func NewConn(c net.Conn, opts Options) (*Conn, error) {
	level := opts.Level
	if level == 0 {
		level = flate.BestSpeed
	}
	if level < flate.HuffmanOnly || level > flate.BestCompression {
		return nil, fmt.Errorf("deflate: invalid compression level %d", level)
	}
	src := opts.Reader
	if src == nil {
		src = bufio.NewReaderSize(c, 16<<10)
	}
	zc := &Conn{Conn: c, zr: newInflater(src), level: level, pool: opts.Pool, parkAfter: opts.ParkAfter}
	// Levels that find matches need the history to start again after
	// Park; NoCompression and HuffmanOnly never look back.
	zc.hist.keep = level > flate.NoCompression || level == flate.DefaultCompression
	if err := zc.unparkLocked(); err != nil {
		return nil, err
	}
	return zc, nil
}

// Read reads decompressed data: the output of every DEFLATE block the peer
// completed, as soon as it is complete. It returns io.EOF when the peer
// closed the connection at a block boundary, io.ErrUnexpectedEOF when it
// closed it in the middle of a block, and a *CorruptInputError for an
// invalid stream. A read timeout loses nothing: after moving the deadline,
// Read goes on where it stopped.
func (c *Conn) Read(p []byte) (int, error) {
	return c.zr.Read(p)
}

// Write compresses p and sync-flushes it to the connection, so that the peer
// can decompress all of p without waiting for more data.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	n, err := c.writeLocked(p)
	if err != nil {
		return n, err
	}
	return n, c.flushLocked()
}

// Flush sync-flushes anything written but not yet sent. Write already
// flushes, so Flush is only needed by code that writes through WriteNoFlush.
func (c *Conn) Flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.werr != nil {
		return c.werr
	}
	if c.w == nil {
		return nil // parked: nothing is pending
	}
	return c.flushLocked()
}

// WriteNoFlush compresses p without flushing: the bytes may stay in the
// compressor until the next Write or Flush. Use it for a large literal
// written in pieces, followed by Flush (or a Write of the rest of the
// response).
func (c *Conn) WriteNoFlush(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	n, err := c.writeLocked(p)
	if err == nil && n > 0 {
		c.dirty = true
	}
	return n, err
}

func (c *Conn) writeLocked(p []byte) (int, error) {
	if c.closed {
		return 0, ErrClosed
	}
	if c.werr != nil {
		return 0, c.werr
	}
	if err := c.unparkLocked(); err != nil {
		return 0, err
	}
	n, err := c.w.fw.Write(p)
	c.hist.add(p[:n])
	if err != nil {
		c.werr = err
	}
	return n, err
}

func (c *Conn) flushLocked() error {
	if err := c.w.fw.Flush(); err != nil {
		c.werr = err
		return err
	}
	if err := c.w.bw.Flush(); err != nil {
		c.werr = err
		return err
	}
	c.dirty = false
	if c.parkAfter > 0 {
		if c.timer == nil {
			c.timer = time.AfterFunc(c.parkAfter, c.Park)
		} else {
			c.timer.Reset(c.parkAfter)
		}
	}
	return nil
}

// Park releases the compressor (and its output buffer) of an idle Conn to
// the Pool, keeping only the last 32 KiB of plaintext written; the next
// Write takes a compressor back and primes it with those octets. The peer
// sees one continuous DEFLATE stream (see the package notes). Park does
// nothing while data written by WriteNoFlush is pending, while a Write is
// in progress (the Conn is not idle, and Park never waits behind a Write
// blocked on a slow peer), after a write error or after Close. It may be
// called at any time, concurrently with Read.
func (c *Conn) Park() {
	if !c.wmu.TryLock() {
		return
	}
	defer c.wmu.Unlock()
	if c.closed || c.w == nil || c.dirty || c.werr != nil {
		return
	}
	c.releaseLocked()
}

func (c *Conn) releaseLocked() {
	c.w.bw.Reset(nil)
	if c.pool != nil {
		c.pool.put(c.level, c.w)
	}
	c.w = nil
}

// unparkLocked takes a compressor if the Conn has none. Every Write ended
// with a sync flush, so the stream is at a block boundary, byte aligned:
// a new compressor may simply go on with a new block. Its matches may
// reach back only into what it has seen itself, so it first compresses
// the kept history into the void; the peer holds the same octets in its
// window (RFC 1951 §2: distances up to 32 KiB across blocks).
func (c *Conn) unparkLocked() error {
	if c.w != nil {
		return nil
	}
	w, err := c.pool.get(c.level)
	if err != nil {
		return err
	}
	if c.hist.n > 0 {
		w.bw.Reset(io.Discard)
		w.fw.Reset(w.bw)
		a, b := c.hist.parts()
		w.fw.Write(a)
		w.fw.Write(b)
		w.fw.Flush()
		w.bw.Flush()
	}
	w.bw.Reset(c.Conn)
	if c.hist.n == 0 {
		w.fw.Reset(w.bw)
	}
	c.w = w
	return nil
}

// Close ends the compressed stream and closes the underlying connection,
// returning the error of the latter. Like tls.Conn.Close, it first sends what
// is pending and a final DEFLATE block, with a write deadline of 5 seconds so
// that a peer that stopped reading cannot hold it; if a Write is blocked at
// that moment, Close does not wait for it and only closes the connection
// (which makes the Write fail). Close may be called more than once.
func (c *Conn) Close() error {
	if c.wmu.TryLock() {
		if !c.closed {
			c.closed = true
			if c.timer != nil {
				c.timer.Stop()
			}
			if c.werr == nil {
				_ = c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
				if c.w == nil {
					// Parked, so at a block boundary: an empty final
					// stored block (RFC 1951 §3.2.4) ends the stream.
					_, _ = c.Conn.Write(finalBlock)
				} else {
					if c.w.fw.Close() == nil {
						_ = c.w.bw.Flush()
					}
					c.releaseLocked()
				}
			}
			c.hist.buf = nil
		}
		c.wmu.Unlock()
	}
	return c.Conn.Close()
}

// finalBlock is BFINAL=1, BTYPE=00, LEN=0, NLEN=0xffff.
var finalBlock = []byte{0x01, 0x00, 0x00, 0xff, 0xff}

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.Conn }
