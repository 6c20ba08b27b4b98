package pop3client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/posthorn/posthorn/pop3"
)

// DownloadOptions configures Download.
type DownloadOptions struct {
	// Seen maps the UIDs already downloaded to the time they were first
	// downloaded; Download adds the messages it saves. The caller keeps
	// it between sessions (leave-on-server state). nil means none seen.
	Seen map[string]time.Time
	// Save stores one message. It must return nil only once the message is
	// safely stored (written and synced): only then is the message
	// recorded in Seen and possibly marked for deletion. The reader must
	// not be used after Save returns.
	Save func(ctx context.Context, uid string, r io.Reader) error
	// DeleteAfterSave marks each message deleted once Save succeeded.
	DeleteAfterSave bool
	// DeleteAfter marks messages deleted whose first download lies at
	// least this long in the past ("delete after N days"). 0 disables.
	DeleteAfter time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// DownloadReport says what Download did.
type DownloadReport struct {
	// Downloaded lists the UIDs saved in this run, in message order.
	Downloaded []string
	// Skipped is the number of messages already in Seen.
	Skipped int
	// Deleted lists the UIDs marked deleted, once the server acknowledged
	// every DELE. The server removes them only when Quit succeeds.
	Deleted []string
	// Failed maps the UIDs whose Save failed to its error; they are
	// neither recorded nor deleted and will be tried again next time.
	Failed map[string]error
	// Forgotten lists UIDs that were in Seen but are no longer on the
	// server; Download removed them from Seen.
	Forgotten []string
}

// ErrNoUIDL is returned by Download when the server does not implement
// UIDL, without which messages cannot be left on the server safely.
var ErrNoUIDL = errors.New("pop3client: server does not support UIDL")

// Download fetches the messages not yet seen, leaving the others on the
// server (the "leave mail on server" mode of mail clients, RFC 1939 §7
// UIDL). Messages are marked deleted only after a successful Save or when
// older than DeleteAfter; call Quit afterwards to make deletions happen.
// Save errors are collected in the report and do not stop the run; a
// protocol or connection error does, returning the report so far.
func (c *Client) Download(ctx context.Context, opts DownloadOptions) (*DownloadReport, error) {
	if opts.Save == nil {
		return nil, errors.New("pop3client: DownloadOptions.Save is nil")
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if opts.Seen == nil {
		opts.Seen = map[string]time.Time{}
	}
	rep := &DownloadReport{Failed: map[string]error{}}
	list, err := c.Uidl(ctx)
	if err != nil {
		if _, isErr := pop3.AsError(err); isErr {
			return rep, fmt.Errorf("%w: %v", ErrNoUIDL, err)
		}
		return rep, err
	}
	onServer := make(map[string]bool, len(list))
	var toDelete []int
	var delUIDs []string
	for _, m := range list {
		onServer[m.UID] = true
		if first, ok := opts.Seen[m.UID]; ok {
			rep.Skipped++
			if opts.DeleteAfter > 0 && now().Sub(first) >= opts.DeleteAfter {
				toDelete = append(toDelete, m.Num)
				delUIDs = append(delUIDs, m.UID)
			}
			continue
		}
		r, err := c.Retr(ctx, m.Num)
		if err != nil {
			if _, isErr := pop3.AsError(err); isErr {
				// Gone since LIST, or refused: try again next time.
				rep.Failed[m.UID] = err
				continue
			}
			return rep, err
		}
		serr := opts.Save(ctx, m.UID, r)
		// Drain what Save left so the session stays in step, and see
		// whether the transfer itself was complete.
		cerr := r.Close()
		if cerr != nil && c.broken != nil {
			return rep, cerr
		}
		if serr == nil {
			serr = cerr
		}
		if serr != nil {
			rep.Failed[m.UID] = serr
			continue
		}
		opts.Seen[m.UID] = now()
		rep.Downloaded = append(rep.Downloaded, m.UID)
		if opts.DeleteAfterSave {
			toDelete = append(toDelete, m.Num)
			delUIDs = append(delUIDs, m.UID)
		}
	}
	for uid := range opts.Seen {
		if !onServer[uid] {
			delete(opts.Seen, uid)
			rep.Forgotten = append(rep.Forgotten, uid)
		}
	}
	if len(toDelete) > 0 {
		if err := c.DeleMany(ctx, toDelete); err != nil {
			return rep, err
		}
		rep.Deleted = delUIDs
	}
	return rep, nil
}
