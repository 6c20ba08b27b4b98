package maildir

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
)

var (
	_ imapserver.Mailbox        = (*handle)(nil)
	_ imapserver.ExpungeHistory = (*handle)(nil)
	_ imapserver.ChangeIndex    = (*handle)(nil)
	_ imapserver.ParseCache     = (*message)(nil)
)

// handle implements imapserver.Mailbox. pending is guarded by user.mu.
type handle struct {
	u        *user
	mb       *mailbox
	readOnly bool
	snap     imapserver.Snapshot
	pending  []imapserver.Update
	notify   func()
	closed   bool
	lastScan time.Time
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

// Poll returns the changes since the last Poll. At most once a second
// it also looks whether another program changed the folder.
func (h *handle) Poll() []imapserver.Update {
	h.u.mu.Lock()
	defer h.u.mu.Unlock()
	mb := h.mb
	if !h.closed && !mb.deleted {
		if now := time.Now(); now.Sub(h.lastScan) >= time.Second {
			h.lastScan = now
			if err := mb.rescanLocked(); err != nil {
				h.u.s.logger.Warn("maildir: rescan", "mailbox", mb.name, "err", err)
			}
		}
	}
	p := h.pending
	h.pending = nil
	for i := range p {
		if p[i].Kind == imapserver.UpdateNew && p[i].UID >= mb.recentUID {
			p[i].Recent = true
			if !h.readOnly {
				mb.recentUID = p[i].UID + 1
			}
		}
	}
	mb.saveRecentLocked()
	return p
}

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
	for _, i := range selectLocked(mb, uids) {
		out = append(out, mb.msgs[i])
	}
	return out, nil
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
	if op != imapserver.FlagsRemove {
		mb.keywordLettersLocked(flags)
	}
	var res imapserver.StoreResult
	var modSeq uint64
	var recs []*record
	var ups []imapserver.Update
	for _, i := range selectLocked(mb, uids) {
		m := mb.msgs[i]
		if unchangedSince != 0 && m.modSeq > unchangedSince {
			res.Modified = append(res.Modified, m.uid)
			continue
		}
		nf, changed := applyFlags(m.flags, uint8(op), flags)
		if !changed {
			res.Changed = append(res.Changed, imapserver.FlagChange{UID: m.uid, Flags: m.flags, ModSeq: m.modSeq})
			continue
		}
		if modSeq == 0 {
			mb.modSeq++
			modSeq = mb.modSeq
		}
		mb.renameForFlagsLocked(m, nf)
		mb.msgs[i] = &message{m.msgData, &flagState{modSeq: modSeq, flags: nf}}
		recs = append(recs, &record{kind: 'F', modSeq: modSeq, uid: m.uid, flags: nf})
		res.Changed = append(res.Changed, imapserver.FlagChange{UID: m.uid, Flags: nf, ModSeq: modSeq})
		ups = append(ups, imapserver.Update{Kind: imapserver.UpdateFlags, UID: m.uid, Flags: nf, ModSeq: modSeq})
	}
	if err := mb.writeLogLocked(recs...); err != nil {
		return res, err
	}
	for _, u := range ups {
		mb.publishLocked(u, h)
	}
	if len(recs) > 0 {
		mb.stampLocked()
		if err := mb.maybeCheckpointLocked(); err != nil {
			return res, err
		}
	}
	return res, nil
}

// copyReq prepares a COPY or MOVE: links of the source files into the
// destination, committed like deliveries.
func (h *handle) copyReq(uids []uint32, dest string, move bool) (*commitReq, []*message, error) {
	h.u.mu.Lock()
	defer h.u.mu.Unlock()
	mb, err := h.liveLocked()
	if err != nil {
		return nil, nil, err
	}
	if _, err := h.u.selectableLocked(dest); err != nil {
		return nil, nil, fmt.Errorf("%w [TRYCREATE]", err)
	}
	req := &commitReq{mailbox: dest, quota: !move, origin: h}
	var src []*message
	for _, i := range selectLocked(mb, uids) {
		m := mb.msgs[i]
		src = append(src, m)
		base := h.u.s.uniqueBase()
		if s, ok := sizeField(m.base, 'S'); ok {
			base = fmt.Sprintf("%s,S=%d,W=%d", base, s, m.vsize)
		}
		pf := &pendingFile{linkFrom: m, base: base, flags: m.flags, date: m.date, vsize: m.vsize, raw: m.raw}
		if loc := m.sum.Load(); loc != 0 {
			pf.sum = mb.readSummary(m.msgData, loc) // the copy's summary too
		}
		req.files = append(req.files, pf)
	}
	return req, src, nil
}

