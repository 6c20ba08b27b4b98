package imapmem

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// handle implements imapserver.Mailbox: one session's view of a mailbox.
// pending is guarded by u.mu.
type handle struct {
	u        *user
	mb       *mailbox
	readOnly bool
	snap     imapserver.Snapshot
	pending  []imapserver.Update
	notify   func()
	closed   bool
}

func (h *handle) Name() string {
	h.u.mu.Lock()
	defer h.u.mu.Unlock()
	return h.mb.name
}

func (h *handle) ReadOnly() bool                { return h.readOnly }
func (h *handle) Snapshot() imapserver.Snapshot { return h.snap }

func (h *handle) SetNotify(fn func()) {
	h.u.mu.Lock()
	defer h.u.mu.Unlock()
	h.notify = fn
	if fn != nil && len(h.pending) > 0 {
		fn()
	}
}

func (h *handle) Poll() []imapserver.Update {
	h.u.mu.Lock()
	defer h.u.mu.Unlock()
	p := h.pending
	h.pending = nil
	// RFC 3501 §2.3.2: a new message is recent in the first session
	// told of it; claiming under u.mu keeps that to exactly one.
	mb := h.mb
	for i := range p {
		if p[i].Kind == imapserver.UpdateNew && p[i].UID >= mb.recentUID {
			p[i].Recent = true
			if !h.readOnly {
				mb.recentUID = p[i].UID + 1
			}
		}
	}
	return p
}

// liveLocked returns the mailbox unless it was deleted.
func (h *handle) liveLocked() (*mailbox, error) {
	if h.closed || h.mb.deleted {
		return nil, imapserver.ErrMailboxDeleted
	}
	return h.mb, nil
}

func (h *handle) Messages(ctx context.Context, uids []uint32) ([]imapserver.Message, error) {
	h.u.mu.Lock()
	defer h.u.mu.Unlock()
	mb, err := h.liveLocked()
	if err != nil {
		return nil, err
	}
	out := make([]imapserver.Message, 0, len(uids))
	// Both lists ascend: merge, with a binary search to skip ahead.
	i := 0
	for _, uid := range uids {
		if i < len(mb.msgs) && mb.msgs[i].uid < uid {
			i += sort.Search(len(mb.msgs)-i, func(k int) bool { return mb.msgs[i+k].uid >= uid })
		}
		if i < len(mb.msgs) && mb.msgs[i].uid == uid {
			out = append(out, mb.msgs[i])
			i++
		}
	}
	return out, nil
}

// sameUIDs reports whether uids are exactly the UIDs of msgs.
func sameUIDs(msgs []*message, uids []uint32) bool {
	if len(msgs) != len(uids) {
		return false
	}
	for i, m := range msgs {
		if m.uid != uids[i] {
			return false
		}
	}
	return true
}

// selectLocked returns the indexes of the messages with the given UIDs.
func selectLocked(mb *mailbox, uids []uint32) []int {
	idx := make([]int, 0, len(uids))
	if len(uids) < len(mb.msgs)/8 {
		for _, uid := range uids {
			if i := mb.find(uid); i >= 0 {
				idx = append(idx, i)
			}
		}
		return idx
	}
	// Many UIDs (a STORE or FETCH of 1:*): one merge walk, since both
	// lists ascend, instead of a binary search each.
	j := 0
	for _, uid := range uids {
		for j < len(mb.msgs) && mb.msgs[j].uid < uid {
			j++
		}
		if j == len(mb.msgs) {
			break
		}
		if mb.msgs[j].uid == uid {
			idx = append(idx, j)
		}
	}
	return idx
}

func (h *handle) SetFlags(ctx context.Context, uids []uint32, op imapserver.FlagOp, flags []string, unchangedSince uint64) (imapserver.StoreResult, error) {
	if h.readOnly {
		return imapserver.StoreResult{}, imapserver.ErrReadOnly
	}
	flags = normFlags(flags)
	h.u.mu.Lock()
	defer h.u.mu.Unlock()
	mb, err := h.liveLocked()
	if err != nil {
		return imapserver.StoreResult{}, err
	}
	var res imapserver.StoreResult
	var modSeq uint64
	// A STORE on the whole mailbox (1:*) walks it without an index list.
	all := sameUIDs(mb.msgs, uids)
	var idx []int
	n := len(mb.msgs)
	if !all {
		idx = selectLocked(mb, uids)
		n = len(idx)
	}
	// New records and flag lists come from two arenas: a STORE on a whole
	// mailbox costs a few allocations, not two per message.
	recs := make([]message, 0, n)
	var arena, scratch []string
	var st *flagState
	res.Changed = make([]imapserver.FlagChange, 0, n)
	// Other handles are told in one batch at the end.
	var ups []imapserver.Update
	keep := mb.view != nil && keepsView(op, flags)
	for k := range n {
		i := k
		if !all {
			i = idx[k]
		}
		m := mb.msgs[i]
		// RFC 7162 §3.1.3: refuse messages changed after UNCHANGEDSINCE.
		if unchangedSince != 0 && m.modSeq > unchangedSince {
			res.Modified = append(res.Modified, m.uid)
			continue
		}
		var changed bool
		scratch, changed = applyFlags(scratch, m.flags, uint8(op), flags)
		if !changed {
			res.Changed = append(res.Changed, imapserver.FlagChange{UID: m.uid, Flags: m.flags, ModSeq: m.modSeq})
			continue
		}
		if modSeq == 0 {
			mb.modSeq++
			modSeq = mb.modSeq
		}
		// Flag states are immutable: a message that ends up with the same
		// flags as the previous one shares its state (a STORE of 1:*
		// mostly makes a few distinct ones), and the new record is two
		// pointers.
		if st == nil || !slices.Equal(scratch, st.flags) {
			if cap(arena)-len(arena) < len(scratch) {
				arena = make([]string, 0, max(256, 4*len(scratch), n*len(scratch)/4))
			}
			arena = append(arena, scratch...)
			st = &flagState{modSeq: modSeq, flags: arena[len(arena)-len(scratch) : len(arena) : len(arena)]}
		}
		nf := st.flags
		recs = append(recs, message{msgData: m.msgData, flagState: st})
		nm := &recs[len(recs)-1]
		mb.msgs[i] = nm
		if keep {
			mb.view.flagsChanged(m.uid, m.flags, nf)
		} else {
			mb.view = nil
		}
		res.Changed = append(res.Changed, imapserver.FlagChange{UID: m.uid, Flags: nf, ModSeq: modSeq})
		u := imapserver.Update{Kind: imapserver.UpdateFlags, UID: m.uid, Flags: nf, ModSeq: modSeq}
		if len(mb.handles) == 1 {
			mb.noteChangeLocked(u) // no one else to tell
			continue
		}
		if ups == nil {
			ups = make([]imapserver.Update, 0, n)
		}
		ups = append(ups, u)
	}
	if len(ups) > 0 {
		mb.publishFlagsLocked(ups, h)
	}
	return res, nil
}

