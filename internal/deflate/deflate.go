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
}

// Conn is a net.Conn that compresses what is written to it and decompresses
// what is read from it (RFC 4978). Its methods other than Read, Write, Close
// and Flush are those of the underlying connection.
type Conn struct {
	net.Conn

	zr *inflater

	wmu    sync.Mutex
	bw     *bufio.Writer
	fw     *flate.Writer
	closed bool
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
	bw := bufio.NewWriterSize(c, 16<<10)
	fw, err := flate.NewWriter(bw, level)
	if err != nil {
		return nil, err
	}
	src := opts.Reader
	if src == nil {
		src = bufio.NewReaderSize(c, 16<<10)
	}
	return &Conn{Conn: c, zr: newInflater(src), bw: bw, fw: fw}, nil
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
	if c.closed {
		return 0, ErrClosed
	}
	n, err := c.fw.Write(p)
	if err != nil {
		return n, err
	}
	if err := c.flushLocked(); err != nil {
		return n, err
	}
	return n, nil
}

// Flush sync-flushes anything written but not yet sent. Write already
// flushes, so Flush is only needed by code that writes through WriteNoFlush.
func (c *Conn) Flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return ErrClosed
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
	if c.closed {
		return 0, ErrClosed
	}
	return c.fw.Write(p)
}

func (c *Conn) flushLocked() error {
	if err := c.fw.Flush(); err != nil {
		return err
	}
	return c.bw.Flush()
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
			_ = c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if c.fw.Close() == nil {
				_ = c.bw.Flush()
			}
		}
		c.wmu.Unlock()
	}
	return c.Conn.Close()
}

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.Conn }
