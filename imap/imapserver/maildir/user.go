package maildir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/posthorn/posthorn/imap/imapserver"
)

var (
	_ imapserver.Backend       = (*Store)(nil)
	_ imapserver.User          = (*userSession)(nil)
	_ imapserver.MultiAppender = (*userSession)(nil)
	_ imapserver.Quotaer       = (*userSession)(nil)
	_ imapserver.QuotaSetter   = (*userSession)(nil)
	_ imapserver.DeletedSizer  = (*userSession)(nil)
)

// userSession implements imapserver.User.
type userSession struct {
	u *user
}

func (s *userSession) Username() string { return s.u.name }
func (s *userSession) Close() error     { return nil }

// selectableLocked returns the mailbox called name, loaded.
func (u *user) selectableLocked(name string) (*mailbox, error) {
	n, err := checkName(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", imapserver.ErrNoSuchMailbox, name)
	}
	mb, ok := u.mailboxes[n]
	if !ok {
		return nil, fmt.Errorf("%w: %q", imapserver.ErrNoSuchMailbox, name)
	}
	if err := mb.loadLocked(); err != nil {
		if errors.Is(err, imapserver.ErrNoSuchMailbox) {
			delete(u.mailboxes, n) // removed by another program
		}
		return nil, err
	}
	return mb, nil
}

