package imapmem

import (
	"cmp"
	"context"
	"slices"
	"sort"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// changeLog indexes a mailbox's messages by mod-sequence, so that
// "which messages changed since n" (RFC 7162 §3.2.5.1, FETCH
// CHANGEDSINCE) costs time proportional to the changes, not to the
// mailbox. It is built on first use from the messages (once per mailbox)
// and then kept up to date from publishLocked: every new message and
// flag change appends one record, in mod-sequence order. Records of
// messages changed again or expunged go stale; when stale records
// outnumber live messages the log is rebuilt, so its size stays
// proportional to the mailbox and the rebuild cost amortises to
// O(log n) per change. Guarded by user.mu like the mailbox.
type changeLog struct {
	built bool
	recs  []changeRec // non-decreasing modSeq
}

type changeRec struct {
	modSeq uint64
	uid    uint32
}

// noteChangeLocked records one published change (called by publishLocked).
func (mb *mailbox) noteChangeLocked(u imapserver.Update) {
	l := &mb.changes
	switch u.Kind {
	case imapserver.UpdateNew, imapserver.UpdateFlags:
		if !l.built {
			return
		}
		l.recs = append(l.recs, changeRec{u.ModSeq, u.UID})
		if len(l.recs) > 2*len(mb.msgs)+1024 {
			l.rebuild(mb)
		}
	case imapserver.UpdateDeleted:
		*l = changeLog{}
	}
}

// rebuild makes one record per message, sorted by mod-sequence.
func (l *changeLog) rebuild(mb *mailbox) {
	recs := l.recs[:0]
	if cap(recs) < len(mb.msgs) {
		recs = make([]changeRec, 0, len(mb.msgs)+len(mb.msgs)/4)
	}
	for _, m := range mb.msgs {
		recs = append(recs, changeRec{m.modSeq, m.uid})
	}
	slices.SortFunc(recs, func(a, b changeRec) int {
		if c := cmp.Compare(a.modSeq, b.modSeq); c != 0 {
			return c
		}
		return cmp.Compare(a.uid, b.uid)
	})
	l.recs, l.built = recs, true
}

// ChangedSince implements imapserver.ChangeIndex.
func (h *handle) ChangedSince(ctx context.Context, modSeq uint64) ([]uint32, error) {
	h.u.mu.Lock()
	defer h.u.mu.Unlock()
	mb, err := h.liveLocked()
	if err != nil {
		return nil, err
	}
	l := &mb.changes
	if !l.built {
		l.rebuild(mb)
	}
	i := sort.Search(len(l.recs), func(i int) bool { return l.recs[i].modSeq > modSeq })
	out := make([]uint32, 0, len(l.recs)-i)
	for _, r := range l.recs[i:] {
		// A record of an expunged message is stale.
		if j := mb.find(r.uid); j >= 0 && mb.msgs[j].modSeq > modSeq {
			out = append(out, r.uid)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
