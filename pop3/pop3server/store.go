package pop3server

import (
	"context"
	"errors"
	"io"
	"syscall"

	"github.com/posthorn/posthorn/pop3"
)

// MaildropStore is a mail store whose maildrops POP3 serves through
// NewStoreBackend: the POP3 third of "one store, three protocols"
// (smtpserver.DeliveryStore and imapserver.Backend are the others). It
// uses standard types only, so a store satisfies it without importing
// this package; imapmem.Store and maildir.Store do, serving the INBOX.
//
// A session calls LockMaildrop once after login, then OpenMaildropMessage
// for RETR and TOP, then DeleteMaildropMessages at most once (in the
// UPDATE state, after QUIT), then the unlock function, always. The stores
// of this module check their conformance with internal/storetest.
type MaildropStore interface {
	// LockMaildrop takes the exclusive lock on username's maildrop (RFC
	// 1939 §4) and snapshots it: the unique-id listing and size of each
	// of its messages, in order (message n is uidls[n-1]). A UIDL is 1 to
	// 70 characters in 0x21..0x7E, unique in the maildrop and stable
	// across sessions (RFC 1939 §7); a size counts CRLF line ends, as
	// RETR sends the message (§5, "exact size"). Messages that arrive
	// later are not listed; the lock does not stop delivery or IMAP.
	//
	// unlock releases the lock; it deletes nothing. When another session
	// (of this process or another) holds the lock, LockMaildrop fails
	// with an error wrapping syscall.EBUSY, answered -ERR [IN-USE].
	LockMaildrop(ctx context.Context, username string) (uidls []string, sizes []int64, unlock func(), err error)

	// OpenMaildropMessage returns the message with the given UIDL from
	// the snapshot, with CRLF line ends. A message gone since (expunged
	// over IMAP, say) is reported with an error wrapping fs.ErrNotExist.
	// If the reader implements io.Closer, it is closed after use; if it
	// implements io.WriterTo, the message is copied without a buffer.
	OpenMaildropMessage(ctx context.Context, username, uidl string) (io.Reader, error)

	// DeleteMaildropMessages removes the messages with the given UIDLs,
	// all or nothing (RFC 1939 §6, UPDATE state). UIDLs already gone are
	// ignored. It is called with the lock held.
	DeleteMaildropMessages(ctx context.Context, username string, uidls []string) error
}

// NewStoreBackend returns a Backend that serves POP3 from store's
// maildrops. When Server.Auth is nil (or has no Credentials), the store
// itself verifies logins through whichever sasl credential interfaces it
// implements (sasl.PasswordVerifier for USER/PASS, as imapmem.Store
// does), as for any Backend.
//
// The store does not say which messages have UTF-8 header content (RFC
// 6532), so no Message is marked UTF8; the server finds such a header
// when a client that has not enabled UTF8 mode asks for the message, and
// refuses it with -ERR [UTF8] (RFC 6856 §2).
func NewStoreBackend(store MaildropStore) Backend {
	return &storeBackend{store: store}
}

type storeBackend struct{ store MaildropStore }

// backendCredentials is what verifies logins when Server.Auth names no
// Credentials: the Backend, or the store behind NewStoreBackend's.
func backendCredentials(b Backend) any {
	if sb, ok := b.(*storeBackend); ok {
		return sb.store
	}
	return b
}

var errStoreInUse = &pop3.Error{Code: pop3.CodeInUse, Text: "maildrop already in use"}

func (b *storeBackend) OpenMaildrop(ctx context.Context, username string, conn *ConnInfo) (Maildrop, error) {
	uidls, sizes, unlock, err := b.store.LockMaildrop(ctx, username)
	if errors.Is(err, syscall.EBUSY) {
		// RFC 2449 §8.1.2: another session holds the maildrop.
		return nil, errStoreInUse
	}
	if err != nil {
		return nil, err
	}
	if len(sizes) != len(uidls) {
		unlock()
		return nil, errors.New("pop3server: store listed sizes and UIDLs of different lengths")
	}
	return &storeMaildrop{store: b.store, user: username, uidls: uidls, sizes: sizes, unlock: unlock}, nil
}

// storeMaildrop is one session's snapshot.
type storeMaildrop struct {
	store  MaildropStore
	user   string
	uidls  []string
	sizes  []int64
	unlock func()
}

func (m *storeMaildrop) Messages(ctx context.Context) ([]Message, error) {
	out := make([]Message, len(m.uidls))
	for i, u := range m.uidls {
		out[i] = Message{UID: u, Size: m.sizes[i]}
	}
	return out, nil
}

func (m *storeMaildrop) Open(ctx context.Context, uid string) (io.Reader, error) {
	return m.store.OpenMaildropMessage(ctx, m.user, uid)
}

func (m *storeMaildrop) Delete(ctx context.Context, uids []string) error {
	return m.store.DeleteMaildropMessages(ctx, m.user, uids)
}

func (m *storeMaildrop) Close() error {
	m.unlock()
	return nil
}
