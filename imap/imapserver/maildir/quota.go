package maildir

import (
	"encoding/json"
	"path/filepath"
)

// Quota usage (RFC 9208) is the sum over the user's mailboxes of their
// messages and sizes. A mailbox in memory knows its own; for the others
// the user's posthorn-quota file keeps each mailbox's usage as it was
// last known together with what identifies that state on disk: the
// modification times of cur and new and the length of posthorn-index.
// A delivery therefore reads no mailbox but its own: three stats per
// other mailbox tell whether its recorded usage still holds. When they
// differ (another program added or removed files, the process died
// before it wrote the file, a power cut undid index records or the
// file) that mailbox is loaded and counted again, which also brings in
// other writers' changes; so the file needs no fsync: a stale or lost
// one costs a recount, never a wrong figure.
const quotaName = "posthorn-quota"

// quotaEntry is one mailbox's usage and the state it was counted in.
type quotaEntry struct {
	Size  int64 `json:"size"`
	Count int64 `json:"count"`
	Cur   int64 `json:"cur"`   // mtime of cur, ns
	New   int64 `json:"new"`   // mtime of new, ns
	Index int64 `json:"index"` // length of posthorn-index
}

// loadQuotaLocked reads posthorn-quota (a missing or bad file is an
// empty one: everything is counted again).
func (u *user) loadQuotaLocked() {
	u.quotaCache = map[string]quotaEntry{}
	if data, err := u.s.fs.ReadFile(filepath.Join(u.dir, quotaName)); err == nil {
		var m map[string]quotaEntry
		if json.Unmarshal(data, &m) == nil {
			u.quotaCache = m
		}
	}
}

// quotaEntryValid reports whether e still describes the mailbox on disk.
func (mb *mailbox) quotaEntryValid(e quotaEntry) bool {
	fsys := mb.u.s.fs
	for i, sub := range []string{"cur", "new"} {
		info, err := fsys.Stat(mb.path(sub))
		if err != nil {
			return false
		}
		want := e.Cur
		if i == 1 {
			want = e.New
		}
		if info.ModTime().UnixNano() != want {
			return false
		}
	}
	info, err := fsys.Stat(mb.path(indexName))
	return err == nil && info.Size() == e.Index
}

// quotaEntryLocked describes a loaded mailbox as it is in memory: the
// directory times of our last scan or change (a later change by another
// program makes the entry fail the check) and the index length now.
func (mb *mailbox) quotaEntryLocked() (quotaEntry, bool) {
	info, err := mb.u.s.fs.Stat(mb.path(indexName))
	if err != nil || mb.dirStamp[0].IsZero() || mb.dirStamp[1].IsZero() {
		return quotaEntry{}, false
	}
	return quotaEntry{Size: mb.size, Count: int64(len(mb.msgs)), Cur: mb.dirStamp[0].UnixNano(), New: mb.dirStamp[1].UnixNano(), Index: info.Size()}, true
}

// saveQuotaLocked rewrites posthorn-quota from the loaded mailboxes and
// the entries still on file for the others. Not synced (see above).
func (u *user) saveQuotaLocked() {
	m := make(map[string]quotaEntry, len(u.mailboxes))
	for name, mb := range u.mailboxes {
		if mb.deleted {
			continue
		}
		if mb.loaded && len(mb.incoming) == 0 {
			if e, ok := mb.quotaEntryLocked(); ok {
				m[name] = e
			}
		} else if e, ok := u.quotaCache[name]; ok {
			m[name] = e
		}
	}
	u.quotaCache = m
	data, _ := json.Marshal(m)
	if err := writeFileAtomic(u.s.fs, filepath.Join(u.dir, quotaName), data, false); err != nil {
		u.s.logger.Warn("maildir: writing quota usage", "user", u.name, "err", err)
	}
}

// usageLocked returns the user's usage over all mailboxes plus what
// deliveries in flight reserved: loaded mailboxes from memory (rescanned
// first if another program changed them), the others from posthorn-quota
// while it holds, else by loading them.
func (u *user) usageLocked() (storage, messages int64, err error) {
	recounted := false
	for name, mb := range u.mailboxes {
		if mb.deleted {
			continue
		}
		if !mb.loaded {
			if e, ok := u.quotaCache[name]; ok && mb.quotaEntryValid(e) {
				storage += e.Size
				messages += e.Count
				continue
			}
			if err := mb.loadLocked(); err != nil {
				return 0, 0, err
			}
			recounted = true
		} else if len(mb.incoming) == 0 {
			// Other writers: two stats, a listing only when changed.
			if err := mb.rescanLocked(); err != nil {
				return 0, 0, err
			}
		}
		storage += mb.size
		messages += int64(len(mb.msgs))
	}
	if recounted {
		u.saveQuotaLocked()
	}
	return storage + u.reserved, messages + u.reservedMsgs, nil
}
