package imapserver

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/posthorn/posthorn/imap/internal/imapsort"
)

// The sort state of a mailbox view, shared by sessions.
//
// SORT and THREAD of ALL need every message's header keys (kept with its
// parse, parsedMsg.sortKeys), internal date and size, in sequence order,
// and for a string criterion the rank of every message's key (a full sort,
// imapsort.Ranks). A sortEntry holds that for one sequence map of one
// mailbox. The Server keeps the latest entry of each mailbox (sortShare),
// so that a session that selects a mailbox and sorts it once — the usual
// webmail request — finds the work of the previous session done, as
// Dovecot finds its sort indexes, instead of walking every message through
// the backend and sorting every criterion again.
//
// An entry is immutable once published, except for its ranks and
// results, which are added on first use under the entry's lock. It is found by user,
// mailbox name and UIDVALIDITY, and used only by a session whose sequence
// map is equal to the entry's (the same shared array, as imapmem hands
// out to every handle of an unchanged mailbox, or equal elements). That is
// correct because, within one UIDVALIDITY, a UID names one message for
// ever (RFC 9051 §2.3.1.1) and no sort key depends on anything of a
// message that can change (flags and mod-sequences are not sort keys; the
// MODSEQ search key never takes this path). A change to the mailbox gives
// the next session to sort a different sequence map; it builds a new entry,
// taking the keys of the messages it has in common with the old one from
// it, fetching only the new messages from the backend, and replaces it.
// When the change is new mail only (the common case), the new entry
// appends to the old one's array, in spare capacity that one rebuild may
// claim (extended), and extends its ranks (imapsort.ExtendRanks) instead
// of sorting again.
//
// The outcome of a SORT or THREAD of ALL depends on nothing but the entry
// and the command, so an entry also keeps the first few of them: the
// message order of a sort program, the formatted reply of a THREAD.
// Repeating a SORT or THREAD of an unchanged mailbox, in any session,
// then costs about writing its reply.
//
// Memory: an entry costs about 250 octets per message (imapsort.Message,
// an eighth more of spare capacity, and 4 per string criterion ranked),
// plus up to maxSortResults results of at most 8 octets per message,
// besides the keys, which the parse cache holds anyway. The shared
// entries hold at most maxSharedSortMessages messages in all (about
// 64 MiB, more only while sessions still hold dropped entries); past that
// the least recently used are dropped, and a mailbox of more than half of
// it is not shared. A session holds on to the entry it last used
// until it sorts a different sequence map or ends.

// maxSharedSortMessages bounds the messages of all shared sort entries.
const maxSharedSortMessages = 1 << 18

// sortEntry is the sort state of one sequence map of one mailbox.
type sortEntry struct {
	key  sortKey
	uids []uint32 // the sequence map (never written)
	// msgs are the messages in sequence order, expunged ones left out.
	// Elements within len are never written; the spare capacity belongs
	// to the rebuild that sets extended.
	msgs []imapsort.Message
	// complete: every UID of uids is in msgs; only complete entries are
	// shared, the others serve only the session that built them.
	complete bool
	lastUse  uint64 // sortShare.clock at last use, under sortShare.mu
	// modSeq is the mod-sequence its session had taken in (0 in a
	// store without them), to tell older views from newer (put).
	modSeq uint64
	// extended is set by the one rebuild allowed to append new mail in
	// the spare capacity of msgs (buildSortEntry); others copy.
	extended atomic.Bool

	mu   sync.Mutex
	rank map[imapsort.Key][]uint32
	// results memoizes at most maxSortResults outcomes of SORT and THREAD
	// of ALL (sortResultKey), which depend on nothing but the entry.
	results map[string]any
}

// maxSortResults bounds the results an entry memoizes.
const maxSortResults = 8

// memo returns the result named key, computing it with f the first time.
// f runs without the lock held (two sessions may compute it at once;
// one result is kept). Results are never modified.
func (e *sortEntry) memo(key string, f func() any) any {
	e.mu.Lock()
	v, ok := e.results[key]
	e.mu.Unlock()
	if ok {
		return v
	}
	v = f()
	e.mu.Lock()
	defer e.mu.Unlock()
	if w, ok := e.results[key]; ok {
		return w
	}
	if len(e.results) < maxSortResults {
		if e.results == nil {
			e.results = make(map[string]any)
		}
		e.results[key] = v
	}
	return v
}

