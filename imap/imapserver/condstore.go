package imapserver

import (
	"errors"
	"math"
	"sort"

	"github.com/posthorn/posthorn/imap"
)

// condState is a session's CONDSTORE and QRESYNC state (RFC 7162). Both
// stay on until the connection closes.
type condState struct {
	// condstore: a CONDSTORE enabling command was issued (RFC 7162 §3.1):
	// from then on every untagged FETCH carries MODSEQ (and UID, §3.2.4)
	// and every SELECT/EXAMINE answers HIGHESTMODSEQ or NOMODSEQ.
	condstore bool
	// qresync: ENABLE QRESYNC (§3.2.3): VANISHED instead of EXPUNGE, and
	// the QRESYNC select parameter and VANISHED fetch modifier allowed.
	qresync bool
}

// syncOffered reports whether CONDSTORE and QRESYNC are offered: unless
// the backend says it keeps no mod-sequences at all (ModSeqKeeper), they
// are, and mailboxes without mod-sequences answer NOMODSEQ.
func (s *session) syncOffered() bool {
	if k, ok := s.srv.Backend.(ModSeqKeeper); ok {
		return k.KeepsModSeq()
	}
	return true
}

// writeSyncCaps adds the CONDSTORE and QRESYNC capabilities (RFC 7162
// §3.1.1, §3.2.2: a QRESYNC server also advertises CONDSTORE).
func (s *session) writeSyncCaps() {
	if s.syncOffered() {
		s.w.WriteString(" CONDSTORE QRESYNC")
	}
}

// enableCondstore records a CONDSTORE enabling command (RFC 7162 §3.1).
// The first one issued with a mailbox selected reports that mailbox's
// HIGHESTMODSEQ, or NOMODSEQ, at once.
func (s *session) enableCondstore() {
	if s.cs.condstore || !s.syncOffered() {
		return
	}
	s.cs.condstore = true
	if s.sel != nil {
		s.writeModSeqCode()
	}
}

// modSeqOn reports whether responses about the selected mailbox carry
// mod-sequences: CONDSTORE is enabled and the mailbox keeps them.
func (s *session) modSeqOn() bool {
	return s.cs.condstore && s.sel != nil && !s.sel.noModSeq
}

// vanishedOn reports whether expunges in the selected mailbox are told
// with VANISHED rather than EXPUNGE (RFC 7162 §3.2.10.2: not for a
// mailbox that answered NOMODSEQ).
func (s *session) vanishedOn() bool {
	return s.cs.qresync && s.sel != nil && !s.sel.noModSeq
}

// needModSeq refuses a command that needs mod-sequences in a mailbox
// that keeps none (RFC 7162 §3.1.2.2: tagged BAD).
func (s *session) needModSeq() error {
	if s.sel != nil && s.sel.noModSeq {
		return bad("This mailbox does not support mod-sequences (NOMODSEQ)")
	}
	return nil
}

// modSeqSearch prepares a SEARCH, SORT or THREAD whose criteria may use
// the MODSEQ key (RFC 7162 §3.1.5): in a NOMODSEQ mailbox that is a BAD
// (§3.1.2.2), otherwise a CONDSTORE enabling command (§3.1). It reports
// whether the key is used: then a non-empty SEARCH or SORT result ends
// with "(MODSEQ n)", or an ESEARCH one with "MODSEQ n", n being the
// highest mod-sequence of the matches (§3.1.6, §3.1.9, §3.1.10).
func (s *session) modSeqSearch(crit *imap.SearchCriteria) (bool, error) {
	use := false
	crit.Walk(func(k *imap.SearchKey) bool {
		use = use || k.Op == imap.SearchModSeq
		return !use
	})
	if !use {
		return false, nil
	}
	if err := s.needModSeq(); err != nil {
		return false, err
	}
	s.enableCondstore()
	return true, nil
}

// writeModSeqCode writes the untagged OK with HIGHESTMODSEQ or NOMODSEQ
// for the selected mailbox (RFC 7162 §3.1.2).
func (s *session) writeModSeqCode() {
	if s.sel.noModSeq {
		s.w.WriteString("* OK [NOMODSEQ] Sorry, this mailbox format doesn't support modsequences\r\n")
		return
	}
	s.w.WriteString("* OK [HIGHESTMODSEQ ")
	s.w.num64(s.sel.highestModSeq())
	s.w.WriteString("] Highest\r\n")
}

// highestModSeq is the HIGHESTMODSEQ the session may report: the
// highest mod-sequence of the changes the client was told of, kept below
// the mod-sequence of any expunge still held back (RFC 7162 §3.2: a
// client that saved it and lost the connection must not miss the
// expunge on its next resync).
func (sel *selected) highestModSeq() uint64 {
	if sel.expungedMin != 0 && sel.expungedMin-1 < sel.modSeq {
		return sel.expungedMin - 1
	}
	return sel.modSeq
}

