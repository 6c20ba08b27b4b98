package imapmem

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
)

type expungeRec struct {
	uid    uint32
	modSeq uint64
}

type mailbox struct {
	name        string
	specialUse  []string
	noSelect    bool // kept only as a level above its children
	deleted     bool
	uidValidity uint32
	uidNext     uint32
	modSeq      uint64
	// recentUID is the first UID no session has claimed as \Recent
	// (RFC 3501 §2.3.2); 0 counts as 1.
	recentUID uint32
	msgs      []*message // ascending UID
	size      int64
	expunged  []expungeRec // ascending modSeq
	handles   map[*handle]struct{}
	changes   changeLog // index by mod-sequence (condstore.go)
	view      *view     // nil after a change (view.go)
}

// find returns the index of uid in mb.msgs, or -1.
func (mb *mailbox) find(uid uint32) int {
	i := sort.Search(len(mb.msgs), func(i int) bool { return mb.msgs[i].uid >= uid })
	if i < len(mb.msgs) && mb.msgs[i].uid == uid {
		return i
	}
	return -1
}

// publishLocked records an update for every open handle of mb.
func (mb *mailbox) publishLocked(upd imapserver.Update, origin *handle) {
	mb.view = nil
	mb.noteChangeLocked(upd)
	for h := range mb.handles {
		u := upd
		u.Own = h == origin
		if u.Own && u.Kind == imapserver.UpdateFlags {
			continue // SetFlags's result told the caller (see Mailbox.Poll)
		}
		h.pending = append(h.pending, u)
		if h.notify != nil {
			h.notify()
		}
	}
}

// publishFlagsLocked publishes the flag changes of one SetFlags through
// handle origin: as publishLocked for each, but walking the handles once
// (a STORE on a whole mailbox makes thousands). The origin's own flag
// changes are not queued (see publishLocked).
func (mb *mailbox) publishFlagsLocked(ups []imapserver.Update, origin *handle) {
	for _, u := range ups {
		mb.noteChangeLocked(u)
	}
	for h := range mb.handles {
		if h == origin {
			continue
		}
		h.pending = append(h.pending, ups...)
		if h.notify != nil {
			h.notify()
		}
	}
}

func (u *user) createLocked(name string, use []string) *mailbox {
	mb := &mailbox{
		name:        name,
		specialUse:  use,
		uidValidity: u.store.newValidity(),
		uidNext:     1,
		modSeq:      1,
		handles:     make(map[*handle]struct{}),
	}
	u.mailboxes[name] = mb
	u.list = nil
	return mb
}

// selectable returns the mailbox called name, if it can hold messages.
func (u *user) selectableLocked(name string) (*mailbox, error) {
	mb, ok := u.mailboxes[canonicalName(name)]
	if !ok || mb.noSelect {
		return nil, fmt.Errorf("%w: %q", imapserver.ErrNoSuchMailbox, name)
	}
	return mb, nil
}

// appendLocked adds a message; the caller checked the quota.
func (u *user) appendLocked(mb *mailbox, c *content, flags []string, date time.Time, modSeq uint64, origin *handle) *message {
	m := &message{msgData: &msgData{uid: mb.uidNext, date: date, c: c}, flagState: &flagState{modSeq: modSeq, flags: flags}}
	mb.uidNext++
	mb.msgs = append(mb.msgs, m)
	mb.size += m.Size()
	u.usedMessages++
	u.usedStorage += m.Size()
	mb.publishLocked(imapserver.Update{Kind: imapserver.UpdateNew, UID: m.uid, Flags: flags, ModSeq: modSeq}, origin)
	return m
}

// expungeLocked removes the messages for which del returns true.
func (u *user) expungeLocked(mb *mailbox, del func(*message) bool, origin *handle) []uint32 {
	var gone []uint32
	var modSeq uint64
	kept := mb.msgs[:0]
	for _, m := range mb.msgs {
		if !del(m) {
			kept = append(kept, m)
			continue
		}
		if modSeq == 0 {
			mb.modSeq++
			modSeq = mb.modSeq
		}
		gone = append(gone, m.uid)
		mb.size -= m.Size()
		u.usedMessages--
		u.usedStorage -= m.Size()
		mb.expunged = append(mb.expunged, expungeRec{m.uid, modSeq})
		// Records are immutable and the content shared: the update keeps
		// the message readable for sessions not told yet (RFC 2180 §4.1.1).
		mb.publishLocked(imapserver.Update{Kind: imapserver.UpdateExpunge, UID: m.uid, ModSeq: modSeq, Message: m}, origin)
	}
	clear(mb.msgs[len(kept):])
	mb.msgs = kept
	return gone
}

