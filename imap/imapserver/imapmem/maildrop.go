package imapmem

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// Deliver adds a message to the user's INBOX, as SMTP/LMTP delivery
// does, and returns its UID. r is read to its end; bare LF line ends are
// stored as CRLF. It fails with ErrNoSuchUser for an unknown account and
// with imapserver.ErrOverQuota (changing nothing) when the user's quota
// would be exceeded. IMAP sessions with the INBOX selected see it at
// their next command or at once in IDLE.
func (s *Store) Deliver(ctx context.Context, username string, r io.Reader) (uint32, error) {
	return s.DeliverTo(ctx, username, "INBOX", r, nil, time.Time{})
}

// DeliverTo adds a message to any mailbox of the user, with flags and an
// internal date (the zero Time means now).
func (s *Store) DeliverTo(ctx context.Context, username, mailbox string, r io.Reader, flags []string, date time.Time) (uint32, error) {
	u, err := s.user(username)
	if err != nil {
		return 0, err
	}
	data, err := readMessage(r, -1, false)
	if err != nil {
		return 0, err
	}
	res, err := u.appendData(mailbox, data, imapserver.AppendOptions{Flags: flags, Date: date}, nil)
	return res.UID, err
}

// MaildropMessage is one INBOX message as POP3 sees it.
type MaildropMessage struct {
	UID  uint32
	UIDL string // unique and stable: "<uidvalidity>.<uid>" (RFC 1939 §7 UIDL)
	Size int64  // octets with CRLF line ends
}

// Maildrop is a POP3 session's exclusive lock on a user's INBOX and the
// snapshot of its messages taken when the lock was acquired. Messages
// that IMAP or another program expunges meanwhile stay listed but can no
// longer be opened. A Maildrop is not safe for concurrent use.
type Maildrop struct {
	u      *user
	msgs   []MaildropMessage
	closed bool
}

// OpenMaildrop locks the user's INBOX for POP3 and snapshots it. It fails
// with ErrMaildropLocked while another Maildrop of the user is open, and
// with ErrNoSuchUser for an unknown account. Call Close to release it.
func (s *Store) OpenMaildrop(ctx context.Context, username string) (*Maildrop, error) {
	u, err := s.user(username)
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.popLocked {
		return nil, ErrMaildropLocked
	}
	mb, err := u.selectableLocked("INBOX")
	if err != nil {
		return nil, err
	}
	u.popLocked = true
	md := &Maildrop{u: u, msgs: make([]MaildropMessage, len(mb.msgs))}
	prefix := strconv.FormatUint(uint64(mb.uidValidity), 10) + "."
	for i, m := range mb.msgs {
		md.msgs[i] = MaildropMessage{UID: m.uid, UIDL: prefix + strconv.FormatUint(uint64(m.uid), 10), Size: m.Size()}
	}
	return md, nil
}

// Messages returns the snapshot taken at OpenMaildrop, in UID order
// (POP3 message number n is Messages()[n-1]). The caller must not
// modify the slice.
func (md *Maildrop) Messages() []MaildropMessage { return md.msgs }

// Open returns the raw message with the given UID and its size. It fails
// with imapserver.ErrNoSuchMessage when the message was expunged since
// the snapshot. The reader stays valid after that.
func (md *Maildrop) Open(ctx context.Context, uid uint32) (io.ReaderAt, int64, error) {
	u := md.u
	u.mu.Lock()
	defer u.mu.Unlock()
	if md.closed {
		return nil, 0, fmt.Errorf("imapmem: maildrop closed")
	}
	mb, err := u.selectableLocked("INBOX")
	if err != nil {
		return nil, 0, err
	}
	i := mb.find(uid)
	if i < 0 {
		return nil, 0, fmt.Errorf("%w: UID %d", imapserver.ErrNoSuchMessage, uid)
	}
	m := mb.msgs[i]
	return m.c, m.Size(), nil
}

// Delete expunges the messages with the given UIDs from INBOX at once
// (POP3's UPDATE state). UIDs already gone are ignored. IMAP sessions see
// the expunges like any other.
func (md *Maildrop) Delete(ctx context.Context, uids []uint32) error {
	u := md.u
	u.mu.Lock()
	defer u.mu.Unlock()
	if md.closed {
		return fmt.Errorf("imapmem: maildrop closed")
	}
	mb, err := u.selectableLocked("INBOX")
	if err != nil {
		return err
	}
	del := make(map[uint32]bool, len(uids))
	for _, uid := range uids {
		del[uid] = true
	}
	u.expungeLocked(mb, func(m *message) bool { return del[m.uid] }, nil)
	return nil
}

// Close releases the lock. It deletes nothing.
func (md *Maildrop) Close() error {
	md.u.mu.Lock()
	defer md.u.mu.Unlock()
	if !md.closed {
		md.closed = true
		md.u.popLocked = false
	}
	return nil
}
