package imapmem

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/internal/spool"
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

// DeliverMessage delivers one message to the INBOX of each of usernames,
// as smtpserver.NewStoreBackend does for SMTP and LMTP (it implements
// smtpserver.DeliveryStore).
//
// body is read to io.EOF first. While it streams it is held in a spool
// that moves to a temporary file (see SetSpoolDir) past 64 KiB, so a
// message not yet acknowledged costs a few buffers of memory however
// large it is; a body that fails (the client vanished, the SMTP server
// rejected the message's line ends) delivers nothing and its error is
// returned. Then header, when not nil, is called once for the lines to
// prepend (Received:, Authentication-Results:, computed while the body
// streamed), and the message is read into memory once, header and body in
// one allocation, that all recipients share.
//
// perRecipient[i] is the result for usernames[i]: nil when delivered,
// ErrNoSuchUser (wrapping fs.ErrNotExist) for an unknown account, or
// imapserver.ErrOverQuota (wrapping syscall.EDQUOT) when the message
// would exceed that user's quota, checked atomically with the delivery.
// Bare LF line ends are stored as CRLF, as by Deliver.
func (s *Store) DeliverMessage(ctx context.Context, usernames []string, body io.Reader, header func() []byte) (perRecipient []error, err error) {
	s.mu.Lock()
	sp := spool.Spool{Dir: s.spoolDir}
	s.mu.Unlock()
	// A pooled buffer: a message up to 64 KiB is then read without
	// growing one, and copied once into its own allocation below.
	buf, _ := s.spoolBufs.Get().(*[]byte)
	if buf == nil {
		b := make([]byte, 0, spool.DefaultMemLimit)
		buf = &b
	}
	sp.Buf = *buf
	defer func() {
		sp.Close()
		s.spoolBufs.Put(buf)
	}()
	if _, err := sp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("imapmem: reading message: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var h []byte
	if header != nil {
		h = header()
	}
	data := make([]byte, int64(len(h))+sp.Size())
	copy(data, h)
	if _, err := sp.ReadAt(data[len(h):], 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("imapmem: reading spool: %w", err)
	}
	c := &content{data: toCRLF(data)}
	perRecipient = make([]error, len(usernames))
	for i, name := range usernames {
		u, err := s.user(name)
		if err == nil {
			_, err = u.appendContent("INBOX", c, imapserver.AppendOptions{}, nil)
		}
		perRecipient[i] = err
	}
	return perRecipient, nil
}