func (s *userSession) ListMailboxes(ctx context.Context) ([]imapserver.MailboxInfo, error) {
	u := s.u
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]imapserver.MailboxInfo, 0, len(u.mailboxes)+len(u.subscriptions))
	seen := map[string]bool{}
	for name := range u.mailboxes {
		out = append(out, imapserver.MailboxInfo{
			Name:       name,
			SpecialUse: slices.Clone(u.specialUse[name]),
			Subscribed: u.subscriptions[name],
		})
		seen[name] = true
	}
	// Maildir++ has no directories for levels: ".a.b" without ".a"
	// makes "a" a level that holds no messages.
	for name := range u.mailboxes {
		for i := 0; i < len(name); i++ {
			if name[i] == imapserver.Delimiter && !seen[name[:i]] {
				seen[name[:i]] = true
				out = append(out, imapserver.MailboxInfo{Name: name[:i], NoSelect: true, Subscribed: u.subscriptions[name[:i]]})
			}
		}
	}
	for name := range u.subscriptions {
		if !seen[name] {
			out = append(out, imapserver.MailboxInfo{Name: name, Subscribed: true, NonExistent: true})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *userSession) Status(ctx context.Context, name string) (imapserver.MailboxStatus, error) {
	u := s.u
	u.mu.Lock()
	defer u.mu.Unlock()
	mb, err := u.selectableLocked(name)
	if err != nil {
		return imapserver.MailboxStatus{}, err
	}
	if err := mb.rescanLocked(); err != nil {
		return imapserver.MailboxStatus{}, err
	}
	return statusLocked(mb), nil
}

func (s *userSession) CreateMailbox(ctx context.Context, name string, opts imapserver.CreateOptions) error {
	u := s.u
	name, err := checkName(strings.TrimSuffix(name, string(imapserver.Delimiter)))
	if err != nil {
		return err
	}
	var use []string
	for _, su := range opts.SpecialUse {
		i := slices.IndexFunc(knownSpecialUse, func(k string) bool { return strings.EqualFold(k, su) })
		if i < 0 {
			return fmt.Errorf("%w: %s", imapserver.ErrUnsupportedSpecialUse, su)
		}
		use = append(use, knownSpecialUse[i])
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.mailboxes[name]; ok || name == "INBOX" {
		return fmt.Errorf("%w: %q", imapserver.ErrMailboxExists, name)
	}
	// RFC 9051 §6.3.4: create the superior levels that are missing.
	for i := 0; i < len(name); i++ {
		if name[i] == imapserver.Delimiter {
			parent := name[:i]
			if _, ok := u.mailboxes[parent]; !ok && parent != "INBOX" {
				if err := u.createLocked(parent, nil); err != nil {
					return err
				}
			}
		}
	}
	return u.createLocked(name, use)
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

// dropLocked ends a mailbox: handles are told, the index closed.
func (mb *mailbox) dropLocked() {
	mb.publishLocked(imapserver.Update{Kind: imapserver.UpdateDeleted}, nil)
	mb.handles = map[*handle]struct{}{}
	if mb.log != nil {
		mb.log.Close()
		mb.log = nil
	}
	mb.closeCache()
	mb.deleted = true
	mb.doomed = nil
}

func (s *userSession) DeleteMailbox(ctx context.Context, name string) error {
	u := s.u
	name, err := checkName(name)
	if err != nil {
		return fmt.Errorf("%w: %q", imapserver.ErrNoSuchMailbox, name)
	}
	if name == "INBOX" {
		return fmt.Errorf("%w: INBOX", imapserver.ErrCannotDelete)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	mb, ok := u.mailboxes[name]
	if !ok {
		if u.hasChildrenLocked(name) {
			return fmt.Errorf("%w: %q", imapserver.ErrMailboxHasChildren, name)
		}
		return fmt.Errorf("%w: %q", imapserver.ErrNoSuchMailbox, name)
	}
	// Out of the tree in one rename (durable before we answer), then
	// removed; a crash in between is finished at the next start.
	trash := filepath.Join(u.dir, trashPrefix+newGUID())
	if err := u.s.fs.Rename(mb.dir, trash); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := u.s.fs.SyncDir(u.dir); err != nil {
		return err
	}
	mb.dropLocked()
	delete(u.mailboxes, name)
	if _, ok := u.specialUse[name]; ok {
		delete(u.specialUse, name)
		u.saveMetaLocked()
	}
	u.s.fs.RemoveAll(trash)
	return nil
}

func (s *userSession) RenameMailbox(ctx context.Context, oldName, newName string) error {
	u := s.u
	oldName, err := checkName(oldName)
	if err != nil {
		return fmt.Errorf("%w: %q", imapserver.ErrNoSuchMailbox, oldName)
	}
	newName, err = checkName(strings.TrimSuffix(newName, string(imapserver.Delimiter)))
	if err != nil {
		return err
	}
	if newName == "INBOX" {
		return fmt.Errorf("%w: %q", imapserver.ErrMailboxExists, newName)
	}
	if strings.HasPrefix(newName, oldName+string(imapserver.Delimiter)) {
		return fmt.Errorf("%w: cannot rename %q under itself", imapserver.ErrCannotDelete, oldName)
	}
	if oldName == "INBOX" {
		return s.renameInbox(ctx, newName)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.mailboxes[oldName]; !ok {
		return fmt.Errorf("%w: %q", imapserver.ErrNoSuchMailbox, oldName)
	}
	if _, ok := u.mailboxes[newName]; ok {
		return fmt.Errorf("%w: %q", imapserver.ErrMailboxExists, newName)
	}
	type mv struct {
		from, to string
		mb       *mailbox
	}
	var moves []mv
	prefix := oldName + string(imapserver.Delimiter)
	for n, mb := range u.mailboxes {
		if n == oldName || strings.HasPrefix(n, prefix) {
			nn := newName + n[len(oldName):]
			if len(dirName(nn)) > maxDirName {
				return fmt.Errorf("%w: %q too long", ErrBadName, nn)
			}
			if _, ok := u.mailboxes[nn]; ok {
				return fmt.Errorf("%w: %q", imapserver.ErrMailboxExists, nn)
			}
			moves = append(moves, mv{n, nn, mb})
		}
	}
	for i := 0; i < len(newName); i++ {
		if newName[i] == imapserver.Delimiter {
			if _, ok := u.mailboxes[newName[:i]]; !ok && newName[:i] != "INBOX" {
				if err := u.createLocked(newName[:i], nil); err != nil {
					return err
				}
			}
		}
	}
	for _, m := range moves {
		dir := filepath.Join(u.dir, dirName(m.to))
		if _, err := u.s.fs.Stat(dir); err == nil {
			return fmt.Errorf("%w: %q", imapserver.ErrMailboxExists, m.to)
		}
		if err := u.s.fs.Rename(m.mb.dir, dir); err != nil {
			return err
		}
		m.mb.moveDirLocked(dir)
		delete(u.mailboxes, m.from)
		m.mb.name = m.to
		u.mailboxes[m.to] = m.mb
		if u.subscriptions[m.from] {
			delete(u.subscriptions, m.from)
			u.subscriptions[m.to] = true
		}
		if use, ok := u.specialUse[m.from]; ok {
			delete(u.specialUse, m.from)
			u.specialUse[m.to] = use
		}
	}
	if err := u.s.fs.SyncDir(u.dir); err != nil {
		return err
	}
	u.saveSubscriptionsLocked()
	return u.saveMetaLocked()
}

// moveDirLocked points a renamed mailbox's message paths at its new directory.
func (mb *mailbox) moveDirLocked(dir string) {
	old := mb.dir
	mb.dir = dir
	re := func(p string) string {
		if rel, err := filepath.Rel(old, p); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.Join(dir, rel)
		}
		return p
	}
	for _, m := range mb.msgs {
		// A path not known yet follows from mb.dir when needed.
		if p := m.path.Load(); p != nil {
			np := re(*p)
			m.path.Store(&np)
		}
	}
	for _, d := range mb.doomed {
		d.path = re(d.path)
	}
	if mb.log != nil {
		mb.log.Close()
		mb.log = nil
		mb.logRecs = 1 << 30 // reopened by a checkpoint at the next write
	}
}

// renameInbox moves INBOX's messages to a new mailbox (RFC 9051 §6.3.6).
func (s *userSession) renameInbox(ctx context.Context, newName string) error {
	if err := s.CreateMailbox(ctx, newName, imapserver.CreateOptions{}); err != nil {
		return err
	}
	mbox, err := s.OpenMailbox(ctx, "INBOX", false)
	if err != nil {
		return err
	}
	defer mbox.Close()
	uids := mbox.Snapshot().UIDs
	if len(uids) == 0 {
		return nil
	}
	_, err = mbox.Move(ctx, uids, newName)
	return err
}

func (s *userSession) Subscribe(ctx context.Context, name string) error {
	n, err := checkName(name)
	if err != nil {
		return err
	}
	s.u.mu.Lock()
	defer s.u.mu.Unlock()
	s.u.subscriptions[n] = true
	return s.u.saveSubscriptionsLocked()
}

func (s *userSession) Unsubscribe(ctx context.Context, name string) error {
	s.u.mu.Lock()
	defer s.u.mu.Unlock()
	n, err := checkName(name)
	if err != nil || !s.u.subscriptions[n] {
		return fmt.Errorf("%w: not subscribed to %q", imapserver.ErrNoSuchMailbox, name)
	}
	delete(s.u.subscriptions, n)
	return s.u.saveSubscriptionsLocked()
}

// readMessage reads exactly size octets (all of r when size < 0).
func readMessage(r io.Reader, size int64) ([]byte, error) {
	var data []byte
	var err error
	if size >= 0 {
		data = make([]byte, size)
		_, err = io.ReadFull(r, data)
	} else {
		data, err = io.ReadAll(r)
	}
	if err != nil {
		return nil, fmt.Errorf("maildir: reading message: %w", err)
	}
	return data, nil
}

// mailboxForWrite returns the loaded mailbox, for writing into its tmp.
func (u *user) mailboxForWrite(name string) (*mailbox, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.selectableLocked(name)
}

func (s *userSession) Append(ctx context.Context, name string, r io.Reader, size int64, opts imapserver.AppendOptions) (imapserver.AppendResult, error) {
	res, err := s.AppendMulti(ctx, name, []imapserver.AppendMessage{{Body: r, Size: size, AppendOptions: opts}})
	if err != nil {
		return imapserver.AppendResult{}, err
	}
	return res[0], nil
}

// AppendMulti implements imapserver.MultiAppender (RFC 3502): the files
// are written and synced first, then committed together, or none is.
func (s *userSession) AppendMulti(ctx context.Context, name string, msgs []imapserver.AppendMessage) ([]imapserver.AppendResult, error) {
	u := s.u
	mb, err := u.mailboxForWrite(name)
	if err != nil {
		return nil, err
	}
	req := &commitReq{mailbox: name, quota: true}
	cleanup := func() {
		for _, f := range req.files {
			u.s.fs.Remove(f.tmpPath)
		}
	}
	for _, am := range msgs {
		data, err := readMessage(am.Body, am.Size)
		if err != nil {
			cleanup()
			return nil, err
		}
		if !am.Binary {
			// A plain literal is text: bare line ends become CRLF, as
			// imapmem stores them; a literal8 is kept as sent (RFC 3516).
			data = toCRLF(data)
		}
		date := am.Date
		if date.IsZero() {
			date = u.s.now()
		}
		f, err := u.s.writeMessage(mb, data, normFlags(am.Flags), date)
		if err != nil {
			cleanup()
			return nil, err
		}
		req.files = append(req.files, f)
	}
	if err := u.commit.submit(req); err != nil {
		return nil, err
	}
	return req.res, nil
}

// Quota implements imapserver.Quotaer (RFC 9208): one root per user.
func (s *userSession) Quota(ctx context.Context) ([]imapserver.QuotaResource, error) {
	u := s.u
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.quotaStorage == 0 && u.quotaMessages == 0 {
		return nil, nil
	}
	st, n, err := u.usageLocked()
	if err != nil {
		return nil, err
	}
	var out []imapserver.QuotaResource
	if u.quotaStorage > 0 {
		out = append(out, imapserver.QuotaResource{Name: "STORAGE", Usage: st, Limit: u.quotaStorage})
	}
	if u.quotaMessages > 0 {
		out = append(out, imapserver.QuotaResource{Name: "MESSAGE", Usage: n, Limit: u.quotaMessages})
	}
	return out, nil
}

// SetQuota implements imapserver.QuotaSetter, as imapmem's does.
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
	if err := s.u.s.SetQuota(s.u.name, storage, messages); err != nil {
		return nil, err
	}
	return s.Quota(ctx)
}

// DeletedSize implements imapserver.DeletedSizer.
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
			n += m.vsize
		}
	}
	return n, nil
}

