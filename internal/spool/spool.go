// Package spool holds a message while it is being received and not yet
// acknowledged: in memory up to a small limit, then in a temporary file.
// A server that accepts many slow or hostile transactions at once (an MX
// with a thousand connections each sending DATA without the final dot)
// thereby holds a few buffers per connection in memory, never whole
// messages.
package spool

import (
	"errors"
	"io"
	"os"
)

// DefaultMemLimit is the number of octets a Spool keeps in memory before
// it moves to a temporary file: most mail is smaller, and a thousand
// connections at this size hold 64 MiB.
const DefaultMemLimit = 64 << 10

// Spool is a write-once buffer: Write or ReadFrom append, then ReadAt and
// Size read back, and Close releases the memory and removes the file.
// The zero value is ready to use. A Spool is not safe for concurrent use.
type Spool struct {
	// Dir is the directory of the temporary file; "" means os.TempDir.
	Dir string
	// MemLimit is the number of octets kept in memory before moving to a
	// file; 0 means DefaultMemLimit.
	MemLimit int
	// Buf, when not nil, is the memory buffer to use (from a pool, say):
	// with a capacity of MemLimit the Spool allocates nothing in memory.
	// The caller may reuse it after Close.
	Buf []byte

	mem  []byte // in memory; after the move, the copy buffer
	f    *os.File
	size int64
}

func (s *Spool) limit() int {
	if s.MemLimit > 0 {
		return s.MemLimit
	}
	return DefaultMemLimit
}

// Size returns the number of octets written.
func (s *Spool) Size() int64 { return s.size }

// InMemory reports whether the content is still held in memory.
func (s *Spool) InMemory() bool { return s.f == nil }

// Write appends p.
func (s *Spool) Write(p []byte) (int, error) {
	s.init()
	if s.f == nil && len(s.mem)+len(p) <= s.limit() {
		s.mem = append(s.mem, p...)
		s.size += int64(len(p))
		return len(p), nil
	}
	if err := s.toFile(); err != nil {
		return 0, err
	}
	n, err := s.f.Write(p)
	s.size += int64(n)
	return n, err
}

// ReadFrom appends everything r returns up to io.EOF. It reads straight
// into the memory buffer, and after the move to a file uses that same
// buffer to copy, so spooling allocates one buffer of MemLimit octets at
// most.
func (s *Spool) ReadFrom(r io.Reader) (int64, error) {
	s.init()
	var total int64
	lim := s.limit()
	for s.f == nil {
		if len(s.mem) == cap(s.mem) {
			if len(s.mem) >= lim {
				break
			}
			// Grow by doubling from 4 KiB, capped at the limit: small
			// messages stay small.
			n := min(max(2*cap(s.mem), 4<<10), lim)
			s.mem = append(make([]byte, 0, n), s.mem...)
		}
		n, err := r.Read(s.mem[len(s.mem):cap(s.mem)])
		s.mem = s.mem[:len(s.mem)+n]
		s.size += int64(n)
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
	if err := s.toFile(); err != nil {
		return total, err
	}
	buf := s.mem[:cap(s.mem)]
	for {
		n, err := r.Read(buf)
		if n > 0 {
			m, werr := s.f.Write(buf[:n])
			s.size += int64(m)
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// init takes Buf as the memory buffer, once.
func (s *Spool) init() {
	if s.Buf != nil && s.mem == nil && s.size == 0 {
		s.mem, s.Buf = s.Buf[:0], nil
	}
}

// toFile moves the content to a temporary file.
func (s *Spool) toFile() error {
	if s.f != nil {
		return nil
	}
	f, err := os.CreateTemp(s.Dir, "posthorn-spool-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(s.mem); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	s.f = f
	s.mem = s.mem[:0]
	return nil
}

// ReadAt implements io.ReaderAt over what was written.
func (s *Spool) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("spool: negative offset")
	}
	if s.f != nil {
		if off >= s.size {
			return 0, io.EOF
		}
		if rest := s.size - off; int64(len(p)) > rest {
			n, err := s.f.ReadAt(p[:rest], off)
			if err == nil {
				err = io.EOF
			}
			return n, err
		}
		return s.f.ReadAt(p, off)
	}
	if off >= int64(len(s.mem)) {
		return 0, io.EOF
	}
	n := copy(p, s.mem[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Close releases the memory and removes the temporary file. The Spool
// may be used again afterwards, empty.
func (s *Spool) Close() error {
	var err error
	if s.f != nil {
		err = s.f.Close()
		if rerr := os.Remove(s.f.Name()); err == nil {
			err = rerr
		}
		s.f = nil
	}
	s.mem, s.size = nil, 0
	return err
}
