package maildir

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
)

type expungeRec struct {
	uid    uint32
	modSeq uint64
	base   string
}

// maxExpungeHistory bounds the expunges a mailbox remembers for QRESYNC
// (RFC 7162 §5.3); older ones are forgotten at a checkpoint and a client
// asking further back gets imapserver.ErrHistoryExpired.
const maxExpungeHistory = 1 << 14

// mailbox is one Maildir folder. Every field is guarded by user.mu. The
// messages are read from disk on first use (an idle mailbox costs one
// map entry).
type mailbox struct {
	u       *user
	name    string
	dir     string
	loaded  bool
	deleted bool

	uidValidity uint32
	uidNext     uint32
	guid        string
	modSeq      uint64
	recentUID   uint32
	recentSaved uint32     // recentUID as posthorn-recent has it (recent.go)
	msgs        []*message // ascending UID
	size        int64
	expunged    []expungeRec // ascending modSeq
	// expungedBases are the file names of expunged, built when needed.
	expungedBases map[string]bool
	expiredTo     uint64
	keywords      []string // dovecot-keywords: letter a+i is keywords[i]

	handles map[*handle]struct{}
	doomed  []*doomedFile

	// The summary cache (summary.go): cacheMu guards these, not
	// user.mu, since sessions read summaries without the user's lock.
	cacheMu       sync.RWMutex
	cache         file
	cacheEnd      int64
	cacheValidity uint32
	// adoptUIDList: the mailbox had no index of ours; the first scan
	// takes every UID from dovecot-uidlist.
	adoptUIDList bool
	// incoming holds the base names of files a commit is placing into
	// cur or new: a scan must not take them for another program's.
	incoming map[string]bool

	log     file
	logRecs int
	// cacheRecs counts the C records (summaries found after their
	// message's A record) in the log or waiting in pendingC, which
	// collects them for the next write to the log (a FETCH of many
	// messages summarised on first use writes the index once, not once
	// a message; one lost by a crash costs one more parse).
	cacheRecs int
	pendingC  []byte
	pendingCn int
	// dirStamp is the modification times of cur and new after our last
	// scan or change: when they differ, another program changed the
	// folder and it is scanned again.
	dirStamp     [2]time.Time
	uidlistDirty bool
}

// doomedFile is an expunged message's file kept until every handle that
// had the message in view has closed: the server may serve it to its
// session until it has sent the EXPUNGE, which can be several commands
// later (RFC 9051 §7.5.1 forbids it during FETCH, STORE and SEARCH).
type doomedFile struct {
	path    string
	waiting map[*handle]bool
}

func (u *user) newMailbox(name, dir string) *mailbox {
	return &mailbox{u: u, name: name, dir: dir, handles: map[*handle]struct{}{}, incoming: map[string]bool{}}
}

// createLocked creates a folder directory with a fresh index.
func (u *user) createLocked(name string, use []string) error {
	dir := filepath.Join(u.dir, dirName(name))
	// On a case-insensitive file system two names differing in case
	// would share a directory: refuse the second one.
	for n, other := range u.mailboxes {
		if n != name && strings.EqualFold(filepath.Base(other.dir), filepath.Base(dir)) && other.dir != u.dir {
			return fmt.Errorf("%w: %q collides with %q", imapserver.ErrMailboxExists, name, n)
		}
	}
	if _, err := u.s.fs.Stat(dir); err == nil {
		return fmt.Errorf("%w: %q", imapserver.ErrMailboxExists, name)
	}
	if err := u.makeMaildirLocked(dir); err != nil {
		return err
	}
	mb := u.newMailbox(name, dir)
	mb.uidValidity, mb.uidNext, mb.modSeq, mb.guid = u.s.newValidity(), 1, 1, newGUID()
	mb.loaded = true
	if err := mb.checkpointLocked(); err != nil {
		return err
	}
	mb.openCacheLocked()
	if err := u.s.fs.SyncDir(u.dir); err != nil {
		return err
	}
	u.mailboxes[name] = mb
	if len(use) > 0 {
		u.specialUse[name] = use
		return u.saveMetaLocked()
	}
	return nil
}

