package imapserver

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"time"

	"github.com/posthorn/posthorn/imap"
)

// IDLE (RFC 2177, RFC 9051 §6.3.13). The session's one goroutine waits
// on the socket; a change in the selected mailbox wakes it by moving the
// read deadline to now (see Mailbox.SetNotify), so an idle connection
// costs no second goroutine.
func cmdIdle(s *session, tag string, uid bool) error {
	if err := s.crlf(); err != nil {
		return err
	}
	s.w.WriteString("+ idling\r\n")
	// Register for changes before sending the pending ones, so that a
	// change landing in between wakes the loop below: a store need not
	// call a notifier for changes made before it was set.
	if s.sel != nil {
		s.woken.Store(false)
		s.sel.mb.SetNotify(func() {
			s.woken.Store(true)
			s.raw.SetReadDeadline(time.Now())
		})
		defer s.sel.mb.SetNotify(nil)
	}
	s.sendUpdates(true)
	if err := s.flush(); err != nil {
		return err
	}
	var line []byte
	for {
		if s.Stopping() {
			return errShutdown
		}
		if s.woken.Swap(false) {
			s.sendUpdates(true)
			if err := s.flush(); err != nil {
				return err
			}
			if s.mailboxGone {
				return errClose
			}
			continue
		}
		// IDLE waits for the client like a session between commands:
		// Shutdown wakes it (serve.Stop).
		if !s.Wait(time.Now().Add(s.srv.limits.IdleTimeout)) {
			return errShutdown
		}
		if s.woken.Load() {
			s.Busy(time.Time{})
			continue
		}
		// Wait with the buffers parked: an idling connection holds none.
		if err := s.park(); err != nil {
			s.Busy(time.Time{})
			return err
		}
		err := s.waitByte()
		s.unpark()
		stopping := s.Busy(time.Time{})
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && (s.woken.Load() || stopping) {
				continue
			}
			return err
		}
		chunk, err := s.br.ReadSlice('\n')
		line = append(line, chunk...)
		if err == nil {
			break
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			if len(line) > 1024 {
				return imap.ByeError("", "Expected DONE")
			}
		case errors.Is(err, os.ErrDeadlineExceeded) && (s.woken.Load() || s.Stopping()):
		default:
			return err
		}
	}
	s.lineRead = true
	if !bytes.EqualFold(bytes.TrimRight(line, "\r\n"), []byte("DONE")) {
		return bad("expected DONE")
	}
	return nil
}