// sortKey names a mailbox of one user across sessions.
type sortKey struct {
	user, mailbox string
	uidValidity   uint32
}

// ranks returns the ranks of the entry's messages for a string criterion,
// nil for a numeric one, computing them once.
func (e *sortEntry) ranks(k imapsort.Key) []uint32 {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.rank[k]
	if !ok {
		r = imapsort.Ranks(e.msgs, k)
		if e.rank == nil {
			e.rank = make(map[imapsort.Key][]uint32)
		}
		e.rank[k] = r
	}
	return r
}

// matches reports whether the entry was built for the sequence map uids.
func (e *sortEntry) matches(uids []uint32) bool {
	if len(e.uids) != len(uids) {
		return false
	}
	if len(uids) == 0 || &e.uids[0] == &uids[0] {
		return true
	}
	return slices.Equal(e.uids, uids)
}

// sortShare is the Server's table of shared sort entries, the latest of
// each mailbox. The zero value is ready to use.
type sortShare struct {
	mu      sync.Mutex
	entries map[sortKey]*sortEntry
	total   int    // messages of all entries
	clock   uint64 // use counter for least-recently-used eviction
}

// get returns the entry of k, nil if there is none.
func (sh *sortShare) get(k sortKey) *sortEntry {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.entries[k]
	if e != nil {
		sh.clock++
		e.lastUse = sh.clock
	}
	return e
}

