package maildir

import (
	"bytes"
	"io"
	"slices"
	"sync"
)

// lazyChunk is how much of a message file one fill reads (into a
// pooled read buffer): the header of nearly every message, and most
// messages whole, in one pread.
const lazyChunk = readBufSize

// lazyMsg is the io.ReaderAt that message.Open returns: the message
// with CRLF line ends, read from the file and converted only as far as
// a ReadAt reaches. FETCH of header fields, SEARCH on headers and the
// header-only parse of ENVELOPE read the first chunk of a file, not
// the whole of a message with a 10 MB attachment. Open reads the first
// chunk; a read past it reads the rest of the file. Each fill opens the
// file and closes it again (a ReaderAt has no Close, so no descriptor is
// held between calls); the conversion keeps one bit between chunks, whether
// the last source byte was a CR, whose LF (if next) is part of the
// same line end. ReadAt may be called concurrently.
type lazyMsg struct {
	m *message

	mu     sync.Mutex
	out    []byte // converted so far
	srcOff int64  // file octets consumed
	skipLF bool   // the last one was a CR: a leading LF is its pair
	done   bool   // the whole file is in out
	err    error  // a read error, returned from then on
}

func (l *lazyMsg) ReadAt(p []byte, off int64) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for !l.done && l.err == nil && int64(len(l.out)) < off+int64(len(p)) {
		l.fill()
	}
	if off >= int64(len(l.out)) {
		if l.err != nil {
			return 0, l.err
		}
		return 0, io.EOF
	}
	n := copy(p, l.out[off:])
	if n < len(p) {
		if l.err != nil {
			return n, l.err
		}
		return n, io.EOF
	}
	return n, nil
}

// fill reads and converts the next chunk of the file.
func (l *lazyMsg) fill() {
	m := l.m
	f, err := m.openFile()
	if err != nil {
		l.err = err
		return
	}
	if l.out == nil {
		// The whole message when it is likely read whole; a header-only
		// read of a large one grows from one chunk.
		l.out = make([]byte, 0, min(max(m.vsize, 0), 2*lazyChunk)+2)
	}
	pool := &m.mb.u.s.readBufs
	b, _ := pool.Get().(*[]byte)
	if b == nil {
		s := make([]byte, readBufSize)
		b = &s
	}
	defer pool.Put(b)
	buf := (*b)[:min(lazyChunk, len(*b))]
	// Past the first chunk the reader wants the body: the rest of the
	// file is read in this one open, into out grown to the whole size.
	first := l.srcOff == 0
	if !first && int64(cap(l.out)) < m.vsize {
		l.out = slices.Grow(l.out, int(m.vsize)-len(l.out)+2)
	}
	defer f.Close()
	for {
		n, err := f.ReadAt(buf, l.srcOff)
		if err != nil && err != io.EOF {
			l.err = err
			return
		}
		l.srcOff += int64(n)
		if m.raw {
			l.out = append(l.out, buf[:n]...)
		} else {
			l.out, l.skipLF = appendCRLF(l.out, buf[:n], l.skipLF)
		}
		if n < len(buf) {
			l.done = true
			return
		}
		if first {
			return
		}
	}
}

// appendCRLF appends src to dst with every bare LF and bare CR turned
// into CRLF (as toCRLF), src being the continuation of a file whose last
// byte before it was a CR when skipLF; it reports whether src ends in a
// CR. Runs between line ends are copied whole (bytes.IndexByte).
func appendCRLF(dst, src []byte, skipLF bool) ([]byte, bool) {
	if skipLF && len(src) > 0 && src[0] == '\n' {
		src = src[1:]
	}
	noCR := bytes.IndexByte(src, '\r') < 0
	for len(src) > 0 {
		var i int
		if noCR {
			i = bytes.IndexByte(src, '\n')
		} else {
			i = indexEOL(src)
		}
		if i < 0 {
			return append(dst, src...), false
		}
		dst = append(dst, src[:i]...)
		dst = append(dst, '\r', '\n')
		if src[i] == '\r' {
			if i+1 == len(src) {
				return dst, true // its LF, if any, is in the next chunk
			}
			if src[i+1] == '\n' {
				i++
			}
		}
		src = src[i+1:]
	}
	return dst, false
}