func (mb *mailbox) path(parts ...string) string {
	return filepath.Join(append([]string{mb.dir}, parts...)...)
}

// entry is a message as the index describes it, during loading.
type entry struct {
	uid    uint32
	raw    bool
	inCur  bool
	gone   bool
	date   int64
	size   int64
	modSeq uint64
	loc    uint64
	base   string
	flags  []string
}

// entryTable finds a UID's entry while the index is read: by binary
// search while the A records come in ascending UID order (always, from
// our own writes), by a map otherwise.
type entryTable struct {
	entries []entry
	pos     map[uint32]int32
}

func (t *entryTable) add(e entry) {
	n := len(t.entries)
	if t.pos == nil && n > 0 && t.entries[n-1].uid >= e.uid {
		t.pos = make(map[uint32]int32, n)
		for i := range t.entries {
			if !t.entries[i].gone {
				t.pos[t.entries[i].uid] = int32(i)
			}
		}
	}
	if t.pos != nil {
		if j, ok := t.pos[e.uid]; ok {
			t.entries[j].gone = true // an older record of a UID added again
		}
		t.pos[e.uid] = int32(n)
	}
	t.entries = append(t.entries, e)
}

func (t *entryTable) find(uid uint32) *entry {
	if t.pos != nil {
		if j, ok := t.pos[uid]; ok {
			return &t.entries[j]
		}
		return nil
	}
	j, ok := slices.BinarySearchFunc(t.entries, uid, func(e entry, uid uint32) int { return cmp.Compare(e.uid, uid) })
	if !ok || t.entries[j].gone {
		return nil
	}
	return &t.entries[j]
}

func (t *entryTable) remove(uid uint32) {
	if e := t.find(uid); e != nil {
		e.gone = true
		if t.pos != nil {
			delete(t.pos, uid)
		}
	}
}

