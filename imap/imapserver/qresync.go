package imapserver

import (
	"iter"

	"github.com/posthorn/posthorn/imap"
)

// selectParams are the parameters of SELECT and EXAMINE (RFC 4466 §2.1).
type selectParams struct {
	condstore bool           // RFC 7162 §3.1.8
	qresync   *qresyncParams // RFC 7162 §3.2.5
}

// qresyncParams is "QRESYNC (uidvalidity modseq [known-uids]
// [(known-sequence-set known-uid-set)])" (RFC 7162 §7).
type qresyncParams struct {
	uidValidity uint32
	modSeq      uint64
	knownUIDs   imap.NumSet
	hasKnown    bool
	matchSeqs   imap.NumSet
	matchUIDs   imap.NumSet
	hasMatch    bool
}

// maxSeqMatch bounds the pairs of sequence match data a client may send.
const maxSeqMatch = 1 << 16

// readSelectParams reads the optional " (param ...)" after the mailbox
// name of SELECT/EXAMINE.
func (s *session) readSelectParams() (selectParams, error) {
	var p selectParams
	if ok, err := s.dec.AtEOL(); err != nil || ok {
		return p, err
	}
	if err := s.dec.SP(); err != nil {
		return p, err
	}
	err := s.dec.ReadList(false, func() error {
		name, err := s.dec.ReadAtomUpper()
		if err != nil {
			return err
		}
		switch name {
		case "CONDSTORE":
			if p.condstore {
				return bad("CONDSTORE given twice")
			}
			p.condstore = true
			return nil
		case "QRESYNC":
			if p.qresync != nil {
				return bad("QRESYNC given twice")
			}
			if err := s.dec.SP(); err != nil {
				return err
			}
			p.qresync, err = s.readQresyncParam()
			return err
		}
		return bad("unknown SELECT parameter %s", name)
	})
	return p, err
}

func (s *session) readQresyncParam() (*qresyncParams, error) {
	q := &qresyncParams{}
	d := s.dec
	if err := d.Expect('('); err != nil {
		return nil, err
	}
	var err error
	if q.uidValidity, err = d.ReadNZNumber(); err != nil {
		return nil, err
	}
	if err := d.SP(); err != nil {
		return nil, err
	}
	if q.modSeq, err = d.ReadNumber64(); err != nil {
		return nil, err
	}
	for step := 0; ; step++ {
		if ok, err := d.Byte(')'); err != nil || ok {
			return q, err
		}
		if step == 2 {
			return nil, bad("too many QRESYNC arguments")
		}
		if err := d.SP(); err != nil {
			return nil, err
		}
		c, err := d.PeekByte()
		if err != nil {
			return nil, err
		}
		if c == '(' {
			if err := d.Expect('('); err != nil {
				return nil, err
			}
			if q.matchSeqs, err = d.ReadNumSet(); err != nil {
				return nil, err
			}
			if err := d.SP(); err != nil {
				return nil, err
			}
			if q.matchUIDs, err = d.ReadNumSet(); err != nil {
				return nil, err
			}
			if err := d.Expect(')'); err != nil {
				return nil, err
			}
			q.hasMatch = true
			step = 1 // nothing may follow but ")"
			continue
		}
		if step > 0 || q.hasKnown {
			return nil, bad("unexpected QRESYNC argument")
		}
		if q.knownUIDs, err = d.ReadNumSet(); err != nil {
			return nil, err
		}
		q.hasKnown = true
	}
}

// checkSelectParams validates the parameters before anything changes:
// a BAD leaves the session as it was (RFC 7162 §3.2.5).
func (s *session) checkSelectParams(p selectParams) error {
	if (p.condstore || p.qresync != nil) && !s.syncOffered() {
		return bad("CONDSTORE and QRESYNC are not supported")
	}
	q := p.qresync
	if q == nil {
		return nil
	}
	// RFC 7162 §3.2.5: QRESYNC needs ENABLE QRESYNC first.
	if !s.cs.qresync {
		return bad("QRESYNC must be enabled first")
	}
	// RFC 7162 §7: "*" is not allowed in any of the sets, nor "$".
	if q.knownUIDs.Dynamic() || q.matchSeqs.Dynamic() || q.matchUIDs.Dynamic() ||
		q.knownUIDs.SearchRes || q.matchSeqs.SearchRes || q.matchUIDs.SearchRes {
		return bad("QRESYNC sets may not use * or $")
	}
	if q.hasMatch {
		n := q.matchSeqs.Count(0)
		if n != q.matchUIDs.Count(0) {
			return bad("QRESYNC sequence match sets differ in size")
		}
		if n > maxSeqMatch {
			return bad("QRESYNC sequence match data too long")
		}
	}
	return nil
}

