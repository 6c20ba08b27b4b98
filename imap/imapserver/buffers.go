package imapserver

import (
	"bufio"
	"net"
)

// Idle connections hold no read or write buffer: while a session waits
// for a client with nothing buffered, its bufio.Reader and bufio.Writer
// go back to the Server's pools and the session blocks on a one-byte
// read into prefixConn. The byte is handed to the next buffer first.

// prefixConn is the session's connection with at most one byte read
// ahead while the buffers were parked.
type prefixConn struct {
	net.Conn
	b    [1]byte
	have bool
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if p.have && len(b) > 0 {
		b[0] = p.b[0]
		p.have = false
		return 1, nil
	}
	return p.Conn.Read(b)
}

func (s *Server) getReader() *bufio.Reader {
	if r, ok := s.readers.Get().(*bufio.Reader); ok {
		return r
	}
	return bufio.NewReaderSize(nil, 4096)
}

func (s *Server) getWriter() *bufio.Writer {
	if w, ok := s.writers.Get().(*bufio.Writer); ok {
		return w
	}
	// 64 KiB: a whole-mailbox FETCH writes in segments as large as
	// loopback's, which halved fetch_body's CPU per message against
	// 16 KiB (fewer writes, and fewer packets to send and receive).
	// Idle sessions hold no writer, so only active ones pay for it.
	return bufio.NewWriterSize(nil, 64<<10)
}

// park flushes and returns the buffers to the pools if nothing is
// buffered. The caller then waits with waitByte and calls unpark.
func (s *session) park() error {
	if err := s.flush(); err != nil {
		return err
	}
	if s.br != nil && s.br.Buffered() == 0 {
		s.br.Reset(nil)
		s.srv.readers.Put(s.br)
		s.br = nil
	}
	if s.w.Writer != nil {
		s.w.Reset(nil)
		s.srv.writers.Put(s.w.Writer)
		s.w.Writer = nil
	}
	return nil
}

// unpark takes buffers back after park.
func (s *session) unpark() {
	if s.br == nil {
		s.br = s.srv.getReader()
		s.br.Reset(&s.pc)
		s.dec.Reset(s.br)
	}
	if s.w.Writer == nil {
		s.w.Writer = s.srv.getWriter()
		s.w.Reset(s.pc.Conn)
	}
}

// waitByte blocks until the client sends something (parked or not).
func (s *session) waitByte() error {
	if s.br != nil {
		_, err := s.br.Peek(1)
		return err
	}
	if s.pc.have {
		return nil
	}
	n, err := s.pc.Conn.Read(s.pc.b[:])
	if n == 1 {
		s.pc.have = true
		return nil
	}
	return err
}

// releaseBuffers returns the buffers for good at the end of the session.
func (s *session) releaseBuffers() {
	if s.br != nil {
		s.br.Reset(nil)
		s.srv.readers.Put(s.br)
		s.br = nil
	}
	if s.w.Writer != nil {
		s.w.Reset(nil)
		s.srv.writers.Put(s.w.Writer)
		s.w.Writer = nil
	}
}