// loadLocked reads the index and, unless the index says nothing changed
// since it was written, the directories.
func (mb *mailbox) loadLocked() error {
	if mb.loaded {
		return nil
	}
	if mb.deleted {
		return fmt.Errorf("%w: %q", imapserver.ErrNoSuchMailbox, mb.name)
	}
	fsys := mb.u.s.fs
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := fsys.Mkdir(mb.path(sub), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%w: %q", imapserver.ErrNoSuchMailbox, mb.name)
			}
			return err
		}
	}
	if data, err := fsys.ReadFile(mb.path(keywordsName)); err == nil {
		mb.keywords = parseKeywords(string(data))
	}
	data, err := fsys.ReadFile(mb.path(indexName))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// Messages in log order (ascending UIDs, normally); an expunge
	// leaves a hole.
	var tab entryTable
	tab.entries = make([]entry, 0, bytes.Count(data, []byte("\n")))
	nrecs, ncache := 0, 0
	first, last := byte(0), record{}
	var p logParser
	good := p.parse(data, func(r *record) {
		if nrecs == 0 {
			first = byte(r.kind)
		}
		nrecs++
		switch r.kind {
		case 'H':
			mb.uidValidity, mb.uidNext, mb.modSeq, mb.guid, mb.expiredTo = r.validity, r.uidNext, r.modSeq, strings.Clone(r.guid), r.expired
		case 'A':
			tab.add(entry{uid: r.uid, raw: r.raw, inCur: r.inCur, date: r.date, size: r.size, modSeq: r.modSeq, loc: r.loc, base: r.base, flags: r.flags})
		case 'C':
			if e := tab.find(r.uid); e != nil {
				e.loc = r.loc
			}
			ncache++
		case 'F':
			if e := tab.find(r.uid); e != nil {
				// A flag change of ours renamed the file into cur.
				e.flags, e.modSeq, e.inCur = r.flags, r.modSeq, true
			}
		case 'X':
			for _, g := range r.gone {
				tab.remove(g.uid)
				mb.expunged = append(mb.expunged, expungeRec{g.uid, r.modSeq, strings.Clone(g.base)})
			}
		case 'U':
			mb.uidNext, mb.modSeq = max(mb.uidNext, r.uidNext), max(mb.modSeq, r.modSeq)
		}
		if r.kind == 'A' || r.kind == 'F' || r.kind == 'X' {
			mb.modSeq = max(mb.modSeq, r.modSeq)
		}
		if r.kind == 'A' {
			mb.uidNext = max(mb.uidNext, r.uid+1)
		}
		last = record{kind: r.kind, date: r.date, size: r.size}
	})
	needCheckpoint := nrecs == 0 || first != 'H'
	if good < len(data) {
		mb.u.s.logger.Warn("maildir: index cut after a torn record", "mailbox", mb.name, "user", mb.u.name, "kept", good, "size", len(data))
		needCheckpoint = true
	}
	var dl *uidlist
	readUIDList := func() *uidlist {
		if dl == nil {
			dl = new(uidlist)
			if d, err := fsys.ReadFile(mb.path(uidlistName)); err == nil {
				*dl, _ = parseUIDList(string(d))
			}
		}
		return dl
	}
	if mb.uidValidity == 0 {
		// No index of ours: take over Dovecot's UIDs if there are any.
		dl := readUIDList()
		mb.adoptUIDList = true
		mb.uidValidity, mb.uidNext, mb.guid, mb.modSeq = dl.validity, max(dl.next, 1), dl.guid, 1
		if mb.uidValidity == 0 {
			mb.uidValidity = mb.u.s.newValidity()
		}
		if mb.guid == "" {
			mb.guid = newGUID()
		}
	}
	// The messages: five allocations for all of them, the file names
	// in one string (not the log's text, which holds much else).
	n, nameBytes := 0, 0
	for i := range tab.entries {
		if !tab.entries[i].gone {
			n++
			nameBytes += len(tab.entries[i].base)
		}
	}
	var names strings.Builder
	names.Grow(nameBytes)
	for i := range tab.entries {
		if !tab.entries[i].gone {
			names.WriteString(tab.entries[i].base)
		}
	}
	nameText := names.String()
	mb.msgs = make([]*message, 0, n)
	mds := make([]msgData, n)
	fss := make([]flagState, n)
	ms := make([]message, n)
	for i := range tab.entries {
		e := &tab.entries[i]
		if e.gone {
			continue
		}
		k := len(mb.msgs)
		md := &mds[k]
		md.uid, md.date, md.vsize, md.raw, md.inCur, md.base, md.mb = e.uid, time.Unix(0, e.date), e.size, e.raw, e.inCur, nameText[:len(e.base)], mb
		nameText = nameText[len(e.base):]
		md.sum.Store(e.loc)
		fss[k] = flagState{modSeq: e.modSeq, flags: e.flags}
		ms[k] = message{md, &fss[k]}
		mb.msgs = append(mb.msgs, &ms[k])
		mb.size += e.size
	}
	if tab.pos != nil && !slices.IsSortedFunc(mb.msgs, func(a, b *message) int { return cmp.Compare(a.uid, b.uid) }) {
		slices.SortFunc(mb.msgs, func(a, b *message) int { return cmp.Compare(a.uid, b.uid) })
	}
	mb.loadRecentLocked()
	if !needCheckpoint {
		f, err := fsys.OpenFile(mb.path(indexName), os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		mb.log, mb.logRecs, mb.cacheRecs = f, nrecs, ncache
	}
	mb.loaded = true
	mb.openCacheLocked()
	recsBefore := mb.logRecs
	if !needCheckpoint && last.kind == 'S' && mb.stampMatches(last) {
		// Nothing changed since we closed it: no listing. Paths follow
		// from the flags when first needed (pathLocked); Open tries the
		// other places a file can be.
	} else if err := mb.reconcileLocked(readUIDList(), true); err != nil {
		mb.loaded = false
		mb.closeCache()
		return err
	}
	// Many summary locations in C records: a checkpoint folds them into
	// the messages' records, so that the next load reads one line each.
	if needCheckpoint || mb.logRecs > 2*len(mb.msgs)+1024 || mb.cacheRecs > len(mb.msgs)/4+1024 {
		if err := mb.checkpointLocked(); err != nil {
			return err
		}
	} else if mb.logRecs != recsBefore {
		// Repairs of what other programs changed: durable before use.
		if err := mb.log.Sync(); err != nil {
			return err
		}
	}
	mb.cleanTmpLocked()
	return nil
}