// dropLocked removes all of mb's messages from the quota usage and
// tells its handles that the mailbox is gone.
func (u *user) dropLocked(mb *mailbox) {
	u.usedMessages -= int64(len(mb.msgs))
	u.usedStorage -= mb.size
	mb.msgs, mb.size, mb.expunged = nil, 0, nil
	mb.deleted = true
	mb.publishLocked(imapserver.Update{Kind: imapserver.UpdateDeleted}, nil)
	mb.handles = make(map[*handle]struct{})
}

func statusLocked(mb *mailbox) imapserver.MailboxStatus {
	st := imapserver.MailboxStatus{
		Messages:      uint32(len(mb.msgs)),
		UIDNext:       mb.uidNext,
		UIDValidity:   mb.uidValidity,
		Size:          mb.size,
		HighestModSeq: mb.modSeq,
	}
	for _, m := range mb.msgs {
		if m.uid >= mb.recentUID {
			st.Recent++
		}
		if !m.hasFlag(`\Seen`) {
			st.Unseen++
		}
		if m.hasFlag(`\Deleted`) {
			st.Deleted++
		}
	}
	return st
}

// readMessage reads exactly size octets (or all of r when size < 0)
// and converts line ends to CRLF, unless binary: a binary APPEND's
// content is stored as sent (RFC 3516 §4.4).
func readMessage(r io.Reader, size int64, binary bool) ([]byte, error) {
	var data []byte
	var err error
	if size >= 0 {
		data = make([]byte, size)
		_, err = io.ReadFull(r, data)
	} else {
		data, err = io.ReadAll(r)
	}
	if err != nil {
		return nil, fmt.Errorf("imapmem: reading message: %w", err)
	}
	if binary {
		return data, nil
	}
	return toCRLF(data), nil
}

// userSession implements imapserver.User.
type userSession struct {
	u *user
}

func (s *userSession) Username() string { return s.u.name }
func (s *userSession) Close() error     { return nil }

func (s *userSession) ListMailboxes(ctx context.Context) ([]imapserver.MailboxInfo, error) {
	u := s.u
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.list == nil {
		u.list = u.listLocked()
	}
	// Shared: the server never modifies it (imapserver.User), and a
	// change builds a new one.
	return u.list, nil
}

// listLocked builds ListMailboxes' answer.
func (u *user) listLocked() []imapserver.MailboxInfo {
	out := make([]imapserver.MailboxInfo, 0, len(u.mailboxes)+len(u.subscriptions))
	for name, mb := range u.mailboxes {
		out = append(out, imapserver.MailboxInfo{
			Name:       name,
			SpecialUse: mb.specialUse,
			Subscribed: u.subscriptions[name],
			NoSelect:   mb.noSelect,
		})
	}
	for name := range u.subscriptions {
		if _, ok := u.mailboxes[name]; !ok {
			out = append(out, imapserver.MailboxInfo{Name: name, Subscribed: true, NonExistent: true})
		}
	}
	slices.SortFunc(out, func(a, b imapserver.MailboxInfo) int { return strings.Compare(a.Name, b.Name) })
	// The names, copied side by side in list order, so that a LIST walks
	// memory in order instead of visiting each name where it was made.
	n := 0
	for i := range out {
		n += len(out[i].Name)
	}
	var b strings.Builder
	b.Grow(n)
	for i := range out {
		b.WriteString(out[i].Name)
	}
	all := b.String()
	for i := range out {
		out[i].Name, all = all[:len(out[i].Name)], all[len(out[i].Name):]
	}
	return out
}

func (s *userSession) Status(ctx context.Context, name string) (imapserver.MailboxStatus, error) {
	u := s.u
	u.mu.Lock()
	defer u.mu.Unlock()
	mb, err := u.selectableLocked(name)
	if err != nil {
		return imapserver.MailboxStatus{}, err
	}
	return statusLocked(mb), nil
}

