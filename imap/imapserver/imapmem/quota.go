package imapmem

import (
	"context"
	"fmt"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// The user's one quota root, "" (see imapserver's quota notes), is the
// user record itself: usage is counted in user.usedStorage and
// user.usedMessages under user.mu by every append, copy, move, expunge,
// delivery and POP3 deletion, so IMAP, SMTP/LMTP and POP3 see the same
// figures and a limit is checked atomically with the change it limits.

var (
	_ imapserver.QuotaSetter  = (*userSession)(nil)
	_ imapserver.DeletedSizer = (*userSession)(nil)
)

// SetQuota implements imapserver.QuotaSetter (RFC 9208 §4.1.3): the
// limits given replace all previous ones; STORAGE is in octets. A limit
// of 0, which RFC 9208 §3.1.2 defines as "no use at all", cannot be kept
// by this store (0 means unlimited in Store.SetQuota) and is refused with
// imapserver.ErrQuotaNotSet. Limits below the current usage are accepted:
// they stop further additions.
func (s *userSession) SetQuota(ctx context.Context, root string, limits []imapserver.QuotaResource) ([]imapserver.QuotaResource, error) {
	if root != "" {
		return nil, fmt.Errorf("%w: %q", imapserver.ErrNoSuchQuotaRoot, root)
	}
	storage, messages := int64(0), int64(0)
	for _, l := range limits {
		if l.Limit <= 0 {
			return nil, fmt.Errorf("%w: %s limit %d", imapserver.ErrQuotaNotSet, l.Name, l.Limit)
		}
		switch l.Name {
		case "STORAGE":
			storage = l.Limit
		case "MESSAGE":
			messages = l.Limit
		default:
			return nil, fmt.Errorf("%w: resource %q", imapserver.ErrQuotaNotSet, l.Name)
		}
	}
	u := s.u
	u.mu.Lock()
	u.quotaStorage, u.quotaMessages = storage, messages
	u.mu.Unlock()
	return s.Quota(ctx)
}

// DeletedSize implements imapserver.DeletedSizer (RFC 9208 §4.1.4): the
// octets of the mailbox's messages flagged \Deleted.
func (s *userSession) DeletedSize(ctx context.Context, name string) (int64, error) {
	u := s.u
	u.mu.Lock()
	defer u.mu.Unlock()
	mb, err := u.selectableLocked(name)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, m := range mb.msgs {
		if m.hasFlag(`\Deleted`) {
			n += m.Size()
		}
	}
	return n, nil
}

// CheckQuota reports imapserver.ErrOverQuota when one more message of size
// octets would exceed the user's quota now, and ErrNoSuchUser for an
// unknown account. An SMTP server uses it to refuse a recipient early (at
// RCPT, with the size declared by MAIL SIZE=, RFC 1870); Deliver checks
// again, atomically with the delivery.
func (s *Store) CheckQuota(ctx context.Context, username string, size int64) error {
	u, err := s.user(username)
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.quotaCheckLocked(1, size)
}