// cleanTmpLocked removes files left in tmp for more than 36 hours
// (the Maildir rule) and our own leftovers of a crash.
func (mb *mailbox) cleanTmpLocked() {
	fsys := mb.u.s.fs
	ents, err := fsys.ReadDir(mb.path("tmp"))
	if err != nil {
		return
	}
	cut := mb.u.s.now().Add(-36 * time.Hour)
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			continue
		}
		if info.ModTime().Before(cut) || strings.HasSuffix(e.Name(), ".expunged") {
			fsys.Remove(mb.path("tmp", e.Name()))
		}
	}
}

type diskFile struct {
	sub, name, letters string
}

// scanLocked lists cur and new: base name -> file.
func (mb *mailbox) scanLocked() (map[string]diskFile, error) {
	fsys := mb.u.s.fs
	files := map[string]diskFile{}
	for i, sub := range []string{"cur", "new"} {
		if info, err := fsys.Stat(mb.path(sub)); err == nil {
			mb.dirStamp[i] = info.ModTime()
		}
		ents, err := fsys.ReadDir(mb.path(sub))
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			n := e.Name()
			if strings.HasPrefix(n, ".") || e.IsDir() {
				continue
			}
			base, letters := splitName(n)
			if old, ok := files[base]; ok && old.sub == "cur" {
				continue // the same message in both: a rename undone halfway
			}
			files[base] = diskFile{sub, n, letters}
		}
	}
	return files, nil
}

// stampMatches reports whether cur and new have the times an S record
// gave them.
func (mb *mailbox) stampMatches(r record) bool {
	for i, sub := range []string{"cur", "new"} {
		info, err := mb.u.s.fs.Stat(mb.path(sub))
		if err != nil {
			return false
		}
		want := r.date
		if i == 1 {
			want = r.size
		}
		if info.ModTime().UnixNano() != want {
			return false
		}
		mb.dirStamp[i] = info.ModTime()
	}
	return true
}

// stampSettled reports whether the directories' times are old enough to
// trust: another program's change within the file system's timestamp
// granularity of our last one would leave them equal.
func (mb *mailbox) stampSettled() bool {
	now := mb.u.s.now()
	return now.Sub(mb.dirStamp[0]) > 2*time.Second && now.Sub(mb.dirStamp[1]) > 2*time.Second
}

// defaultPath is where a message's file is when we put it there: in new
// without flags, else in cur with its info letters; in cur with an
// empty info when it was found there without flags.
func (mb *mailbox) defaultPath(base string, flags []string, inCur bool) string {
	if letters := infoLetters(flags, mb.keywords); letters != "" || inCur {
		return mb.dir + string(filepath.Separator) + "cur" + string(filepath.Separator) + base + ":2," + letters
	}
	return mb.dir + string(filepath.Separator) + "new" + string(filepath.Separator) + base
}

// changedOnDisk reports whether cur or new changed since the last scan
// or change of ours.
func (mb *mailbox) changedOnDisk() bool {
	for i, sub := range []string{"cur", "new"} {
		info, err := mb.u.s.fs.Stat(mb.path(sub))
		if err != nil || !info.ModTime().Equal(mb.dirStamp[i]) {
			return true
		}
	}
	return false
}

// stampLocked records the directories' times after a change of ours.
func (mb *mailbox) stampLocked() {
	for i, sub := range []string{"cur", "new"} {
		if info, err := mb.u.s.fs.Stat(mb.path(sub)); err == nil {
			mb.dirStamp[i] = info.ModTime()
		}
	}
}

// rescanLocked notices other programs' changes if the directories changed.
func (mb *mailbox) rescanLocked() error {
	if !mb.loaded || mb.deleted || !mb.changedOnDisk() {
		return nil
	}
	var dl uidlist
	if d, err := mb.u.s.fs.ReadFile(mb.path(uidlistName)); err == nil {
		dl, _ = parseUIDList(string(d))
	}
	return mb.reconcileLocked(&dl, false)
}