func (h *handle) Copy(ctx context.Context, uids []uint32, dest string) (imapserver.CopyResult, error) {
	return h.copyOrMove(uids, dest, false)
}

func (h *handle) Move(ctx context.Context, uids []uint32, dest string) (imapserver.CopyResult, error) {
	if h.readOnly {
		return imapserver.CopyResult{}, imapserver.ErrReadOnly
	}
	return h.copyOrMove(uids, dest, true)
}

func (h *handle) copyOrMove(uids []uint32, dest string, move bool) (imapserver.CopyResult, error) {
	req, src, err := h.copyReq(uids, dest, move)
	if err != nil {
		return imapserver.CopyResult{}, err
	}
	if len(src) == 0 {
		h.u.mu.Lock()
		dst, err := h.u.selectableLocked(dest)
		h.u.mu.Unlock()
		if err != nil {
			return imapserver.CopyResult{}, err
		}
		return imapserver.CopyResult{UIDValidity: dst.uidValidity}, nil
	}
	if move {
		moved := make(map[*msgData]bool, len(src))
		for _, m := range src {
			moved[m.msgData] = true
		}
		// RFC 6851: gone here in the same step as they appear there.
		req.after = func(*mailbox) {
			if !h.mb.deleted {
				h.mb.expungeLocked(func(m *message) bool { return moved[m.msgData] }, h, false)
			}
		}
	}
	if err := h.u.commit.submit(req); err != nil {
		return imapserver.CopyResult{}, err
	}
	res := imapserver.CopyResult{}
	for i, r := range req.res {
		res.UIDValidity = r.UIDValidity
		res.SourceUIDs = append(res.SourceUIDs, src[i].uid)
		res.DestUIDs = append(res.DestUIDs, r.UID)
	}
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
	if err := mb.expungeLocked(func(m *message) bool {
		return m.hasFlag(`\Deleted`) && (want == nil || want[m.uid])
	}, h, false); err != nil {
		return err
	}
	mb.stampLocked()
	return mb.maybeCheckpointLocked()
}

// ExpungedSince implements imapserver.ExpungeHistory.
func (h *handle) ExpungedSince(ctx context.Context, modSeq uint64) ([]uint32, error) {
	h.u.mu.Lock()
	defer h.u.mu.Unlock()
	mb, err := h.liveLocked()
	if err != nil {
		return nil, err
	}
	if modSeq < mb.expiredTo {
		return nil, imapserver.ErrHistoryExpired
	}
	i := sort.Search(len(mb.expunged), func(i int) bool { return mb.expunged[i].modSeq > modSeq })
	out := make([]uint32, 0, len(mb.expunged)-i)
	for _, e := range mb.expunged[i:] {
		out = append(out, e.uid)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// ChangedSince implements imapserver.ChangeIndex (a walk over the
// mailbox in memory; no file is read).
func (h *handle) ChangedSince(ctx context.Context, modSeq uint64) ([]imapserver.Message, error) {
	h.u.mu.Lock()
	defer h.u.mu.Unlock()
	mb, err := h.liveLocked()
	if err != nil {
		return nil, err
	}
	var out []imapserver.Message
	for _, m := range mb.msgs {
		if m.modSeq > modSeq {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b imapserver.Message) int { return cmp.Compare(a.UID(), b.UID()) })
	return out, nil
}

func (h *handle) Close() error {
	h.u.mu.Lock()
	defer h.u.mu.Unlock()
	if !h.closed {
		h.closed = true
		delete(h.mb.handles, h)
		h.pending = nil
		h.mb.closedLocked(h)
	}
	return nil
}