// qresyncSelect ends a SELECT/EXAMINE (QRESYNC ...) after the usual
// responses (RFC 7162 §3.2.5): VANISHED (EARLIER) for the known UIDs
// expunged since the client's mod-sequence, then a FETCH (UID FLAGS
// MODSEQ) for each known message changed since then. A mailbox without
// mod-sequences, or a UIDVALIDITY that does not match, ends it at once:
// the client sees the new UIDVALIDITY and starts over (§3.2.5,
// §3.2.5.1). The work is proportional to the changes when the backend
// implements ChangeIndex and ExpungeHistory; the sequence map built by
// SELECT is the only per-message cost.
func (s *session) qresyncSelect(q *qresyncParams, uidValidity uint32) error {
	sel := s.sel
	if sel.noModSeq || q.uidValidity != uidValidity {
		return nil
	}
	known := q.knownUIDs
	if !q.hasKnown {
		// RFC 7162 §3.2.5.1: no list means 1:<UIDNEXT-1>, and nothing
		// for a mailbox that never held a message.
		known = imap.NumSet{}
		if sel.uidNext > 1 {
			known.AddRange(1, sel.uidNext-1)
		}
	}
	var matched uint32
	if q.hasMatch {
		matched = sel.seqMatch(q.matchSeqs, q.matchUIDs)
	}
	uids, ranges, err := s.vanishedEarlier(known, q.modSeq, matched)
	if err != nil {
		return err
	}
	s.writeVanished(true, uids, ranges)

	// Changed messages: those of the view in known, changed after modSeq.
	msgs, seqs, indexed, err := s.changedSince(sel.uids, q.modSeq)
	if err != nil {
		return err
	}
	if !indexed {
		if msgs, err = sel.mb.Messages(s.ctx, sel.uids); err != nil {
			return err
		}
		seqs = nil
	}
	known = known.Resolve(0) // no "*" (checkSelectParams)
	w := &s.w
	for i, m := range msgs {
		if m.ModSeq() <= q.modSeq || q.hasKnown && !inResolved(known, m.UID()) {
			continue
		}
		var seq uint32
		if seqs != nil {
			seq = seqs[i]
		} else if seq = sel.seqOf(m.UID()); seq == 0 {
			continue
		}
		flags := m.Flags()
		if anyKeyword(flags) {
			s.checkKeywords(flags)
		}
		w.WriteString("* ")
		w.num(seq)
		w.WriteString(" FETCH (UID ")
		w.num(m.UID())
		w.WriteString(" FLAGS ")
		w.flagsRecent(flags, s.isRecent(m.UID()))
		w.WriteString(" MODSEQ (")
		w.num64(m.ModSeq())
		w.WriteString("))\r\n")
	}
	return nil
}

// seqMatch applies QRESYNC's message sequence match data (RFC 7162
// §3.2.5.2): pairs of a sequence number and the UID the client believes
// it has, in ascending order. It returns the UID of the last pair that
// matches the view before the first that does not: the client knows
// every expunge up to that UID.
func (sel *selected) seqMatch(seqs, uids imap.NumSet) uint32 {
	nextSeq, stopSeq := iter.Pull(seqs.Nums(0))
	defer stopSeq()
	nextUID, stopUID := iter.Pull(uids.Nums(0))
	defer stopUID()
	var matched uint32
	for {
		seq, ok1 := nextSeq()
		uid, ok2 := nextUID()
		if !ok1 || !ok2 {
			return matched
		}
		if seq == 0 || int(seq) > len(sel.uids) || sel.uids[seq-1] != uid || uid < matched {
			return matched
		}
		matched = uid
	}
}