// reconcileLocked compares the messages in memory with the files: files
// gone are expunged, files renamed with other flags change flags, and
// new files get new UIDs (from Dovecot's uidlist if it gave one that is
// still free). Changes are logged and published.
func (mb *mailbox) reconcileLocked(dl *uidlist, loading bool) error {
	fsys := mb.u.s.fs
	files, err := mb.scanLocked()
	if err != nil {
		return err
	}
	if data, err := fsys.ReadFile(mb.path(keywordsName)); err == nil && !loading {
		mb.keywords = parseKeywords(string(data))
	}
	var recs []*record
	var gone []*message
	known := make(map[string]bool, len(mb.msgs))
	for i, m := range mb.msgs {
		known[m.base] = true
		f, ok := files[m.base]
		if !ok {
			gone = append(gone, m)
			continue
		}
		p := mb.path(f.sub, f.name)
		m.path.Store(&p)
		fileFlags := infoFlags(f.letters, mb.keywords)
		if sameFlags(representable(m.flags, mb.keywords), fileFlags) {
			continue
		}
		// Re-flagged by another program: its letters win; keywords the
		// letters cannot carry stay.
		nf := fileFlags
		for _, fl := range m.flags {
			if !strings.HasPrefix(fl, `\`) && !hasFlag(representable([]string{fl}, mb.keywords), fl) {
				nf = append(nf, fl)
			}
		}
		mb.modSeq++
		nm := &message{m.msgData, &flagState{modSeq: mb.modSeq, flags: nf}}
		mb.msgs[i] = nm
		recs = append(recs, &record{kind: 'F', modSeq: mb.modSeq, uid: m.uid, flags: nf})
		mb.publishLocked(imapserver.Update{Kind: imapserver.UpdateFlags, UID: m.uid, Flags: nf, ModSeq: mb.modSeq}, nil)
	}
	// Files of messages we expunged whose removal a crash undid.
	if len(mb.expunged) > 0 && mb.expungedBases == nil {
		mb.expungedBases = make(map[string]bool, len(mb.expunged))
		for _, e := range mb.expunged {
			mb.expungedBases[e.base] = true
		}
	}
	var fresh []diskFile
	for base, f := range files {
		if known[base] || mb.incoming[base] {
			continue
		}
		if mb.expungedBases[base] {
			fsys.Remove(mb.path(f.sub, f.name))
			continue
		}
		fresh = append(fresh, f)
	}
	if len(recs) > 0 {
		if err := mb.writeLogLocked(recs...); err != nil {
			return err
		}
		recs = recs[:0]
	}
	if len(gone) > 0 {
		del := make(map[*msgData]bool, len(gone))
		for _, m := range gone {
			del[m.msgData] = true
		}
		if err := mb.expungeLocked(func(m *message) bool { return del[m.msgData] }, nil, true); err != nil {
			return err
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	// New files: Dovecot's UID when it gave one we have not used, in
	// that order; then the rest by name (delivery time first).
	adopt := mb.adoptUIDList
	mb.adoptUIDList = false
	uidOf := func(f diskFile) uint32 {
		base, _ := splitName(f.name)
		if u := dl.uids[base]; u != 0 && (u >= mb.uidNext || adopt) {
			return u
		}
		return 0
	}
	sort.Slice(fresh, func(i, j int) bool {
		a, b := uidOf(fresh[i]), uidOf(fresh[j])
		if (a == 0) != (b == 0) {
			return a != 0
		}
		if a != b {
			return a < b
		}
		return fresh[i].name < fresh[j].name
	})
	mb.modSeq++
	firstNew := uint32(0)
	for _, f := range fresh {
		p := mb.path(f.sub, f.name)
		base, _ := splitName(f.name)
		info, err := fsys.Stat(p)
		if err != nil {
			continue
		}
		md := &msgData{base: base, date: info.ModTime(), mb: mb}
		md.path.Store(&p)
		if w, ok := sizeField(base, 'W'); ok {
			md.vsize = w
			if s, ok := sizeField(base, 'S'); ok && s == w {
				md.raw = true
			}
		} else {
			data, err := fsys.ReadFile(p)
			if err != nil {
				continue
			}
			md.vsize, md.raw = crlfSize(data), cleanCRLF(data) || bytesHaveNoLineEnds(data)
		}
		uid := uidOf(f)
		if uid == 0 {
			uid = mb.uidNext
		}
		mb.uidNext = max(mb.uidNext, uid+1)
		md.uid = uid
		if firstNew == 0 {
			firstNew = uid
		}
		flags := infoFlags(f.letters, mb.keywords)
		m := &message{md, &flagState{modSeq: mb.modSeq, flags: flags}}
		md.inCur = f.sub == "cur"
		recs = append(recs, &record{kind: 'A', uid: uid, modSeq: mb.modSeq, date: md.date.UnixNano(), size: md.vsize, raw: md.raw, inCur: md.inCur, base: base, flags: flags})
		mb.msgs = append(mb.msgs, m)
		mb.size += m.vsize
		mb.publishLocked(imapserver.Update{Kind: imapserver.UpdateNew, UID: uid, Flags: flags, ModSeq: mb.modSeq}, nil)
	}
	if loading && firstNew != 0 {
		// Mail other programs delivered while we were not running is
		// recent (RFC 3501 §2.3.2).
		mb.recentUID = min(mb.recentUID, firstNew)
	}
	mb.uidlistDirty = true
	return mb.writeLogLocked(recs...)
}

func bytesHaveNoLineEnds(data []byte) bool {
	for _, b := range data {
		if b == '\n' || b == '\r' {
			return false
		}
	}
	return true
}

// writeLogLocked appends records to the index (not synced).
func (mb *mailbox) writeLogLocked(recs ...*record) error {
	if len(recs) == 0 {
		return nil
	}
	if mb.log == nil {
		return mb.checkpointLocked()
	}
	// Summary locations waiting (summary.go) go first, in one write.
	buf, n := mb.pendingC, mb.pendingCn
	mb.pendingC, mb.pendingCn = nil, 0
	for _, r := range recs {
		buf = appendRecord(buf, r)
	}
	if _, err := mb.log.Write(buf); err != nil {
		return fmt.Errorf("maildir: writing index of %q: %w", mb.name, err)
	}
	mb.logRecs += len(recs) + n
	return nil
}

// flushSummaryLocsLocked writes the summary locations waiting.
func (mb *mailbox) flushSummaryLocsLocked() {
	if len(mb.pendingC) == 0 || mb.log == nil {
		return
	}
	if _, err := mb.log.Write(mb.pendingC); err == nil {
		mb.logRecs += mb.pendingCn
	}
	mb.pendingC, mb.pendingCn = nil, 0
}

// maybeCheckpointLocked rewrites the index when it grew large.
func (mb *mailbox) maybeCheckpointLocked() error {
	if mb.logRecs > 2*len(mb.msgs)+1024 {
		return mb.checkpointLocked()
	}
	return nil
}

// checkpointLocked writes the whole state as a new index (synced and
// renamed over the old one), and dovecot-uidlist and dovecot-keywords.
// The directories are synced first, so that the expunge records that
// lose their file names refer to files whose removal is durable.
func (mb *mailbox) checkpointLocked() error {
	fsys := mb.u.s.fs
	if len(mb.expunged) > maxExpungeHistory {
		cut := len(mb.expunged) - maxExpungeHistory
		last := mb.expunged[cut-1].modSeq
		for cut < len(mb.expunged) && mb.expunged[cut].modSeq == last {
			cut++
		}
		mb.expiredTo = last
		mb.expunged = append([]expungeRec(nil), mb.expunged[cut:]...)
		mb.expungedBases = nil
	}
	mb.compactCacheLocked()
	buf := appendRecord(nil, &record{kind: 'H', validity: mb.uidValidity, uidNext: mb.uidNext, modSeq: mb.modSeq, guid: mb.guid, expired: mb.expiredTo})
	for i := 0; i < len(mb.expunged); {
		r := record{kind: 'X', modSeq: mb.expunged[i].modSeq}
		for ; i < len(mb.expunged) && mb.expunged[i].modSeq == r.modSeq; i++ {
			r.gone = append(r.gone, goneRec{mb.expunged[i].uid, mb.expunged[i].base})
		}
		buf = appendRecord(buf, &r)
	}
	for _, m := range mb.msgs {
		buf = appendRecord(buf, &record{kind: 'A', uid: m.uid, modSeq: m.modSeq, date: m.date.UnixNano(), size: m.vsize, raw: m.raw, inCur: m.inCurNow(), base: m.base, flags: m.flags, loc: m.sum.Load()})
	}
	mb.pendingC, mb.pendingCn = nil, 0 // their locations are in the A records
	if mb.log != nil {
		mb.log.Close()
		mb.log = nil
	}
	if err := writeFileAtomic(fsys, mb.path(indexName), buf, true); err != nil {
		return fmt.Errorf("maildir: writing index of %q: %w", mb.name, err)
	}
	f, err := fsys.OpenFile(mb.path(indexName), os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	mb.log, mb.logRecs, mb.cacheRecs = f, 1+len(mb.msgs), 0
	mb.writeUIDListLocked()
	return nil
}

// writeUIDListLocked writes dovecot-uidlist (not synced: it is derived).
func (mb *mailbox) writeUIDListLocked() {
	data := formatUIDList(mb.uidValidity, mb.uidNext, mb.guid, mb.msgs)
	if err := writeFileAtomic(mb.u.s.fs, mb.path(uidlistName), data, false); err != nil {
		mb.u.s.logger.Warn("maildir: writing dovecot-uidlist", "mailbox", mb.name, "err", err)
	}
	mb.uidlistDirty = false
}

// keywordLettersLocked gives letters to the new keywords among flags,
// while there are letters left, and writes dovecot-keywords first, so
// that no file name uses a letter the file does not define.
func (mb *mailbox) keywordLettersLocked(flags []string) {
	changed := false
	for _, f := range flags {
		if strings.HasPrefix(f, `\`) || hasFlag(mb.keywords, f) {
			continue
		}
		i := 0
		for i < len(mb.keywords) && mb.keywords[i] != "" {
			i++
		}
		if i >= maxKeywords {
			continue
		}
		if i == len(mb.keywords) {
			mb.keywords = append(mb.keywords, f)
		} else {
			mb.keywords[i] = f
		}
		changed = true
	}
	if changed {
		if err := writeFileAtomic(mb.u.s.fs, mb.path(keywordsName), formatKeywords(mb.keywords), false); err != nil {
			mb.u.s.logger.Warn("maildir: writing dovecot-keywords", "mailbox", mb.name, "err", err)
		}
	}
}

// fileName is the name of a message's file with the given flags.
func (mb *mailbox) fileName(base string, flags []string) string {
	return base + ":2," + infoLetters(flags, mb.keywords)
}

// renameForFlagsLocked renames a message's file to carry its new flags.
func (mb *mailbox) renameForFlagsLocked(md *message, flags []string) {
	old := md.pathLocked()
	if old == "" {
		return
	}
	p := mb.path("cur", mb.fileName(md.base, flags))
	if p == old {
		return
	}
	err := mb.u.s.fs.Rename(old, p)
	if err != nil && errors.Is(err, fs.ErrNotExist) {
		for _, alt := range md.altPaths(old) {
			if err = mb.u.s.fs.Rename(alt, p); err == nil || !errors.Is(err, fs.ErrNotExist) {
				break
			}
		}
	}
	if err != nil {
		// Removed by another program: the next scan expunges it.
		return
	}
	md.path.Store(&p)
}

func (mb *mailbox) closeLocked() error {
	if mb.uidlistDirty && mb.loaded && !mb.deleted {
		mb.writeUIDListLocked()
	}
	if mb.log != nil && mb.loaded && !mb.deleted && mb.cacheRecs > len(mb.msgs)/4+1024 {
		// Summaries found this time: folded into the messages' records
		// now rather than at the next start (see loadLocked).
		if err := mb.checkpointLocked(); err != nil {
			mb.u.s.logger.Warn("maildir: checkpoint", "mailbox", mb.name, "err", err)
		}
	}
	if mb.log != nil && mb.loaded && !mb.deleted && !mb.changedOnDisk() && mb.stampSettled() {
		// The directories as we leave them, so that the next start
		// need not list them (see index.go).
		mb.writeLogLocked(&record{kind: 'S', date: mb.dirStamp[0].UnixNano(), size: mb.dirStamp[1].UnixNano()})
	}
	mb.flushSummaryLocsLocked()
	mb.closeCache()
	if mb.log != nil {
		err := mb.log.Sync()
		if cerr := mb.log.Close(); err == nil {
			err = cerr
		}
		mb.log = nil
		return err
	}
	return nil
}

// publishLocked records an update for every open handle.
func (mb *mailbox) publishLocked(upd imapserver.Update, origin *handle) {
	for h := range mb.handles {
		u := upd
		u.Own = h == origin
		if u.Own && u.Kind == imapserver.UpdateFlags {
			continue
		}
		h.pending = append(h.pending, u)
		if h.notify != nil {
			h.notify()
		}
	}
}

// expungeLocked removes the messages for which del returns true: one
// X record, one mod-sequence. The files move out of the way at once but
// are removed only when every handle has been told (doomedFile).
func (mb *mailbox) expungeLocked(del func(*message) bool, origin *handle, goneAlready bool) error {
	var gone []*message
	kept := mb.msgs[:0]
	for _, m := range mb.msgs {
		if del(m) {
			gone = append(gone, m)
		} else {
			kept = append(kept, m)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	clear(mb.msgs[len(kept):])
	mb.msgs = kept
	for _, m := range gone {
		// The summary kept in memory goes with the message, though its
		// msgData may live on in the array it was loaded in (keepSummary).
		m.decoded.Store(nil)
	}
	mb.modSeq++
	r := &record{kind: 'X', modSeq: mb.modSeq}
	for _, m := range gone {
		r.gone = append(r.gone, goneRec{m.uid, m.base})
		mb.expunged = append(mb.expunged, expungeRec{m.uid, mb.modSeq, m.base})
		if mb.expungedBases != nil {
			mb.expungedBases[m.base] = true
		}
		mb.size -= m.vsize
	}
	err := mb.writeLogLocked(r)
	for _, m := range gone {
		if !goneAlready {
			mb.doomLocked(m, origin)
		}
		// The server serves the message to sessions not told yet (RFC
		// 2180 §4.1.1); a file another program removed cannot be.
		var msg imapserver.Message
		if !goneAlready {
			msg = m
		}
		mb.publishLocked(imapserver.Update{Kind: imapserver.UpdateExpunge, UID: m.uid, ModSeq: mb.modSeq, Message: msg}, origin)
	}
	mb.uidlistDirty = true
	return err
}

// doomLocked removes an expunged message's file now, or once the
// handles open now (but the one that expunged, whose session reports
// the expunge at once) have closed.
func (mb *mailbox) doomLocked(md *message, origin *handle) {
	p := md.pathLocked()
	if p == "" {
		return
	}
	others := len(mb.handles)
	if _, ok := mb.handles[origin]; ok {
		others--
	}
	if others == 0 {
		mb.u.s.fs.Remove(p)
		return
	}
	// Out of cur/new at once, so that neither a rescan nor Dovecot takes
	// it for a message; still readable under its new name.
	tp := mb.path("tmp", filepath.Base(p)+".expunged")
	if err := mb.u.s.fs.Rename(p, tp); err == nil {
		p = tp
		md.path.Store(&tp)
	}
	d := &doomedFile{path: p, waiting: make(map[*handle]bool, len(mb.handles))}
	for h := range mb.handles {
		if h != origin {
			d.waiting[h] = true
		}
	}
	mb.doomed = append(mb.doomed, d)
}

// closedLocked notes that h has closed: files it was the last to hold
// are removed.
func (mb *mailbox) closedLocked(h *handle) {
	if len(mb.doomed) == 0 {
		return
	}
	kept := mb.doomed[:0]
	for _, d := range mb.doomed {
		delete(d.waiting, h)
		if len(d.waiting) == 0 {
			mb.u.s.fs.Remove(d.path)
			continue
		}
		kept = append(kept, d)
	}
	clear(mb.doomed[len(kept):])
	mb.doomed = kept
}

// find returns the index of uid in mb.msgs, or -1.
func (mb *mailbox) find(uid uint32) int {
	i := sort.Search(len(mb.msgs), func(i int) bool { return mb.msgs[i].uid >= uid })
	if i < len(mb.msgs) && mb.msgs[i].uid == uid {
		return i
	}
	return -1
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
