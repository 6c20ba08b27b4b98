package imapserver

import (
	"context"
	"errors"
)

// ErrNoSuchQuotaRoot: GETQUOTA or SETQUOTA named a quota root the user
// does not have (NO [NONEXISTENT], RFC 9208 §4.1.1).
var ErrNoSuchQuotaRoot = errors.New("imapserver: no such quota root")

// ErrQuotaNotSet: SETQUOTA asked for a resource or a limit the backend
// cannot apply (NO [CANNOT]; RFC 9208 §3.2: a client must be prepared
// for SETQUOTA to fail).
var ErrQuotaNotSet = errors.New("imapserver: quota limit cannot be set")

// QuotaSetter is an optional interface of User for SETQUOTA (RFC 9208
// §4.1.3). The server calls it only for users that Server.AllowSetQuota
// permits; the backend applies the limits it can and returns the
// resources as they are now (a limit may be rounded).
type QuotaSetter interface {
	// SetQuota replaces the limits of the quota root named root: every
	// resource not in limits becomes unlimited (RFC 9208 §4.1.3). Only
	// Name and Limit of each element are meaningful; STORAGE limits are in
	// octets, as in QuotaResource. It returns ErrNoSuchQuotaRoot for an
	// unknown root.
	SetQuota(ctx context.Context, root string, limits []QuotaResource) ([]QuotaResource, error)
}

// DeletedSizer is an optional interface of User for STATUS
// DELETED-STORAGE (RFC 9208 §4.1.4): the octets an EXPUNGE of the
// mailbox would free. Without it the server opens the mailbox read-only
// and adds up the sizes of the messages flagged \Deleted.
type DeletedSizer interface {
	DeletedSize(ctx context.Context, mailbox string) (int64, error)
}