// noteModSeq raises the session's known mod-sequence.
func (sel *selected) noteModSeq(m uint64) {
	if m > sel.modSeq {
		sel.modSeq = m
	}
}

// writeVanished writes a VANISHED response (RFC 7162 §3.2.10) for UIDs
// ascending, or for a set of ranges; nothing when both are empty.
func (s *session) writeVanished(earlier bool, uids []uint32, set imap.NumSet) {
	if len(uids) == 0 && len(set.Ranges) == 0 {
		return
	}
	if len(uids) > 0 {
		set = imap.NumSetOf(uids...)
	}
	w := &s.w
	if earlier {
		w.WriteString("* VANISHED (EARLIER) ")
	} else {
		w.WriteString("* VANISHED ")
	}
	w.Write(set.AppendTo(w.AvailableBuffer()))
	w.crlf()
}

// vanishedEarlier computes what a VANISHED (EARLIER) response reports
// (RFC 7162 §3.2.6, §3.2.5.1): the UIDs of set expunged after modSeq. It
// uses the backend's expunge history; without one, or when the history
// does not go back to modSeq, it reports every UID of set below UIDNEXT
// that is not in the mailbox (§3.2.6 note), leaving out UIDs up to
// matched, the highest UID confirmed by the client's sequence match data
// (§3.2.5.2). UIDs still in the session's view are never reported: their
// expunge, if any, comes as a plain VANISHED later.
func (s *session) vanishedEarlier(set imap.NumSet, modSeq uint64, matched uint32) ([]uint32, imap.NumSet, error) {
	sel := s.sel
	var last uint32
	if n := len(sel.uids); n > 0 {
		last = sel.uids[n-1]
	}
	set = set.Resolve(last)
	if eh, ok := sel.mb.(ExpungeHistory); ok {
		exp, err := eh.ExpungedSince(s.ctx, modSeq)
		if err == nil {
			var out []uint32
			for _, u := range exp {
				if inResolved(set, u) && sel.seqOf(u) == 0 {
					out = append(out, u)
				}
			}
			return out, imap.NumSet{}, nil
		}
		if !errors.Is(err, ErrHistoryExpired) {
			return nil, imap.NumSet{}, err
		}
	}
	// Without history: the complement of the view within the set, as
	// ranges (a walk over the view, no per-UID work for the gaps).
	var out imap.NumSet
	if matched == math.MaxUint32 {
		return nil, out, nil
	}
	top := sel.uidNext - 1
	for _, rg := range set.Ranges {
		lo, hi := max(rg.Start, matched+1, 1), min(rg.Stop, top)
		if lo > hi {
			continue
		}
		i := sort.Search(len(sel.uids), func(i int) bool { return sel.uids[i] >= lo })
		next := lo
		for ; i < len(sel.uids) && sel.uids[i] <= hi; i++ {
			if u := sel.uids[i]; u > next {
				out.AddRange(next, u-1)
			}
			next = sel.uids[i] + 1
		}
		if next <= hi {
			out.AddRange(next, hi)
		}
	}
	return nil, out.Compact(), nil
}

// inResolved reports whether n is in a set made by NumSet.Resolve
// (ranges sorted and disjoint): a binary search, not a walk of the
// ranges, since a client's set of known UIDs may have thousands.
func inResolved(set imap.NumSet, n uint32) bool {
	r := set.Ranges
	i := sort.Search(len(r), func(i int) bool { return r[i].Stop >= n })
	return i < len(r) && r[i].Start <= n
}

// changedSince returns the messages of uids (ascending: the view or
// part of it) whose mod-sequence is greater than modSeq, and their
// positions in uids plus one (sequence numbers when uids is the view),
// when the backend can tell without reading every message (ChangeIndex);
// ok is false otherwise and the caller compares the messages'
// mod-sequences itself.
func (s *session) changedSince(uids []uint32, modSeq uint64) (out []Message, seqs []uint32, ok bool, err error) {
	ci, ok := s.sel.mb.(ChangeIndex)
	if !ok {
		return nil, nil, false, nil
	}
	changed, err := ci.ChangedSince(s.ctx, modSeq)
	if err != nil {
		return nil, nil, true, err
	}
	// Changes are few, the set may be the whole mailbox: a binary search
	// per change, from where the previous one ended (both ascend).
	out = changed[:0]
	seqs = make([]uint32, 0, len(changed))
	lo := 0
	for _, m := range changed {
		u := m.UID()
		i := lo + sort.Search(len(uids)-lo, func(i int) bool { return uids[lo+i] >= u })
		lo = i
		if i < len(uids) && uids[i] == u && m.ModSeq() > modSeq {
			out = append(out, m)
			seqs = append(seqs, uint32(i+1))
		}
	}
	return out, seqs, true, nil
}
