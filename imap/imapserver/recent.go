package imapserver

import "sort"

// IMAP4rev1's \Recent flag (RFC 3501 §2.3.2). A message is recent in
// exactly one session: the first told of it, by SELECT or by a new
// message notification. The store decides which session that is
// (Snapshot.RecentFrom, Update.Recent); the session only remembers the
// answer. IMAP4rev2 removed \Recent (RFC 9051 Appendix E): after ENABLE
// IMAP4rev2 neither RECENT responses nor the flag are sent.

// recentSet is the set of UIDs recent in one session: the snapshot's
// UIDs in [from, to), plus the UIDs of later new messages marked recent,
// ascending.
type recentSet struct {
	from, to uint32
	added    []uint32
}

func (r *recentSet) has(uid uint32) bool {
	if r.from != 0 && uid >= r.from && uid < r.to {
		return true
	}
	i := sort.Search(len(r.added), func(i int) bool { return r.added[i] >= uid })
	return i < len(r.added) && r.added[i] == uid
}

// isRecent reports whether uid carries \Recent in this session.
func (s *session) isRecent(uid uint32) bool {
	return !s.rev2 && s.sel != nil && s.sel.recent.has(uid)
}

// recentCount counts the messages of the sequence map that are recent.
func (sel *selected) recentCount() uint32 {
	r := &sel.recent
	var n uint32
	if r.from != 0 && r.from < r.to {
		lo := sort.Search(len(sel.uids), func(i int) bool { return sel.uids[i] >= r.from })
		hi := sort.Search(len(sel.uids), func(i int) bool { return sel.uids[i] >= r.to })
		n = uint32(hi - lo)
	}
	for _, uid := range r.added {
		if sel.seqOf(uid) != 0 {
			n++
		}
	}
	return n
}

// flagsRecent writes a flag list, with \Recent added when recent.
func (w *respWriter) flagsRecent(flags []string, recent bool) {
	if !recent {
		w.flags(flags)
		return
	}
	w.WriteByte('(')
	for _, f := range flags {
		w.WriteString(f)
		w.WriteByte(' ')
	}
	w.WriteString(`\Recent)`)
}