func (h *handle) copyLocked(uids []uint32, dest string, move bool) (*mailbox, imapserver.CopyResult, []*message, error) {
	mb, err := h.liveLocked()
	if err != nil {
		return nil, imapserver.CopyResult{}, nil, err
	}
	dst, err := h.u.selectableLocked(dest)
	if err != nil {
		return nil, imapserver.CopyResult{}, nil, fmt.Errorf("%w [TRYCREATE]", err)
	}
	var src []*message
	var size int64
	for _, i := range selectLocked(mb, uids) {
		src = append(src, mb.msgs[i])
		size += mb.msgs[i].Size()
	}
	// A move stays within the user's one quota root: no net change
	// (RFC 9208 §4.3.1 is about additions), so a user at the limit can
	// still move mail to Trash.
	if err := h.u.quotaCheckLocked(int64(len(src)), size); err != nil && !move {
		return nil, imapserver.CopyResult{}, nil, err
	}
	res := imapserver.CopyResult{UIDValidity: dst.uidValidity}
	if len(src) == 0 {
		return dst, res, nil, nil
	}
	dst.modSeq++
	for _, m := range src {
		nm := h.u.appendLocked(dst, m.c, m.flags, m.date, dst.modSeq, h)
		res.SourceUIDs = append(res.SourceUIDs, m.uid)
		res.DestUIDs = append(res.DestUIDs, nm.uid)
	}
	return dst, res, src, nil
}

func (h *handle) Copy(ctx context.Context, uids []uint32, dest string) (imapserver.CopyResult, error) {
	h.u.mu.Lock()
	defer h.u.mu.Unlock()
	_, res, _, err := h.copyLocked(uids, dest, false)
	return res, err
}

func (h *handle) Move(ctx context.Context, uids []uint32, dest string) (imapserver.CopyResult, error) {
	if h.readOnly {
		return imapserver.CopyResult{}, imapserver.ErrReadOnly
	}
	h.u.mu.Lock()
	defer h.u.mu.Unlock()
	_, res, src, err := h.copyLocked(uids, dest, true)
	if err != nil || len(src) == 0 {
		return res, err
	}
	moved := make(map[*message]bool, len(src))
	for _, m := range src {
		moved[m] = true
	}
	h.u.expungeLocked(h.mb, func(m *message) bool { return moved[m] }, h)
	return res, nil
}

func (h *handle) Expunge(ctx context.Context, uids []uint32) error {
	if h.readOnly {
		return imapserver.ErrReadOnly
	}
	h.u.mu.Lock()
	defer h.u.mu.Unlock()
	mb, err := h.liveLocked()
	if err != nil {
		return err
	}
	var want map[uint32]bool
	if uids != nil {
		want = make(map[uint32]bool, len(uids))
		for _, u := range uids {
			want[u] = true
		}
	}
	h.u.expungeLocked(mb, func(m *message) bool {
		return m.hasFlag(`\Deleted`) && (want == nil || want[m.uid])
	}, h)
	return nil
}

// ExpungedSince implements imapserver.ExpungeHistory.
func (h *handle) ExpungedSince(ctx context.Context, modSeq uint64) ([]uint32, error) {
	h.u.mu.Lock()
	defer h.u.mu.Unlock()
	mb, err := h.liveLocked()
	if err != nil {
		return nil, err
	}
	if modSeq < mb.changes.expiredTo {
		return nil, imapserver.ErrHistoryExpired // condstore.go
	}
	i := sort.Search(len(mb.expunged), func(i int) bool { return mb.expunged[i].modSeq > modSeq })
	out := make([]uint32, 0, len(mb.expunged)-i)
	for _, e := range mb.expunged[i:] {
		out = append(out, e.uid)
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out, nil
}

func (h *handle) Close() error {
	h.u.mu.Lock()
	defer h.u.mu.Unlock()
	if !h.closed {
		h.closed = true
		delete(h.mb.handles, h)
		h.pending = nil
	}
	return nil
}
