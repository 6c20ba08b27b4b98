package imapmem

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"sync"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// The POP3 maildrop is the user's INBOX (RFC 1939 §1: the server keeps
// one maildrop per user). The three methods below are what
// pop3server.NewStoreBackend needs (pop3server.MaildropStore); they use
// only standard types, so this package imports nothing of POP3.

// LockMaildrop takes the user's POP3 lock (RFC 1939 §4: exclusive access
// to the maildrop) and snapshots the INBOX: the UIDLs and sizes (with
// CRLF line ends) of its messages in UID order. A UIDL is
// "<uidvalidity>.<uid>", unique and stable (RFC 1939 §7). It fails with
// ErrMaildropLocked (wrapping syscall.EBUSY) while another lock is held,
// and with ErrNoSuchUser (wrapping fs.ErrNotExist) for an unknown
// account. unlock releases the lock; it deletes nothing, and calling it
// again does nothing. IMAP sessions see the INBOX as before meanwhile.
func (s *Store) LockMaildrop(ctx context.Context, username string) (uidls []string, sizes []int64, unlock func(), err error) {
	u, err := s.user(username)
	if err != nil {
		return nil, nil, nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.popLocked {
		return nil, nil, nil, ErrMaildropLocked
	}
	mb, err := u.selectableLocked("INBOX")
	if err != nil {
		return nil, nil, nil, err
	}
	u.popLocked = true
	uidls = make([]string, len(mb.msgs))
	sizes = make([]int64, len(mb.msgs))
	prefix := strconv.FormatUint(uint64(mb.uidValidity), 10) + "."
	for i, m := range mb.msgs {
		uidls[i] = prefix + strconv.FormatUint(uint64(m.uid), 10)
		sizes[i] = m.Size()
	}
	var once sync.Once
	unlock = func() {
		once.Do(func() {
			u.mu.Lock()
			u.popLocked = false
			u.mu.Unlock()
		})
	}
	return uidls, sizes, unlock, nil
}

// OpenMaildropMessage returns the INBOX message with the given UIDL (as
// LockMaildrop listed it), with CRLF line ends. It fails with an error
// wrapping imapserver.ErrNoSuchMessage and fs.ErrNotExist when the
// message was expunged since (over IMAP, say). The reader stays valid
// whatever happens to the mailbox afterwards; it implements io.ReaderAt
// and io.WriterTo.
func (s *Store) OpenMaildropMessage(ctx context.Context, username, uidl string) (io.Reader, error) {
	u, err := s.user(username)
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	mb, err := u.selectableLocked("INBOX")
	if err != nil {
		return nil, err
	}
	uid, ok := parseUIDL(uidl, mb.uidValidity)
	i := -1
	if ok {
		i = mb.find(uid)
	}
	if i < 0 {
		return nil, fmt.Errorf("%w: UIDL %q (%w)", imapserver.ErrNoSuchMessage, uidl, fs.ErrNotExist)
	}
	return bytes.NewReader(mb.msgs[i].c.data), nil
}

// DeleteMaildropMessages expunges the INBOX messages with the given UIDLs
// at once, all under one lock (POP3's UPDATE state, RFC 1939 §6). UIDLs
// already gone are ignored. IMAP sessions see the expunges like any
// other. It refuses when no POP3 lock is held on the maildrop.
func (s *Store) DeleteMaildropMessages(ctx context.Context, username string, uidls []string) error {
	u, err := s.user(username)
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.popLocked {
		return fmt.Errorf("imapmem: maildrop of %q is not locked", username)
	}
	mb, err := u.selectableLocked("INBOX")
	if err != nil {
		return err
	}
	del := make(map[uint32]bool, len(uidls))
	for _, uidl := range uidls {
		if uid, ok := parseUIDL(uidl, mb.uidValidity); ok {
			del[uid] = true
		}
	}
	u.expungeLocked(mb, func(m *message) bool { return del[m.uid] }, nil)
	return nil
}

// parseUIDL returns the UID of a UIDL of the INBOX with the given
// UIDVALIDITY; false for anything else (another incarnation of the
// INBOX included).
func parseUIDL(uidl string, validity uint32) (uint32, bool) {
	v, u, ok := strings.Cut(uidl, ".")
	if !ok {
		return 0, false
	}
	vn, err1 := strconv.ParseUint(v, 10, 32)
	un, err2 := strconv.ParseUint(u, 10, 32)
	if err1 != nil || err2 != nil || uint32(vn) != validity || un == 0 {
		return 0, false
	}
	return uint32(un), true
}
