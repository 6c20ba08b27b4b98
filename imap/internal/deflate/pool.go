package deflate

import (
	"bufio"
	"compress/flate"
	"sync"
)

// WriterPool holds the compressors of parked and closed Conns for reuse, one
// pool per level: a compress/flate Writer is about 1.2 MiB (its hash
// tables and window), too much to allocate per idle period. The zero value
// is ready to use; a WriterPool must not be copied after first use.
type WriterPool struct {
	levels [flate.BestCompression - flate.HuffmanOnly + 1]sync.Pool
}

// writer is a compressor with the buffered writer it writes to.
type writer struct {
	fw *flate.Writer
	bw *bufio.Writer
}

// get returns a compressor for level; p may be nil. The caller resets it.
func (p *WriterPool) get(level int) (*writer, error) {
	if p != nil {
		if w, ok := p.levels[level-flate.HuffmanOnly].Get().(*writer); ok {
			return w, nil
		}
	}
	bw := bufio.NewWriterSize(nil, 16<<10)
	fw, err := flate.NewWriter(bw, level)
	if err != nil {
		return nil, err
	}
	return &writer{fw: fw, bw: bw}, nil
}

func (p *WriterPool) put(level int, w *writer) {
	p.levels[level-flate.HuffmanOnly].Put(w)
}

// history is the last 32 KiB of plaintext written (RFC 1951 §2: the
// farthest a match may reach back), a ring allocated at the first write.
type history struct {
	keep bool
	buf  []byte // windowSize octets once allocated
	pos  int    // next write position in buf
	n    int    // valid octets, at most windowSize
}

func (h *history) add(p []byte) {
	if !h.keep || len(p) == 0 {
		return
	}
	if h.buf == nil {
		h.buf = make([]byte, windowSize)
	}
	if len(p) >= windowSize {
		copy(h.buf, p[len(p)-windowSize:])
		h.pos, h.n = 0, windowSize
		return
	}
	k := copy(h.buf[h.pos:], p)
	copy(h.buf, p[k:])
	h.pos = (h.pos + len(p)) % windowSize
	h.n = min(h.n+len(p), windowSize)
}

// parts returns the history, oldest first, in two pieces.
func (h *history) parts() (older, newer []byte) {
	if h.n < windowSize {
		return h.buf[:h.pos], nil
	}
	return h.buf[h.pos:], h.buf[:h.pos]
}
