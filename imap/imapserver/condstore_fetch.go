package imapserver

import (
	"github.com/posthorn/posthorn/imap"
)

// fetchMods are the FETCH modifiers (RFC 4466 §2.4) of RFC 7162.
type fetchMods struct {
	changedSince bool   // CHANGEDSINCE given (§3.1.4.1)
	since        uint64 // its mod-sequence
	vanished     bool   // VANISHED given (§3.2.6)
}

// readFetchModifiers reads the optional " (modifier ...)" after the
// fetch items.
func (s *session) readFetchModifiers() (fetchMods, error) {
	var m fetchMods
	if ok, err := s.dec.AtEOL(); err != nil || ok {
		return m, err
	}
	if err := s.dec.SP(); err != nil {
		return m, err
	}
	err := s.dec.ReadList(false, func() error {
		name, err := s.dec.ReadAtomUpper()
		if err != nil {
			return err
		}
		switch name {
		case "CHANGEDSINCE":
			if m.changedSince {
				return bad("CHANGEDSINCE given twice")
			}
			if err := s.dec.SP(); err != nil {
				return err
			}
			m.changedSince = true
			m.since, err = s.dec.ReadNumber64()
			return err
		case "VANISHED":
			if m.vanished {
				return bad("VANISHED given twice")
			}
			m.vanished = true
			return nil
		}
		return bad("unknown FETCH modifier %s", name)
	})
	return m, err
}

// condstoreFetch applies CONDSTORE and QRESYNC to a FETCH whose line was
// read: it checks the modifiers, enables CONDSTORE when the command is
// an enabling one, adds the MODSEQ (and UID) items the RFC implies,
// writes VANISHED (EARLIER) for UID FETCH (VANISHED), and narrows uids
// to the messages changed since CHANGEDSINCE when the backend can tell
// cheaply (the FETCH loop checks each message's mod-sequence anyway).
func (s *session) condstoreFetch(plan *fetchPlan, m fetchMods, set imap.NumSet, uids []uint32, uid bool) ([]uint32, error) {
	if m.vanished {
		// RFC 7162 §3.2.6: UID FETCH only, after ENABLE QRESYNC, and
		// with CHANGEDSINCE.
		switch {
		case !uid:
			return nil, bad("VANISHED is only allowed with UID FETCH")
		case !s.cs.qresync:
			return nil, bad("VANISHED needs ENABLE QRESYNC")
		case !m.changedSince:
			return nil, bad("VANISHED needs CHANGEDSINCE")
		}
	}
	if (m.changedSince || m.vanished) && !s.syncOffered() {
		return nil, bad("CONDSTORE is not supported")
	}
	hasModSeq, hasUID := false, false
	for _, a := range plan.atts {
		hasModSeq = hasModSeq || a.Item == imap.FetchModSeq
		hasUID = hasUID || a.Item == imap.FetchUID
	}
	if m.changedSince || hasModSeq {
		// RFC 7162 §3.1.2.2: BAD in a NOMODSEQ mailbox; §3.1: these are
		// CONDSTORE enabling commands.
		if err := s.needModSeq(); err != nil {
			return nil, err
		}
		s.enableCondstore()
	}
	if s.modSeqOn() {
		// §3.1.4.1: CHANGEDSINCE implies MODSEQ. With CONDSTORE on,
		// flags go with their mod-sequence, and a FETCH that sets \Seen
		// reports UID and MODSEQ too (§3.2.4).
		if !hasModSeq && (m.changedSince || plan.hasFlags || plan.setSeen) {
			plan.atts = append(plan.atts, imap.FetchAtt{Item: imap.FetchModSeq})
		}
		if !hasUID && plan.setSeen {
			plan.atts = append([]imap.FetchAtt{{Item: imap.FetchUID}}, plan.atts...)
		}
	}
	if m.vanished {
		// §3.2.6: VANISHED (EARLIER) before any FETCH.
		exp, ranges, err := s.vanishedEarlier(set, m.since, 0)
		if err != nil {
			return nil, err
		}
		s.writeVanished(true, exp, ranges)
	}
	if m.changedSince {
		changed, _, ok, err := s.changedSince(uids, m.since)
		if err != nil {
			return nil, err
		}
		if ok {
			out := make([]uint32, len(changed))
			for i, msg := range changed {
				out[i] = msg.UID()
			}
			return out, nil
		}
	}
	return uids, nil
}
