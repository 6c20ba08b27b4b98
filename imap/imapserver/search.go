package imapserver

import (
	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/internal/imapmsg"
)

// SEARCH (RFC 9051 §6.4.4) with ESEARCH (RFC 4731) and SEARCHRES (RFC 5182).
func cmdSearch(s *session, tag string, uid bool) error {
	if err := s.dec.SP(); err != nil {
		return err
	}
	crit, err := s.dec.ReadSearchCriteria()
	if err != nil {
		return err
	}
	if err := s.crlf(); err != nil {
		return err
	}
	seqNums := false
	crit.Walk(func(k *imap.SearchKey) bool {
		seqNums = seqNums || k.Op == imap.SearchSeqSet
		return !seqNums
	})
	if uid && seqNums {
		// RFC 7162 §3.2.10.2, RFC 9051 §7.5.1: no EXPUNGE or VANISHED
		// during a UID SEARCH that uses sequence numbers.
		s.allowExpunge = false
	}
	useModSeq, err := s.modSeqSearch(crit)
	if err != nil {
		return err
	}
	var maxModSeq, firstModSeq, lastModSeq uint64
	sel := s.sel
	var uids []uint32
	err = s.searchMatches(crit, func(m Message, seq uint32) error {
		uids = append(uids, m.UID())
		ms := m.ModSeq()
		maxModSeq = max(maxModSeq, ms)
		if len(uids) == 1 {
			firstModSeq = ms
		}
		lastModSeq = ms
		return nil
	})
	if err != nil {
		return err
	}
	if crit.Returns(imap.SearchReturnSave) {
		sel.searchRes = uids
	}
	w := &s.w
	esearch := crit.HasReturn || s.rev2
	if !esearch {
		w.WriteString("* SEARCH")
		for _, u := range uids {
			w.sp()
			if uid {
				w.num(u)
			} else {
				w.num(sel.seqOf(u))
			}
		}
		if useModSeq && len(uids) > 0 {
			// RFC 7162 §3.1.5, §3.1.6: the highest mod-sequence of the
			// messages found.
			w.WriteString(" (MODSEQ ")
			w.num64(maxModSeq)
			w.WriteByte(')')
		}
		w.crlf()
		return nil
	}
	// RFC 5182 §2.4: SAVE alone returns nothing.
	onlySave := len(crit.Return) == 1 && crit.Return[0] == imap.SearchReturnSave
	if onlySave {
		return nil
	}
	nums := make([]uint32, len(uids))
	for i, u := range uids {
		if uid {
			nums[i] = u
		} else {
			nums[i] = sel.seqOf(u)
		}
	}
	w.WriteString(`* ESEARCH (TAG `)
	w.str(tag)
	w.WriteByte(')')
	if uid {
		w.WriteString(" UID")
	}
	all := !crit.HasReturn || len(crit.Return) == 0 || crit.Returns(imap.SearchReturnAll)
	if len(nums) > 0 {
		if crit.Returns(imap.SearchReturnMin) {
			w.WriteString(" MIN ")
			w.num(nums[0])
		}
		if crit.Returns(imap.SearchReturnMax) {
			w.WriteString(" MAX ")
			w.num(nums[len(nums)-1])
		}
		if all {
			w.WriteString(" ALL ")
			w.Write(imap.NumSetOf(nums...).AppendTo(w.AvailableBuffer()))
		}
	}
	if crit.Returns(imap.SearchReturnCount) {
		w.WriteString(" COUNT ")
		w.num(uint32(len(nums)))
	}
	if useModSeq && len(nums) > 0 {
		// RFC 7162 §3.1.10, RFC 4731 §3.2: the MODSEQ result item. With
		// MIN or MAX alone it is that message's mod-sequence; with MIN
		// and MAX and no ALL/COUNT the higher of those two; otherwise
		// the highest of all messages found.
		ms := maxModSeq
		if !all && !crit.Returns(imap.SearchReturnCount) {
			minR, maxR := crit.Returns(imap.SearchReturnMin), crit.Returns(imap.SearchReturnMax)
			switch {
			case minR && maxR:
				ms = max(firstModSeq, lastModSeq)
			case minR:
				ms = firstModSeq
			case maxR:
				ms = lastModSeq
			}
		}
		w.WriteString(" MODSEQ ")
		w.num64(ms)
	}
	w.crlf()
	return nil
}

// searchMatches runs the search program crit over the selected mailbox
// and calls match with each message it matches and its sequence number,
// in sequence order. SEARCH, SORT and THREAD share it.
func (s *session) searchMatches(crit *imap.SearchCriteria, match func(m Message, seq uint32) error) error {
	sel := s.sel
	msgs, err := sel.mb.Messages(s.ctx, sel.uids)
	if err != nil {
		return err
	}
	sctx := imapmsg.SearchContext{MaxSeq: uint32(len(sel.uids))}
	if n := len(sel.uids); n > 0 {
		sctx.MaxUID = sel.uids[n-1]
	}
	if sel.searchRes != nil {
		sctx.SavedUIDs = imap.NumSetOf(sel.searchRes...)
	}
	matcher := imapmsg.NewMatcher(crit.Keys, sctx)
	var meta imapmsg.Meta
	var flagBuf []imap.Flag
	view := new(imapmsg.Message) // for every message in turn (s.message)
	cur := seqCursor{sel: sel}
	for _, m := range msgs {
		uid := m.UID()
		seq := cur.seqOf(uid)
		flagBuf = flagBuf[:0]
		for _, f := range m.Flags() {
			flagBuf = append(flagBuf, imap.Flag(f))
		}
		meta = imapmsg.Meta{
			SeqNum:       seq,
			UID:          uid,
			Flags:        flagBuf,
			InternalDate: m.InternalDate(),
			Size:         m.Size(),
			ModSeq:       m.ModSeq(),
			Recent:       s.isRecent(uid),
		}
		ok, err := matcher.Match(&meta, func() (*imapmsg.Message, error) {
			if sm, isSum := m.(Summarizer); isSum && !matcher.NeedsBody() {
				// Header keys only: the store's index has the header.
				if hm := s.summaryMessage(sm.Summary(), view); hm != nil {
					return hm, nil
				}
			}
			return s.message(m, view)
		})
		if err != nil {
			return err
		}
		if ok {
			if err := match(m, seq); err != nil {
				return err
			}
		}
	}
	return nil
}
