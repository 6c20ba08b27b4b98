package maildir

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// Deliver adds a message to the user's INBOX, as SMTP/LMTP delivery
// does, and returns its UID. r is read to its end and written to disk as
// it arrives (CRLF, bare LF and bare CR all end a line; the file keeps
// LF, IMAP and POP3 serve CRLF). It returns only when the message is
// durable (see the package guarantees). It fails with ErrNoSuchUser for
// an unknown account and with imapserver.ErrOverQuota (storing nothing)
// when the user's quota would be exceeded.
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
	mb, err := u.mailboxForWrite(mailbox)
	if err != nil {
		return 0, err
	}
	if date.IsZero() {
		date = s.now()
	}
	f, err := s.writeStream(mb, r, date)
	if err != nil {
		return 0, err
	}
	f.flags = normFlags(flags)
	req := &commitReq{mailbox: mailbox, quota: true, files: []*pendingFile{f}}
	if err := u.commit.submit(req); err != nil {
		return 0, err
	}
	return req.res[0].UID, nil
}

// CheckQuota reports imapserver.ErrOverQuota when one more message of
// size octets would exceed the user's quota now (for RCPT with SIZE=).
// Deliver checks again, atomically with the delivery.
func (s *Store) CheckQuota(ctx context.Context, username string, size int64) error {
	u, err := s.user(username)
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.quotaCheckLocked(1, size)
}

// MaildropMessage is one INBOX message as POP3 sees it.
type MaildropMessage struct {
	UID  uint32
	UIDL string // "<uidvalidity>.<uid>", unique and stable (RFC 1939 §7)
	Size int64  // octets with CRLF line ends
}

// Maildrop is a POP3 session's exclusive lock on a user's INBOX and the
// snapshot taken when it was acquired. Not safe for concurrent use.
type Maildrop struct {
	u      *user
	msgs   []MaildropMessage
	closed bool
}

// OpenMaildrop locks the user's INBOX for POP3 and snapshots it. It fails
// with ErrMaildropLocked while another Maildrop of the user is open.
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
	if err := mb.rescanLocked(); err != nil {
		return nil, err
	}
	u.popLocked = true
	md := &Maildrop{u: u, msgs: make([]MaildropMessage, len(mb.msgs))}
	prefix := strconv.FormatUint(uint64(mb.uidValidity), 10) + "."
	for i, m := range mb.msgs {
		md.msgs[i] = MaildropMessage{UID: m.uid, UIDL: prefix + strconv.FormatUint(uint64(m.uid), 10), Size: m.vsize}
	}
	return md, nil
}

// Messages returns the snapshot taken at OpenMaildrop, in UID order.
func (md *Maildrop) Messages() []MaildropMessage { return md.msgs }

// Open returns the raw message (CRLF) with the given UID and its size.
func (md *Maildrop) Open(ctx context.Context, uid uint32) (io.ReaderAt, int64, error) {
	u := md.u
	u.mu.Lock()
	if md.closed {
		u.mu.Unlock()
		return nil, 0, fmt.Errorf("maildir: maildrop closed")
	}
	mb, err := u.selectableLocked("INBOX")
	if err != nil {
		u.mu.Unlock()
		return nil, 0, err
	}
	i := mb.find(uid)
	if i < 0 {
		u.mu.Unlock()
		return nil, 0, fmt.Errorf("%w: UID %d", imapserver.ErrNoSuchMessage, uid)
	}
	m := mb.msgs[i]
	u.mu.Unlock()
	r, err := m.Open()
	return r, m.vsize, err
}

// Delete expunges the messages with the given UIDs from INBOX (POP3's
// UPDATE state), durably before it returns.
func (md *Maildrop) Delete(ctx context.Context, uids []uint32) error {
	u := md.u
	u.mu.Lock()
	defer u.mu.Unlock()
	if md.closed {
		return fmt.Errorf("maildir: maildrop closed")
	}
	mb, err := u.selectableLocked("INBOX")
	if err != nil {
		return err
	}
	del := make(map[uint32]bool, len(uids))
	for _, uid := range uids {
		del[uid] = true
	}
	if err := mb.expungeLocked(func(m *message) bool { return del[m.uid] }, nil, false); err != nil {
		return err
	}
	mb.stampLocked()
	if mb.log != nil {
		return mb.log.Sync()
	}
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