func (s *userSession) CreateMailbox(ctx context.Context, name string, opts imapserver.CreateOptions) error {
	u := s.u
	name = canonicalName(strings.TrimSuffix(name, string(imapserver.Delimiter)))
	if name == "" {
		return fmt.Errorf("imapmem: empty mailbox name")
	}
	for _, use := range opts.SpecialUse {
		if !slices.ContainsFunc(defaultMailboxes, func(d struct{ name, use string }) bool {
			return strings.EqualFold(d.use, use)
		}) && !strings.EqualFold(use, `\All`) && !strings.EqualFold(use, `\Flagged`) {
			return fmt.Errorf("%w: %s", imapserver.ErrUnsupportedSpecialUse, use)
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if mb, ok := u.mailboxes[name]; ok {
		if !mb.noSelect {
			return fmt.Errorf("%w: %q", imapserver.ErrMailboxExists, name)
		}
		mb.noSelect = false
		mb.specialUse = opts.SpecialUse
		u.list = nil
		return nil
	}
	// RFC 9051 §6.3.4: create the superior levels that are missing.
	for i := 0; i < len(name); i++ {
		if name[i] == imapserver.Delimiter {
			parent := name[:i]
			if _, ok := u.mailboxes[parent]; !ok && parent != "" {
				u.createLocked(parent, nil)
			}
		}
	}
	u.createLocked(name, slices.Clone(opts.SpecialUse))
	return nil
}

func (u *user) hasChildrenLocked(name string) bool {
	prefix := name + string(imapserver.Delimiter)
	for n := range u.mailboxes {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

func (s *userSession) DeleteMailbox(ctx context.Context, name string) error {
	u := s.u
	name = canonicalName(name)
	if name == "INBOX" {
		return fmt.Errorf("%w: INBOX", imapserver.ErrCannotDelete)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	mb, ok := u.mailboxes[name]
	if !ok {
		return fmt.Errorf("%w: %q", imapserver.ErrNoSuchMailbox, name)
	}
	if u.hasChildrenLocked(name) {
		// RFC 9051 §6.3.5: the messages go, the name stays as \Noselect.
		if mb.noSelect {
			return fmt.Errorf("%w: %q", imapserver.ErrMailboxHasChildren, name)
		}
		u.dropLocked(mb)
		mb.deleted = false
		mb.noSelect = true
		mb.uidValidity = u.store.newValidity()
		u.list = nil
		return nil
	}
	u.dropLocked(mb)
	delete(u.mailboxes, name)
	u.list = nil
	return nil
}

func (s *userSession) RenameMailbox(ctx context.Context, oldName, newName string) error {
	u := s.u
	oldName, newName = canonicalName(oldName), canonicalName(strings.TrimSuffix(newName, string(imapserver.Delimiter)))
	if newName == "INBOX" || newName == "" {
		return fmt.Errorf("%w: %q", imapserver.ErrMailboxExists, newName)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	mb, ok := u.mailboxes[oldName]
	if !ok {
		return fmt.Errorf("%w: %q", imapserver.ErrNoSuchMailbox, oldName)
	}
	if _, ok := u.mailboxes[newName]; ok {
		return fmt.Errorf("%w: %q", imapserver.ErrMailboxExists, newName)
	}
	if strings.HasPrefix(newName, oldName+string(imapserver.Delimiter)) {
		return fmt.Errorf("%w: cannot rename %q under itself", imapserver.ErrCannotDelete, oldName)
	}
	u.list = nil
	for i := 0; i < len(newName); i++ {
		if newName[i] == imapserver.Delimiter {
			if _, ok := u.mailboxes[newName[:i]]; !ok {
				u.createLocked(newName[:i], nil)
			}
		}
	}
	if oldName == "INBOX" {
		// RFC 9051 §6.3.6: INBOX's messages move to the new name, INBOX
		// stays, empty; its inferiors are not renamed.
		nb := u.createLocked(newName, nil)
		nb.msgs, nb.size, nb.uidNext, nb.modSeq, nb.recentUID = mb.msgs, mb.size, mb.uidNext, mb.modSeq, mb.recentUID
		mb.msgs, mb.size = nil, 0 // moved, not dropped: usage unchanged
		u.dropLocked(mb)
		delete(u.mailboxes, "INBOX")
		u.createLocked("INBOX", nil)
		return nil
	}
	prefix := oldName + string(imapserver.Delimiter)
	for n, m := range u.mailboxes {
		if n == oldName || strings.HasPrefix(n, prefix) {
			nn := newName + n[len(oldName):]
			delete(u.mailboxes, n)
			m.name = nn
			u.mailboxes[nn] = m
			if u.subscriptions[n] {
				delete(u.subscriptions, n)
				u.subscriptions[nn] = true
			}
		}
	}
	return nil
}

func (s *userSession) Subscribe(ctx context.Context, name string) error {
	s.u.mu.Lock()
	s.u.subscriptions[canonicalName(name)] = true
	s.u.list = nil
	s.u.mu.Unlock()
	return nil
}

func (s *userSession) Unsubscribe(ctx context.Context, name string) error {
	s.u.mu.Lock()
	defer s.u.mu.Unlock()
	name = canonicalName(name)
	if !s.u.subscriptions[name] {
		return fmt.Errorf("%w: not subscribed to %q", imapserver.ErrNoSuchMailbox, name)
	}
	delete(s.u.subscriptions, name)
	s.u.list = nil
	return nil
}

func (s *userSession) Append(ctx context.Context, name string, r io.Reader, size int64, opts imapserver.AppendOptions) (imapserver.AppendResult, error) {
	data, err := readMessage(r, size, opts.Binary)
	if err != nil {
		return imapserver.AppendResult{}, err
	}
	return s.u.appendData(name, data, opts, nil)
}

func (u *user) appendData(name string, data []byte, opts imapserver.AppendOptions, origin *handle) (imapserver.AppendResult, error) {
	return u.appendContent(name, &content{data: data}, opts, origin)
}

// appendContent adds c, which copies in other mailboxes or of other
// users may share, to the mailbox.
func (u *user) appendContent(name string, c *content, opts imapserver.AppendOptions, origin *handle) (imapserver.AppendResult, error) {
	date := opts.Date
	if date.IsZero() {
		date = u.store.now()
	}
	flags := normFlags(opts.Flags)
	u.mu.Lock()
	defer u.mu.Unlock()
	mb, err := u.selectableLocked(name)
	if err != nil {
		return imapserver.AppendResult{}, err
	}
	if err := u.quotaCheckLocked(1, int64(len(c.data))); err != nil {
		return imapserver.AppendResult{}, err
	}
	mb.modSeq++
	m := u.appendLocked(mb, c, flags, date, mb.modSeq, origin)
	return imapserver.AppendResult{UIDValidity: mb.uidValidity, UID: m.uid}, nil
}

// AppendMulti implements imapserver.MultiAppender (RFC 3502): every
// message is read first, then all are added under one lock, or none.
func (s *userSession) AppendMulti(ctx context.Context, name string, msgs []imapserver.AppendMessage) ([]imapserver.AppendResult, error) {
	u := s.u
	datas := make([][]byte, len(msgs))
	var total int64
	for i, am := range msgs {
		d, err := readMessage(am.Body, am.Size, am.Binary)
		if err != nil {
			return nil, err
		}
		datas[i] = d
		total += int64(len(d))
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	mb, err := u.selectableLocked(name)
	if err != nil {
		return nil, err
	}
	if err := u.quotaCheckLocked(int64(len(msgs)), total); err != nil {
		return nil, err
	}
	mb.modSeq++
	res := make([]imapserver.AppendResult, len(msgs))
	for i, am := range msgs {
		date := am.Date
		if date.IsZero() {
			date = u.store.now()
		}
		m := u.appendLocked(mb, &content{data: datas[i]}, normFlags(am.Flags), date, mb.modSeq, nil)
		res[i] = imapserver.AppendResult{UIDValidity: mb.uidValidity, UID: m.uid}
	}
	return res, nil
}

// Quota implements imapserver.Quotaer (RFC 9208): one root per user.
func (s *userSession) Quota(ctx context.Context) ([]imapserver.QuotaResource, error) {
	u := s.u
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []imapserver.QuotaResource
	if u.quotaStorage > 0 {
		out = append(out, imapserver.QuotaResource{Name: "STORAGE", Usage: u.usedStorage, Limit: u.quotaStorage})
	}
	if u.quotaMessages > 0 {
		out = append(out, imapserver.QuotaResource{Name: "MESSAGE", Usage: u.usedMessages, Limit: u.quotaMessages})
	}
	return out, nil
}

func (s *userSession) OpenMailbox(ctx context.Context, name string, readOnly bool) (imapserver.Mailbox, error) {
	u := s.u
	u.mu.Lock()
	defer u.mu.Unlock()
	mb, err := u.selectableLocked(name)
	if err != nil {
		return nil, err
	}
	h := &handle{u: u, mb: mb, readOnly: readOnly}
	v := mb.viewLocked()
	snap := imapserver.Snapshot{
		UIDs:          v.uids,
		UIDValidity:   mb.uidValidity,
		UIDNext:       mb.uidNext,
		HighestModSeq: mb.modSeq,
		Unseen:        v.unseen,
		FirstUnseen:   v.firstUnseen,
		Keywords:      v.keywords,
	}
	// RFC 3501 §2.3.2: SELECT claims the messages no session has seen
	// yet; EXAMINE reports them and leaves them to the next SELECT.
	snap.RecentFrom = max(mb.recentUID, 1)
	if !readOnly {
		mb.recentUID = mb.uidNext
	}
	h.snap = snap
	mb.handles[h] = struct{}{}
	return h, nil
}
