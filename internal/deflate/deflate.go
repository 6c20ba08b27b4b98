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
//   - Reads inflate with compress/flate into the caller's buffer: memory is
//     fixed (the 32 KiB window and a read buffer) whatever the compression
//     ratio, so a decompression bomb costs the reader CPU, never memory. The
//     limits on what is read (line length, literal size) are the protocol
//     layer's, as without compression.
//   - Deadlines are those of the underlying connection (the methods are
//     passed through). A write error, a timeout included, is final. A read
//     timeout is not, when it strikes between flushes: compress/flate keeps
//     its first error, so Conn remembers the last 32 KiB it inflated and,
//     when the timeout came while the inflater was reading the header of a
//     new block right after a sync flush (the bytes 00 00 ff ff, on a byte
//     boundary, nothing half-decoded), starts a fresh inflater with that
//     history as its dictionary: the next Read goes on as if nothing had
//     happened. Servers rely on this to wake a reader by moving its read
//     deadline (IMAP IDLE). A timeout in the middle of a block, or any
//     other read error, is final.
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
}

// Conn is a net.Conn that compresses what is written to it and decompresses
// what is read from it (RFC 4978). Its methods other than Read, Write, Close
// and Flush are those of the underlying connection.
type Conn struct {
	net.Conn

	src  *trackReader
	fr   io.Reader // compress/flate's inflater, a flate.Resetter
	rerr error     // final read error
	// hist holds the last histSize octets inflated (a ring from hpos once
	// hfull), the dictionary for a restart after a timeout.
	hist  []byte
	hpos  int
	hfull bool

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
	// tr is an io.ByteReader, so flate reads exactly the compressed bytes
	// it needs and adds no buffering of its own.
	tr := &trackReader{br: src, last: syncMarker}
	return &Conn{Conn: c, src: tr, fr: flate.NewReader(tr), bw: bw, fw: fw}, nil
}

// histSize is DEFLATE's window (RFC 1951 §2): the most a back-reference
// can reach.
const histSize = 32 << 10

// syncMarker is the end of a sync flush, LEN 0 and NLEN 0xffff of an
// empty stored block (RFC 1951 §3.2.4), as the last four octets read.
const syncMarker = 0x0000ffff

// Read reads decompressed data. It returns io.EOF when the peer closed the
// connection at a block boundary, and io.ErrUnexpectedEOF when it closed it
// in the middle of a block. A read timeout between two flushed writes of
// the peer can be retried (see the package notes).
func (c *Conn) Read(p []byte) (int, error) {
	if c.rerr != nil {
		return 0, c.rerr
	}
	n, err := c.fr.Read(p)
	c.remember(p[:n])
	if err == nil {
		return n, nil
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && c.src.last == syncMarker {
		// Between blocks: nothing is lost but the inflater's sticky error.
		if rerr := c.fr.(flate.Resetter).Reset(c.src, c.dict()); rerr == nil {
			return n, err
		}
	}
	c.rerr = err
	return n, err
}

// remember keeps the tail of what was inflated, for dict.
func (c *Conn) remember(b []byte) {
	if len(b) == 0 {
		return
	}
	if c.hist == nil {
		c.hist = make([]byte, histSize)
	}
	if len(b) >= histSize {
		copy(c.hist, b[len(b)-histSize:])
		c.hpos, c.hfull = 0, true
		return
	}
	n := copy(c.hist[c.hpos:], b)
	if n < len(b) {
		copy(c.hist, b[n:])
		c.hfull = true
	}
	c.hpos = (c.hpos + len(b)) % histSize
	if c.hpos == 0 {
		c.hfull = true
	}
}

// dict returns the history in order, oldest first.
func (c *Conn) dict() []byte {
	if !c.hfull {
		return c.hist[:c.hpos]
	}
	d := make([]byte, 0, histSize)
	d = append(d, c.hist[c.hpos:]...)
	return append(d, c.hist[:c.hpos]...)
}

// trackReader is the compressed input, remembering the last four octets
// the inflater consumed.
type trackReader struct {
	br   *bufio.Reader
	last uint32
}

func (t *trackReader) ReadByte() (byte, error) {
	b, err := t.br.ReadByte()
	if err == nil {
		t.last = t.last<<8 | uint32(b)
	}
	return b, err
}

func (t *trackReader) Read(p []byte) (int, error) {
	n, err := t.br.Read(p)
	for _, b := range p[max(0, n-4):n] {
		t.last = t.last<<8 | uint32(b)
	}
	return n, err
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
