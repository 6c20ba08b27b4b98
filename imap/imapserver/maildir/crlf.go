package maildir

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"sync"
)

// readBufSize is the size of the pooled buffer a crlfReader reads a
// message file into: a typical message in one read(2).
const readBufSize = 32 << 10

// openFile opens the message file for reading, following a rename by a
// flag change meanwhile and, where the path was derived rather than
// listed, the other places the file may be (see Open).
func (m *message) openFile() (file, error) {
	var f file
	var err error
	var p string
	fsys := m.mb.u.s.fs
	for try := 0; try < 3; try++ {
		p = m.curPath()
		f, err = fsys.OpenFile(p, os.O_RDONLY, 0)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
		// Renamed by a flag change meanwhile: the next Load sees the new path.
	}
	if err != nil && errors.Is(err, fs.ErrNotExist) {
		for _, alt := range m.altPaths(p) {
			if f, err = fsys.OpenFile(alt, os.O_RDONLY, 0); err == nil {
				m.path.CompareAndSwap(m.path.Load(), &alt) // found: remember
				break
			}
		}
	}
	return f, err
}

// openStream returns the message as Open does, with CRLF line ends, but
// streamed from the file in constant memory instead of read whole: the
// file itself when it holds the message as served (raw), a crlfReader
// otherwise. The caller closes it.
func (m *message) openStream(pool *sync.Pool) (io.ReadCloser, error) {
	f, err := m.openFile()
	if err != nil {
		return nil, err
	}
	if m.raw {
		return &rawReader{f: f}, nil
	}
	return newCRLFReader(f, pool), nil
}

// rawReader reads a message file that needs no conversion, taking a
// short read for its end, as crlfReader does.
type rawReader struct {
	f   file
	eof bool
}

func (r *rawReader) Read(p []byte) (int, error) {
	if r.eof {
		return 0, io.EOF
	}
	n, err := r.f.Read(p)
	if err == nil && n > 0 && n < len(p) {
		r.eof = true
	}
	return n, err
}

func (r *rawReader) Close() error { return r.f.Close() }

// crlfReader streams a file with every bare LF and every bare CR turned
// into CRLF, as toCRLF does for a whole file (a CRLF stays one line end,
// even split between two reads). It reads the file into a buffer from
// pool and copies it out run by run, finding line ends with
// bytes.IndexByte, so a 50 MB message costs one 32 KiB buffer, reused
// by the next message. Close returns the buffer and closes the file.
type crlfReader struct {
	f      io.ReadCloser
	pool   *sync.Pool
	buf    *[]byte
	in     []byte // read from f, not yet converted (within *buf)
	noCR   bool   // in has no CR: only LF ends lines
	skipLF bool   // the last line end out came from a CR; an LF right after it is part of it
	pendLF bool   // a CRLF went out as its CR only (p was full); the LF is owed
	err    error  // f's error (io.EOF at the end), returned once in is drained
}

func newCRLFReader(f io.ReadCloser, pool *sync.Pool) *crlfReader {
	return &crlfReader{f: f, pool: pool, buf: getBuf(pool)}
}

// getBuf returns a buffer of readBufSize from pool (the Store's
// readBufs), to be put back after use.
func getBuf(pool *sync.Pool) *[]byte {
	b, _ := pool.Get().(*[]byte)
	if b == nil {
		s := make([]byte, readBufSize)
		b = &s
	}
	return b
}

// Read fills p with converted bytes. It reads f once per call, again
// only while nothing came out.
func (r *crlfReader) Read(p []byte) (int, error) {
	if r.buf == nil {
		return 0, errReaderClosed
	}
	n := 0
	if r.pendLF && len(p) > 0 {
		p[0] = '\n'
		n, r.pendLF = 1, false
	}
	for reads := 0; n < len(p); {
		if len(r.in) == 0 {
			// Read f again only while nothing came out (an LF that
			// completed a CRLF yields nothing), a few times at most.
			if r.err != nil || n > 0 || reads == 3 {
				break
			}
			reads++
			k, err := r.f.Read(*r.buf)
			if err == nil && k > 0 && k < len(*r.buf) {
				// A regular file reads short only at its end: spare
				// the read(2) that would return 0 (as lazyMsg does).
				err = io.EOF
			}
			r.in, r.err = (*r.buf)[:k], err
			r.noCR = bytes.IndexByte(r.in, '\r') < 0
			continue
		}
		if r.skipLF {
			r.skipLF = false
			if r.in[0] == '\n' {
				r.in = r.in[1:]
				continue
			}
		}
		var i int
		if r.noCR {
			i = bytes.IndexByte(r.in, '\n')
		} else {
			i = indexEOL(r.in)
		}
		if i < 0 {
			c := copy(p[n:], r.in)
			n += c
			r.in = r.in[c:]
			continue
		}
		c := copy(p[n:], r.in[:i])
		n += c
		r.in = r.in[c:]
		if n == len(p) {
			break // p is full (the line end, if reached, stays in r.in)
		}
		// r.in[0] is a line end: CR (with or without its LF) or a bare LF.
		r.skipLF = r.in[0] == '\r'
		r.in = r.in[1:]
		if n+2 <= len(p) {
			p[n], p[n+1] = '\r', '\n'
			n += 2
			continue
		}
		p[n] = '\r'
		n++
		r.pendLF = true
	}
	if n == 0 && len(r.in) == 0 && !r.pendLF && r.err != nil {
		return 0, r.err
	}
	return n, nil
}

// Close closes the file and gives the buffer back to the pool.
func (r *crlfReader) Close() error {
	if r.buf == nil {
		return nil
	}
	r.pool.Put(r.buf)
	r.buf, r.in = nil, nil
	return r.f.Close()
}

var errReaderClosed = errors.New("maildir: read after Close")

// indexEOL returns the index of the first CR or LF in p, or -1.
func indexEOL(p []byte) int {
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		return bytes.IndexByte(p, '\r')
	}
	if c := bytes.IndexByte(p[:i], '\r'); c >= 0 {
		return c
	}
	return i
}
