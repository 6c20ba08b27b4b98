package maildir

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The POP3 maildrop lock (RFC 1939 §8: a POP3 server acquires an
// exclusive-access lock on the maildrop when the session enters the
// TRANSACTION state) is held in this process (user.popLocked) and, so
// that other programs on the same tree see it, as the dotlock Dovecot's
// POP3 server takes when pop3_lock_session = yes: a file
// "dovecot-pop3-session.lock" in the user's Maildir root, holding
// "<pid>:<host>". It is created by writing a temporary file and linking
// it to the lock name (atomic on every file system, NFS included), is
// touched while held, and is taken over when stale: its mtime older
// than five minutes, or its pid, on this host, no longer running. Those
// are Dovecot's rules (POP3_SESSION_DOTLOCK_STALE_TIMEOUT_SECS), so
// each side refuses the other while a session is open and takes over
// what a crashed one left behind.
const (
	popLockName = "dovecot-pop3-session.lock"
	// popLockStale is when an untouched lock counts as abandoned.
	popLockStale = 5 * time.Minute
	// popLockTouch is how often a held lock's mtime is refreshed.
	popLockTouch = time.Minute
	// defaultPOPLockWait is how long LockMaildrop waits for another
	// program's lock by default (Dovecot waits 10 s for its own).
	defaultPOPLockWait = 2 * time.Second
)

// popDotlock is a held maildrop dotlock.
type popDotlock struct {
	s    *Store
	path string
	ino  uint64
	stop chan struct{}
	done chan struct{}
}

// takePOPLock creates the dotlock at path, waiting up to wait for a
// lock held by someone else, and keeps it fresh until release.
func (s *Store) takePOPLock(ctx context.Context, path string, wait time.Duration) (*popDotlock, error) {
	content := []byte(strconv.Itoa(s.pid) + ":" + s.lockHost)
	deadline := time.Now().Add(wait)
	for delay := 20 * time.Millisecond; ; {
		ok, err := s.tryPOPLock(path, content)
		if err != nil {
			return nil, err
		}
		if ok {
			l := &popDotlock{s: s, path: path, stop: make(chan struct{}), done: make(chan struct{})}
			if fi, err := s.fs.Stat(path); err == nil {
				if st, ok := fi.Sys().(*syscall.Stat_t); ok {
					l.ino = st.Ino
				}
			}
			go l.keepFresh()
			return l, nil
		}
		if s.popLockStale(path) {
			s.logger.Warn("maildir: taking over a stale POP3 session lock", "path", path)
			if err := s.fs.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			continue
		}
		if !time.Now().Add(delay).Before(deadline) {
			return nil, ErrMaildropLocked
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 500*time.Millisecond)
	}
}

// tryPOPLock makes one attempt: a temporary file linked to path.
func (s *Store) tryPOPLock(path string, content []byte) (bool, error) {
	var r [6]byte
	rand.Read(r[:])
	tmp := filepath.Join(filepath.Dir(path), ".temp."+s.lockHost+"."+strconv.Itoa(s.pid)+"."+hex.EncodeToString(r[:]))
	f, err := s.fs.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return false, err
	}
	_, err = f.Write(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.fs.Link(tmp, path)
	}
	s.fs.Remove(tmp)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	return err == nil, err
}

// popLockStale reports whether the lock at path was left by a session
// that is gone: untouched for popLockStale, or naming a process on this
// host that no longer runs (or this very process, which holds no lock
// it does not know of: a Store closed without unlocking).
func (s *Store) popLockStale(path string) bool {
	fi, err := s.fs.Stat(path)
	if err != nil {
		return false // gone already: the next attempt takes it
	}
	if time.Since(fi.ModTime()) > popLockStale {
		return true
	}
	data, err := s.fs.ReadFile(path)
	if err != nil {
		return false
	}
	pidText, host, ok := strings.Cut(strings.TrimSpace(string(data)), ":")
	pid, err := strconv.Atoi(pidText)
	if !ok || err != nil || pid <= 0 || host != s.lockHost {
		return false
	}
	if pid == s.pid {
		// This Store holds no lock it does not know of (the caller
		// checked user.popLocked): one closed without unlocking, or
		// found again after a simulated power cut.
		return true
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// keepFresh touches the lock so that nobody takes it for stale.
func (l *popDotlock) keepFresh() {
	defer close(l.done)
	t := time.NewTicker(popLockTouch)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.s.fs.Chtimes(l.path, time.Now())
		}
	}
}

// release removes the lock if it is still ours (not taken over as
// stale by someone else).
func (l *popDotlock) release() {
	close(l.stop)
	<-l.done
	if fi, err := l.s.fs.Stat(l.path); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && l.ino != 0 && st.Ino != l.ino {
			return
		}
	}
	l.s.fs.Remove(l.path)
}
