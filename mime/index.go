package mime

import (
	"bufio"
	"io"
)

// Index computes the part tree of the message in r (size bytes) with the
// byte offsets of every header and body, for serving IMAP FETCH
// (BODYSTRUCTURE, BODY[section], BINARY[section], partial ranges) without
// re-parsing or holding the message in memory (RFC 9051 §6.4.5, §7.5.2).
//
// It reads the message once, through a bounded buffer; memory use depends
// on the number of parts and the size of their headers, not on the size
// of the bodies. The tree and its Defects are the ones Reader reports.
// Use Part.Lookup to find a section; the root's Header is the message
// header.
//
// On a *LimitError for MaxParts, or a read error, Index returns the tree
// built so far together with the error; parts still open then end where
// the walk stopped.
func Index(r io.ReaderAt, size int64, lim Limits) (*Part, error) {
	bufSize := 64 << 10
	if size < int64(bufSize) {
		bufSize = int(size) + 16
	}
	var w walker
	w.init(bufio.NewReaderSize(io.NewSectionReader(r, 0, size), bufSize), lim, true, true)
	return w.index()
}

// An Indexer computes part trees as Index does, keeping its read buffer
// (64 KiB) and header scratch space from one message to the next, so that
// indexing many messages allocates only their trees, whatever their size.
// The zero value is ready to use. An Indexer is not safe for concurrent
// use; keep one per goroutine or in a sync.Pool.
type Indexer struct {
	sr  chunkReader
	br  *bufio.Reader
	hdr []byte
	hbr *bufio.Reader
}

// Index is Index with the Indexer's buffers.
func (ix *Indexer) Index(r io.ReaderAt, size int64, lim Limits) (*Part, error) {
	return ix.run(r, size, lim, 0, (*walker).index)
}

// IndexHeader reads only the message header: it returns the root Part
// with its Header, content type fields and BodyOffset, without Children,
// Message, BodyLines and EndOffset (0), reading no further than the
// header (and at most the read buffer, 64 KiB, beyond it). Enough for an
// IMAP ENVELOPE (RFC 9051 §7.5.2), which the header alone determines.
func (ix *Indexer) IndexHeader(r io.ReaderAt, size int64, lim Limits) (*Part, error) {
	// Reads of 4 KiB, which most headers fit in, rather than 64 KiB.
	return ix.run(r, size, lim, 4<<10, func(w *walker) (*Part, error) {
		p, err := w.next()
		if err == io.EOF {
			err = nil
		}
		return p, err
	})
}

// run walks the message in r with walk over the Indexer's buffers,
// reading at most chunk bytes at a time when chunk > 0.
func (ix *Indexer) run(r io.ReaderAt, size int64, lim Limits, chunk int, walk func(*walker) (*Part, error)) (*Part, error) {
	ix.sr = chunkReader{r: r, size: size, chunk: chunk}
	if ix.br == nil {
		ix.br = bufio.NewReaderSize(&ix.sr, 64<<10)
	} else {
		ix.br.Reset(&ix.sr)
	}
	var w walker
	w.init(ix.br, lim, true, true)
	w.hdr, w.hbr = ix.hdr[:0], ix.hbr
	root, err := walk(&w)
	// Keep the scratch space unless one odd header grew it past 64 KiB.
	if cap(w.hdr) <= 64<<10 {
		ix.hdr = w.hdr[:0]
	}
	// Keep no reference to the message nor to the walker (and its tree).
	if ix.hbr = w.hbr; ix.hbr != nil {
		ix.hbr.Reset(nil)
	}
	ix.sr = chunkReader{}
	ix.br.Reset(nil)
	return root, err
}

// index walks the whole message.
func (w *walker) index() (*Part, error) {
	for {
		_, err := w.next()
		if err == io.EOF {
			return w.root, nil
		}
		if err != nil {
			// Parts left open end where the walk stopped.
			for _, c := range w.stack {
				c.part.EndOffset = max(w.off, c.part.BodyOffset)
			}
			if w.cur != nil {
				w.cur.EndOffset = max(w.off, w.cur.BodyOffset)
			}
			return w.root, err
		}
	}
}

// chunkReader reads r from 0 to size, at most chunk bytes (if > 0) a Read.
type chunkReader struct {
	r         io.ReaderAt
	off, size int64
	chunk     int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.off >= c.size {
		return 0, io.EOF
	}
	if c.chunk > 0 && len(p) > c.chunk {
		p = p[:c.chunk]
	}
	if rem := c.size - c.off; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := c.r.ReadAt(p, c.off)
	c.off += int64(n)
	if err == io.EOF && n > 0 {
		// The next Read reports it (io.Reader contract allows either).
		err = nil
	}
	if err == nil && n < len(p) {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}