func (s *userSession) OpenMailbox(ctx context.Context, name string, readOnly bool) (imapserver.Mailbox, error) {
	u := s.u
	u.mu.Lock()
	defer u.mu.Unlock()
	mb, err := u.selectableLocked(name)
	if err != nil {
		return nil, err
	}
	if err := mb.rescanLocked(); err != nil {
		return nil, err
	}
	h := &handle{u: u, mb: mb, readOnly: readOnly}
	snap := imapserver.Snapshot{
		UIDs:          make([]uint32, len(mb.msgs)),
		UIDValidity:   mb.uidValidity,
		UIDNext:       mb.uidNext,
		HighestModSeq: mb.modSeq,
		Keywords:      keywordsOf(mb.msgs),
	}
	for i, m := range mb.msgs {
		snap.UIDs[i] = m.uid
		if !m.hasFlag(`\Seen`) {
			snap.Unseen++
			if snap.FirstUnseen == 0 {
				snap.FirstUnseen = m.uid
			}
		}
	}
	// RFC 3501 §2.3.2: SELECT claims the messages no session has seen.
	snap.RecentFrom = max(mb.recentUID, 1)
	if !readOnly {
		mb.recentUID = mb.uidNext
		mb.saveRecentLocked()
	}
	h.snap = snap
	mb.handles[h] = struct{}{}
	return h, nil
}
