package mime

import (
	"bufio"
	"bytes"
	"io"
)

// This file is the byte-level scanner under Reader and Index: it walks a
// *bufio.Reader once, keeping the absolute offset, and splits the message
// into header blocks, delimiter lines and "segments" (a leaf body, a
// preamble or an epilogue). Segments are handed out as views into the
// bufio buffer, so the body bytes are never copied here.

// container is an open multipart or enclosed message on the walker's stack.
type container struct {
	part       *Part
	boundary   []byte // nil for an enclosed message
	closed     bool   // close delimiter seen: in the epilogue
	kids       int    // delimiters seen (multipart)
	startLines int64  // line count at part.BodyOffset (Index)
}

// scanner is the offset-keeping reader over the message.
type scanner struct {
	br    *bufio.Reader
	off   int64 // message offset of the next unread byte
	count bool  // count lines (Index)
	lines int64 // line feeds before off
	last  byte  // the byte before off

	stack []container

	// The current segment.
	inSeg       bool
	segDone     bool // ended; the fields below are valid
	atLineStart bool // the segment's next byte starts a line
	dFrame      int  // container whose delimiter ended it; -1 at EOF
	dClose      bool
	dLen        int // bytes of line break + delimiter line still to consume
	segEnd      int64
	segEndLines int64
	segEndLast  byte
	err         error // hard read error
}

var dashDash = []byte("--")

// consume advances past n buffered bytes, counting lines.
func (s *scanner) consume(b []byte) {
	if len(b) == 0 {
		return
	}
	if s.count {
		s.lines += int64(bytes.Count(b, []byte{'\n'}))
	}
	s.last = b[len(b)-1]
	s.br.Discard(len(b))
	s.off += int64(len(b))
}

// openBoundaries reports whether any open container has a live boundary.
func (s *scanner) openBoundaries() bool {
	for i := range s.stack {
		if s.stack[i].boundary != nil && !s.stack[i].closed {
			return true
		}
	}
	return false
}

// startSegment begins a segment at the current offset (a line start).
func (s *scanner) startSegment() {
	s.inSeg, s.segDone, s.atLineStart = true, false, true
}

// endSegment records the end of the current segment.
func (s *scanner) endSegment(frame int, close bool, n int) {
	s.segDone = true
	s.dFrame, s.dClose, s.dLen = frame, close, n
	s.segEnd, s.segEndLines, s.segEndLast = s.off, s.lines, s.last
}

const (
	matchNo = iota
	matchYes
	matchMore // cannot tell before more bytes arrive
)

// matchDelim checks whether line (starting at a line start) is a delimiter
// of an open container: "--" boundary ["--"] [LWSP] line break
// (RFC 2046 §5.1.1; the break may be CR* LF, or missing at EOF). It
// returns the innermost matching container, whether it is a close
// delimiter and the length of the line including its break.
func (s *scanner) matchDelim(line []byte, eof bool) (status, frame int, close bool, n int) {
	if len(line) < 2 {
		if !eof && (len(line) == 0 || line[0] == '-') {
			return matchMore, 0, false, 0
		}
		return matchNo, 0, false, 0
	}
	if line[0] != '-' || line[1] != '-' {
		return matchNo, 0, false, 0
	}
	more := false
	for k := len(s.stack) - 1; k >= 0; k-- {
		c := &s.stack[k]
		if c.boundary == nil || c.closed {
			continue
		}
		b := c.boundary
		rest := line[2:]
		if len(rest) < len(b) {
			if !eof && bytes.HasPrefix(b, rest) {
				more = true
			}
			continue
		}
		if !bytes.Equal(rest[:len(b)], b) {
			continue
		}
		j := 2 + len(b)
		cl := false
		if j+1 < len(line) && line[j] == '-' && line[j+1] == '-' {
			cl = true
			j += 2
		} else if !eof && j+1 >= len(line) && (j == len(line) || line[j] == '-') {
			more = true
			continue
		}
		for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
			j++
		}
		for j < len(line) && line[j] == '\r' {
			j++
		}
		if j == len(line) {
			if eof {
				return matchYes, k, cl, j
			}
			more = true
			continue
		}
		if line[j] == '\n' {
			return matchYes, k, cl, j + 1
		}
	}
	if more {
		return matchMore, 0, false, 0
	}
	return matchNo, 0, false, 0
}

