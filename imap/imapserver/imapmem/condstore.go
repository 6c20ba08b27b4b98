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
// and then kept up to date from publishLocked: every new message, flag
// change and expunge appends one record, in mod-sequence order, holding
// the new message record (nil for an expunge). The last record of a UID
// is its current state, so a scan of the records after n finds the
// changed messages without searching the mailbox. Earlier records go
// stale; when the records outnumber the messages twice over the log is
// rebuilt, so its size stays proportional to the mailbox and the
// rebuild cost amortises to O(log n) per change. Guarded by user.mu like
// the mailbox.
type changeLog struct {
	built bool
	recs  []changeRec // non-decreasing modSeq
	next  int         // where the next change is likely to be in mb.msgs
	// expiredTo is the highest mod-sequence of the expunge records
	// forgotten (see trimExpunged); 0 when none was.
	expiredTo uint64
	// maxExpunged bounds the expunge history; 0 means maxExpungeHistory.
	maxExpunged int
}

// maxExpungeHistory is how many expunges a mailbox remembers for QRESYNC
// at least (RFC 7162 §5.3 asks for a bound: a mailbox with much churn
// would otherwise keep 16 bytes per expunged message for ever). A client
// whose last resync is older than the oldest kept is told every known
// UID missing from the mailbox (imapserver.ErrHistoryExpired).
const maxExpungeHistory = 1 << 16

type changeRec struct {
	modSeq uint64
	uid    uint32
	msg    *message // nil: expunged
}

// noteChangeLocked records one published change (called by publishLocked).
func (mb *mailbox) noteChangeLocked(u imapserver.Update) {
	l := &mb.changes
	switch u.Kind {
	case imapserver.UpdateNew, imapserver.UpdateFlags:
		if !l.built {
			return
		}
		// The caller put the new record in mb.msgs before publishing.
		if i := l.find(mb, u.UID); i >= 0 {
			l.recs = append(l.recs, changeRec{u.ModSeq, u.UID, mb.msgs[i]})
		}
		if len(l.recs) > 2*len(mb.msgs)+1024 {
			l.rebuild(mb)
		}
	case imapserver.UpdateExpunge:
		if l.built {
			l.recs = append(l.recs, changeRec{u.ModSeq, u.UID, nil})
		}
		l.trimExpunged(mb)
	case imapserver.UpdateDeleted:
		*l = changeLog{}
	}
}

// trimExpunged forgets the oldest expunge records once there are twice
// the bound, keeping the newest, so trimming costs O(1) per expunge.
// Records of one EXPUNGE share a mod-sequence and go together.
func (l *changeLog) trimExpunged(mb *mailbox) {
	limit := l.maxExpunged
	if limit == 0 {
		limit = maxExpungeHistory
	}
	if len(mb.expunged) <= 2*limit {
		return
	}
	cut := len(mb.expunged) - limit
	last := mb.expunged[cut-1].modSeq
	for cut < len(mb.expunged) && mb.expunged[cut].modSeq == last {
		cut++
	}
	l.expiredTo = last
	mb.expunged = slices.Clone(mb.expunged[cut:])
}

// find returns the index of uid in mb.msgs, or -1. A STORE publishes
// its changes in ascending UID order and an append is the last message:
// both are found without a search.
func (l *changeLog) find(mb *mailbox, uid uint32) int {
	for _, i := range [2]int{l.next, len(mb.msgs) - 1} {
		if i >= 0 && i < len(mb.msgs) && mb.msgs[i].uid == uid {
			l.next = i + 1
			return i
		}
	}
	i := mb.find(uid)
	l.next = i + 1
	return i
}

// rebuild makes one record per message, sorted by mod-sequence.
func (l *changeLog) rebuild(mb *mailbox) {
	recs := l.recs[:0]
	if cap(recs) < len(mb.msgs) {
		recs = make([]changeRec, 0, len(mb.msgs)+len(mb.msgs)/4)
	}
	for _, m := range mb.msgs {
		recs = append(recs, changeRec{m.modSeq, m.uid, m})
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
func (h *handle) ChangedSince(ctx context.Context, modSeq uint64) ([]imapserver.Message, error) {
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
	start := sort.Search(len(l.recs), func(i int) bool { return l.recs[i].modSeq > modSeq })
	// By UID, and for each UID its last record: the current message, or
	// nil when it was expunged. A message changed after modSeq has its
	// current record here, its mod-sequence being at least the record's.
	// The sort moves small pointer-free pairs, not the records.
	type pos struct {
		uid uint32
		i   int32 // index in l.recs: later is newer
	}
	ps := make([]pos, 0, len(l.recs)-start)
	for i := start; i < len(l.recs); i++ {
		ps = append(ps, pos{l.recs[i].uid, int32(i)})
	}
	slices.SortFunc(ps, func(a, b pos) int {
		if c := cmp.Compare(a.uid, b.uid); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	out := make([]imapserver.Message, 0, len(ps))
	for j, p := range ps {
		if j+1 < len(ps) && ps[j+1].uid == p.uid {
			continue
		}
		if m := l.recs[p.i].msg; m != nil {
			out = append(out, m)
		}
	}
	return out, nil
}