// put makes e the entry of its mailbox, unless the entry there was built
// from a later state of the mailbox, dropping the least recently used entries when the
// table holds too many messages.
func (sh *sortShare) put(e *sortEntry) {
	if !e.complete || len(e.msgs) > maxSharedSortMessages/2 {
		return
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.entries == nil {
		sh.entries = make(map[sortKey]*sortEntry)
	}
	if old := sh.entries[e.key]; old != nil {
		if old.newer(e) {
			// A session that has not taken in the latest changes:
			// keep the entry the other sessions will want.
			return
		}
		sh.total -= len(old.msgs)
	}
	sh.clock++
	e.lastUse = sh.clock
	sh.entries[e.key] = e
	sh.total += len(e.msgs)
	for sh.total > maxSharedSortMessages {
		var lru *sortEntry
		for _, x := range sh.entries {
			if x != e && (lru == nil || x.lastUse < lru.lastUse) {
				lru = x
			}
		}
		delete(sh.entries, lru.key)
		sh.total -= len(lru.msgs)
	}
}

// newer reports whether e was built from a later state of the mailbox
// than f: by the mod-sequence of the changes its session had taken in,
// or, in a store without mod-sequences, by the last UID.
func (e *sortEntry) newer(f *sortEntry) bool {
	if e.modSeq != 0 || f.modSeq != 0 {
		return e.modSeq > f.modSeq
	}
	return lastUID(e.uids) > lastUID(f.uids)
}

// lastUID returns the last UID of a sequence map, 0 if it is empty.
func lastUID(uids []uint32) uint32 {
	if len(uids) == 0 {
		return 0
	}
	return uids[len(uids)-1]
}

// sortCache is a session's hold on the sort entry of its selection.
type sortCache struct {
	sel   *selected
	entry *sortEntry
}

// sortEntry returns the sort entry for the session's sequence map: its
// own if still valid, else the shared one if built for the same map, else
// a new one built (from the shared or own entry of the mailbox where they
// have messages in common) and shared.
func (s *session) sortEntry() (*sortEntry, error) {
	sel := s.sel
	if c := s.sortCache; c != nil && c.sel == sel && c.entry.matches(sel.uids) {
		return c.entry, nil
	}
	key := sortKey{user: s.user.Username(), mailbox: sel.name, uidValidity: sel.mb.Snapshot().UIDValidity}
	shared := &s.srv.sorts
	old := shared.get(key)
	if old == nil || !old.matches(sel.uids) {
		if c := s.sortCache; c != nil && c.entry.key == key && (old == nil || len(c.entry.msgs) > len(old.msgs)) {
			old = c.entry
		}
		e, err := s.buildSortEntry(key, old)
		if err != nil {
			return nil, err
		}
		shared.put(e)
		old = e
	}
	s.sortCache = &sortCache{sel: sel, entry: old}
	return old, nil
}

// buildSortEntry makes the sort entry of the session's sequence map,
// copying what old (an entry of the same mailbox, or nil) has of its
// messages and asking the backend for the others only.
func (s *session) buildSortEntry(key sortKey, old *sortEntry) (*sortEntry, error) {
	uids := s.sel.uids
	n := len(uids)
	if old != nil && old.complete && len(old.uids) < n && old.matches(uids[:len(old.uids)]) && old.extended.CompareAndSwap(false, true) {
		return s.extendSortEntry(key, old)
	}
	e := &sortEntry{key: key, uids: uids[:n:n], msgs: make([]imapsort.Message, n), modSeq: s.sel.modSeq}
	var want []uint32 // UIDs old does not have, ascending
	var prev []imapsort.Message
	if old != nil {
		prev = old.msgs
	}
	j := 0
	for i, uid := range uids {
		for j < len(prev) && prev[j].UID < uid {
			j++
		}
		if j < len(prev) && prev[j].UID == uid {
			m := prev[j]
			m.SeqNum = uint32(i + 1)
			e.msgs[i] = m
			continue
		}
		e.msgs[i] = imapsort.Message{SeqNum: uint32(i + 1), UID: uid}
		want = append(want, uid)
	}
	if len(want) > 0 {
		if err := s.fillSortKeys(s.ctx, e.msgs, want); err != nil {
			return nil, err
		}
	}
	// Messages expunged meanwhile (left out by Messages) are left out.
	msgs := e.msgs[:0]
	for _, m := range e.msgs {
		if m.Keys != nil {
			msgs = append(msgs, m)
		}
	}
	e.complete = len(msgs) == n
	e.msgs = msgs
	return e, nil
}

// extendSortEntry makes the sort entry of the session's sequence map, which
// is old's followed by new mail: the common change. The new messages go
// after old's in the same array when it has room (the caller won the right
// to it: old.extended), and old's ranks are extended rather than computed
// again.
func (s *session) extendSortEntry(key sortKey, old *sortEntry) (*sortEntry, error) {
	uids := s.sel.uids
	n, k := len(uids), len(old.msgs)
	msgs := old.msgs
	if cap(msgs) < n {
		msgs = make([]imapsort.Message, k, n+n/8+16)
		copy(msgs, old.msgs)
	}
	msgs = msgs[:n]
	for i := k; i < n; i++ {
		msgs[i] = imapsort.Message{SeqNum: uint32(i + 1), UID: uids[i]}
	}
	if err := s.fillSortKeys(s.ctx, msgs[k:], uids[k:]); err != nil {
		return nil, err
	}
	j := k
	for i := k; i < n; i++ {
		if msgs[i].Keys != nil {
			msgs[j] = msgs[i]
			j++
		}
	}
	clear(msgs[j:n])
	e := &sortEntry{key: key, uids: uids[:n:n], msgs: msgs[:j], complete: j == n, modSeq: s.sel.modSeq}
	old.mu.Lock()
	for c, r := range old.rank {
		if e.rank == nil {
			e.rank = make(map[imapsort.Key][]uint32, len(old.rank))
		}
		e.rank[c] = imapsort.ExtendRanks(e.msgs, r, c)
	}
	old.mu.Unlock()
	return e, nil
}

// fillSortKeys fetches the messages want (ascending UIDs) from the backend
// and sets their keys, internal date and size in msgs (in UID order).
func (s *session) fillSortKeys(ctx context.Context, msgs []imapsort.Message, want []uint32) error {
	all, err := s.sel.mb.Messages(ctx, want)
	if err != nil {
		return err
	}
	i := 0
	for _, m := range all {
		uid := m.UID()
		for i < len(msgs) && msgs[i].UID < uid {
			i++
		}
		if i == len(msgs) || msgs[i].UID != uid {
			continue
		}
		keys, err := s.sortKeys(m)
		if err != nil {
			return err
		}
		msgs[i].Keys, msgs[i].InternalDate, msgs[i].Size = keys, m.InternalDate(), m.Size()
	}
	return nil
}