// fill makes more bytes buffered; it reports false at EOF (or a read
// error, kept in s.err) and when the buffer is full.
func (s *scanner) fill() bool {
	n := s.br.Buffered()
	if n >= s.br.Size() {
		return false
	}
	_, err := s.br.Peek(n + 1)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		s.err = err
	}
	return s.br.Buffered() > n
}

// segChunk returns the next at most max bytes of the current segment as a
// view into the buffer, valid until the next call. At the end of the
// segment it returns io.EOF (and sets the seg* and d* fields).
func (s *scanner) segChunk(max int) ([]byte, error) {
	if s.segDone {
		return nil, io.EOF
	}
	for {
		buf, _ := s.br.Peek(s.br.Buffered())
		if len(buf) == 0 {
			if !s.fill() {
				if s.err != nil {
					return nil, s.err
				}
				s.endSegment(-1, false, 0)
				return nil, io.EOF
			}
			continue
		}
		n, ended := s.scan(buf, false)
		if n == 0 && !ended {
			// Undecided: get more bytes, or decide at EOF / full buffer.
			if s.fill() {
				continue
			}
			if s.err != nil {
				return nil, s.err
			}
			// fill may have slid the buffered bytes to the front of the
			// buffer even when it read none: buf is stale, peek again.
			buf, _ = s.br.Peek(s.br.Buffered())
			n, ended = s.scan(buf, true)
		}
		if n > 0 {
			if n > max {
				n = max
			}
			b := buf[:n]
			s.consume(b)
			s.atLineStart = b[n-1] == '\n'
			return b, nil
		}
		if ended {
			return nil, io.EOF
		}
	}
}

// scan looks at the buffered bytes of a segment. It returns how many can
// be handed out now (all before a delimiter's line break, or all but a
// tail that might start one), or ended when buf starts with the line break
// and delimiter that end the segment. final means no more bytes will come
// (EOF or a full buffer).
func (s *scanner) scan(buf []byte, final bool) (n int, ended bool) {
	if !s.openBoundaries() {
		return len(buf), false
	}
	pos := 0
	for {
		var ls, es int // start of the candidate line and of its line break
		if pos == 0 && s.atLineStart {
			ls, es = 0, 0
		} else {
			// Look for "--" and then check that a line break precedes
			// it: base64 has no "-" at all and text has few, so this
			// runs at IndexByte speed where "\n--" would stop at every
			// line.
			i := bytes.Index(buf[pos:], dashDash)
			if i < 0 {
				if final {
					return len(buf), false
				}
				return holdBack(buf), false
			}
			i += pos
			if i == 0 || buf[i-1] != '\n' {
				// Neither i nor i+1 can start a delimiter line.
				pos = i + 2
				if pos > len(buf) {
					pos = len(buf)
				}
				continue
			}
			ls, es = i, i-1
			for es > 0 && buf[es-1] == '\r' {
				es--
			}
		}
		st, frame, cl, ln := s.matchDelim(buf[ls:], final && len(buf) < s.br.Size())
		switch st {
		case matchYes:
			if es > 0 {
				return es, false
			}
			s.endSegment(frame, cl, ln+ls)
			return 0, true
		case matchMore:
			if final {
				// A full buffer that still cannot decide: not a delimiter.
				pos = ls + 1
				continue
			}
			return es, false
		}
		pos = ls + 1
	}
}

// holdBack returns how many bytes of buf can be handed out when it holds
// no "\n--": all but a tail ("\n", "\n-", or CRs) that could begin one.
func holdBack(buf []byte) int {
	n := len(buf)
	if n > 0 && buf[n-1] == '\n' {
		n--
	} else if n > 1 && buf[n-2] == '\n' && buf[n-1] == '-' {
		n -= 2
	}
	for n > 0 && buf[n-1] == '\r' {
		n--
	}
	if n == 0 && len(buf) > 0 {
		// All of it might start a delimiter; the caller gets more bytes.
		return 0
	}
	return n
}

// skipSegment discards the rest of the current segment.
func (s *scanner) skipSegment() error {
	for {
		_, err := s.segChunk(1 << 30)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
