package imapserver

import (
	"bufio"
	"net"
	"time"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/internal/deflate"
)

// COMPRESS=DEFLATE (RFC 4978).
//
// After the tagged OK the session's connection is a deflate.Conn over the
// previous one (the TLS connection after STARTTLS or on an implicit-TLS
// port, so compression comes before encryption, RFC 4978 §3). The
// session's bufio.Writer sits on top of it: every Flush is one Write of
// the deflate.Conn, which ends with a sync flush, so each response burst
// (the end of a command, the IDLE continuation, every batch of IDLE
// updates, a literal continuation) reaches the client complete and
// decodable — the stuck-compressor bug that made mox turn its COMPRESS
// off cannot happen, because the session flushes before every wait for
// input (park, continueLiteral, IDLE).
//
// Reading, the session's bufio.Reader reads inflated bytes from the
// deflate.Conn, which reads the compressed stream through a small
// buffered reader of its own; the bytes the client pipelined behind
// "COMPRESS DEFLATE" (which RFC 4978 §3 says are compressed) are handed
// over to it. Waking a session in IDLE by moving the read deadline works
// because deflate.Conn survives a read timeout between the client's
// flushes.
//
// Parking: while a compressed session waits for a client, its session
// read and write buffers go back to the pools as for any session. The
// compressor (compress/flate's, about 1.2 MiB with its hash tables,
// whatever the level) goes back to the Server's deflate.WriterPool once
// the session has written nothing for compressParkAfter; the deflate.Conn
// keeps the last 32 KiB of what it sent and primes the next compressor
// with it, so the client sees one continuous stream (see imap/internal/deflate).
// What stays with an idle compressed connection is the inflater (about
// 56 KiB: the 32 KiB window the client's next block may refer to, up to
// 16 KiB of unread output, 4 KiB of input), the 32 KiB history and the
// 4 KiB buffer of compressed input: about 100 KiB instead of 1.3 MiB
// (BenchmarkIdleConnections/compress).

// compressParkAfter is how long a compressed session must have written
// nothing before its compressor is parked. Taking it back costs
// compressing 32 KiB of history (about 30 µs at BestSpeed), so busy
// sessions keep theirs between commands.
const compressParkAfter = 500 * time.Millisecond

// deflatePool is the Server's pool of parked compressors.
type deflatePool = deflate.WriterPool

// compressReadBuffer is the size of the buffer of compressed input.
const compressReadBuffer = 4096

// COMPRESS (RFC 4978 §3).
func cmdCompress(s *session, tag string, uid bool) error {
	if err := s.dec.SP(); err != nil {
		return err
	}
	alg, err := s.dec.ReadAtomUpper()
	if err != nil {
		return err
	}
	if err := s.crlf(); err != nil {
		return err
	}
	if s.compressed != nil {
		// RFC 4978 §3 says BAD for a repeated COMPRESS; NO
		// [COMPRESSIONACTIVE] (RFC 5530 §3) says why, as Dovecot does.
		return no(imap.CodeCompressionActive, "DEFLATE is active already")
	}
	if alg != "DEFLATE" {
		return bad("unknown compression mechanism %s", alg)
	}
	// What the client sent after the command is compressed already: it
	// moves to the inflater's input before the session reader is reused.
	var pending []byte
	if n := s.br.Buffered(); n > 0 {
		b, _ := s.br.Peek(n)
		pending = append([]byte(nil), b...)
		s.br.Discard(n)
	}
	s.w.status(tag, imap.StatusOK, "", "", "DEFLATE active")
	if err := s.flush(); err != nil {
		return err
	}
	// RFC 4978 §3: compressed from right after the CRLF of the OK.
	src := bufio.NewReaderSize(&pendingConn{Conn: s.conn, pending: pending}, compressReadBuffer)
	zc, err := deflate.NewConn(s.conn, deflate.Options{Reader: src, Pool: &s.srv.deflaters, ParkAfter: compressParkAfter})
	if err != nil {
		return err
	}
	s.compressed = zc
	s.conn = zc
	s.pc.Conn = s.trace.Conn(zc)
	s.br.Reset(&s.pc)
	s.dec.Reset(s.br)
	s.w.Reset(s.pc.Conn)
	return errHandled
}

// pendingConn reads bytes received before the switch first.
type pendingConn struct {
	net.Conn
	pending []byte
}

func (p *pendingConn) Read(b []byte) (int, error) {
	if len(p.pending) > 0 {
		n := copy(b, p.pending)
		p.pending = p.pending[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}
