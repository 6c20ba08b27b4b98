package serve

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posthorn/posthorn/internal/lineio"
)

// Stop is the part of a session that Shutdown touches from another
// goroutine. A protocol's connection type embeds it, which gives it the
// Shutdown and Abort methods of Conn, and brackets every wait for a
// command with Wait and Busy:
//
//	if !c.Wait(time.Now().Add(idle)) { goodbye; return }
//	line, err := read()
//	if c.Busy(time.Time{}) { goodbye; return }
//
// Shutdown wakes a session only while it waits for a command, so a
// transaction in flight (message data, a literal) is never cut short by
// it; Abort wakes it wherever it is and cancels its context.
type Stop struct {
	nc     net.Conn // the accepted connection: deadlines reach through TLS
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	waiting  bool        // guarded by mu
	stopping atomic.Bool // written under mu
	aborted  atomic.Bool
}

// Init readies the Stop for the connection nc and returns the session's
// context, cancelled by Abort and by End.
func (s *Stop) Init(nc net.Conn) context.Context {
	s.nc = nc
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s.ctx
}

// End cancels the session's context; the session calls it when it ends.
func (s *Stop) End() { s.cancel() }

// Wait marks the session as waiting for a command, with the read
// deadline d. It reports false, setting nothing, once Shutdown began:
// the session then says its goodbye and ends.
func (s *Stop) Wait(d time.Time) bool {
	// No defer: Wait and Busy run around every command, and nothing
	// between Lock and Unlock can panic.
	s.mu.Lock()
	if s.stopping.Load() {
		s.mu.Unlock()
		return false
	}
	s.waiting = true
	s.nc.SetReadDeadline(d)
	s.mu.Unlock()
	return true
}

// Busy ends a Wait: a command is arriving (or the read failed). It sets
// the read deadline to d for the rest of the command unless d is zero,
// and reports whether Shutdown began meanwhile; a session whose read
// failed then ends with its goodbye, since the failure may be Shutdown
// waking it.
func (s *Stop) Busy(d time.Time) (stopping bool) {
	s.mu.Lock()
	s.waiting = false
	if !d.IsZero() && !s.aborted.Load() {
		s.nc.SetReadDeadline(d)
	}
	stopping = s.stopping.Load()
	s.mu.Unlock()
	return stopping
}

// ErrShutdown is returned by ReadLine when Shutdown began before a
// command arrived: the session says its goodbye and ends.
var ErrShutdown = errors.New("server shutting down")

// ReadLine reads a command line from r between Wait (with the read
// deadline d) and Busy. It returns ErrShutdown, reading nothing, once
// Shutdown began, and in place of a read error caused by Shutdown.
func (s *Stop) ReadLine(r *lineio.Reader, d time.Time) ([]byte, error) {
	// Wait and Busy, written out: this runs for every SMTP and POP3
	// command.
	s.mu.Lock()
	if s.stopping.Load() {
		s.mu.Unlock()
		return nil, ErrShutdown
	}
	s.waiting = true
	s.nc.SetReadDeadline(d)
	s.mu.Unlock()
	line, err := r.ReadLine()
	s.mu.Lock()
	s.waiting = false
	stopping := s.stopping.Load()
	s.mu.Unlock()
	if err != nil && stopping {
		return nil, ErrShutdown
	}
	return line, err
}

// Stopping reports whether Shutdown began.
func (s *Stop) Stopping() bool { return s.stopping.Load() }

// Aborted reports whether Shutdown's deadline passed and the session
// was aborted: a read that failed was cut short by it, and the goodbye
// is due even in the middle of a transaction.
func (s *Stop) Aborted() bool { return s.aborted.Load() }

// Shutdown implements Conn: it wakes the session if it waits for a
// command; otherwise the session sees Stopping at its next Wait.
func (s *Stop) Shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopping.Store(true)
	if s.waiting {
		s.nc.SetReadDeadline(time.Now())
	}
}

// Abort implements Conn: it cuts short any read the session is blocked
// in and cancels the session's context, so that a backend call returns.
// A session that refreshes its read deadline while reading a
// transaction's data must check Aborted after doing so.
func (s *Stop) Abort() {
	s.aborted.Store(true)
	s.mu.Lock()
	s.stopping.Store(true)
	s.mu.Unlock()
	s.nc.SetReadDeadline(time.Now())
	s.cancel()
}
