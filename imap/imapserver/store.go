package imapserver

import (
	"strings"

	"github.com/posthorn/posthorn/imap"
)

// STORE (RFC 9051 §6.4.6) with UNCHANGEDSINCE (RFC 7162 §3.1.3).
func cmdStore(s *session, tag string, uid bool) error {
	if err := s.dec.SP(); err != nil {
		return err
	}
	set, err := s.dec.ReadNumSet()
	if err != nil {
		return err
	}
	if err := s.dec.SP(); err != nil {
		return err
	}
	var unchangedSince uint64
	hasUnchanged := false
	if ok, err := s.dec.Byte('('); err != nil {
		return err
	} else if ok {
		hasUnchanged = true
		m, err := s.dec.ReadAtomUpper()
		if err != nil {
			return err
		}
		if m != "UNCHANGEDSINCE" {
			return bad("unknown STORE modifier %s", m)
		}
		if err := s.dec.SP(); err != nil {
			return err
		}
		if unchangedSince, err = s.dec.ReadNumber64(); err != nil {
			return err
		}
		if err := s.dec.Expect(')'); err != nil {
			return err
		}
		if err := s.dec.SP(); err != nil {
			return err
		}
	}
	item, err := s.dec.ReadAtomUpper()
	if err != nil {
		return err
	}
	op := FlagsSet
	switch {
	case strings.HasPrefix(item, "+"):
		op, item = FlagsAdd, item[1:]
	case strings.HasPrefix(item, "-"):
		op, item = FlagsRemove, item[1:]
	}
	silent := false
	switch item {
	case "FLAGS":
	case "FLAGS.SILENT":
		silent = true
	default:
		return bad("unknown STORE item")
	}
	if err := s.dec.SP(); err != nil {
		return err
	}
	flags, err := s.dec.ReadFlags()
	if err != nil {
		return err
	}
	if err := s.crlf(); err != nil {
		return err
	}
	uids, err := s.resolve(set, uid)
	if err != nil {
		return err
	}
	if hasUnchanged {
		// RFC 7162 §3.1.2.2: BAD in a NOMODSEQ mailbox; §3.1: an
		// enabling command.
		if !s.syncOffered() {
			return bad("CONDSTORE is not supported")
		}
		if err := s.needModSeq(); err != nil {
			return err
		}
		s.enableCondstore()
	}
	if s.sel.readOnly {
		return no(imap.CodeReadOnly, "Mailbox is read-only")
	}
	strs := make([]string, 0, len(flags))
	for _, f := range flags {
		if f.Equal(imap.FlagRecent) {
			continue
		}
		strs = append(strs, string(f))
	}
	var res StoreResult
	if hasUnchanged && unchangedSince == 0 {
		// RFC 7162 §3.1.3: UNCHANGEDSINCE 0 fails for every message
		// (a backend reads 0 as "no condition").
		res.Modified = uids
	} else if res, err = s.sel.mb.SetFlags(s.ctx, uids, op, strs, unchangedSince); err != nil {
		return err
	}
	// Later updates from other sessions must not undo what this STORE
	// reports (sync.go); a new keyword is announced first, even to a
	// .SILENT STORE, whose client now uses it.
	s.told = toldState{changes: res.Changed, flags: !silent}
	// A keyword named in a STORE that was not refused is defined in the
	// mailbox from then on, even if no message has it (as in Dovecot,
	// where imaptest checks it); one that some messages now have, when
	// others were refused, too.
	if len(res.Modified) == 0 || op != FlagsRemove && len(res.Changed) > 0 {
		s.checkKeywords(strs)
	}
	// Any other keyword a changed message has comes from another session:
	// a .SILENT STORE does not show it, and its update, sent after these
	// responses, announces it (sendUpdates); a FETCH written here
	// announces it first. So a .SILENT STORE costs no
	// look at each message's flags.
	known := s.sel.modSeq
	modSeqOn := s.modSeqOn()
	for _, c := range res.Changed {
		s.sel.noteModSeq(c.ModSeq)
		if silent && !modSeqOn {
			continue // nothing to report: skip the sequence number look-up
		}
		seq := s.sel.seqOf(c.UID)
		if seq == 0 {
			continue
		}
		if modSeqOn {
			// RFC 7162 §3.1.3: with UNCHANGEDSINCE a FETCH with MODSEQ
			// even for .SILENT; §3.1: MODSEQ in every FETCH once
			// enabled, so a .SILENT STORE still reports the new
			// mod-sequence of each message it changed; §3.2.4: UID too.
			if silent && !hasUnchanged && c.ModSeq <= known {
				continue
			}
			// A new keyword's FLAGS goes before the FETCH, not into it.
			if !silent && anyKeyword(c.Flags) {
				s.checkKeywords(c.Flags)
			}
			s.w.WriteString("* ")
			s.w.num(seq)
			s.w.WriteString(" FETCH (UID ")
			s.w.num(c.UID)
			s.w.WriteString(" MODSEQ (")
			s.w.num64(c.ModSeq)
			s.w.WriteByte(')')
			if !silent {
				s.w.WriteString(" FLAGS ")
				s.w.flagsRecent(c.Flags, s.isRecent(c.UID))
			}
			s.w.WriteString(")\r\n")
			continue
		}
		if silent {
			continue
		}
		if anyKeyword(c.Flags) {
			s.checkKeywords(c.Flags)
		}
		s.w.WriteString("* ")
		s.w.num(seq)
		s.w.WriteString(" FETCH (FLAGS ")
		s.w.flagsRecent(c.Flags, s.isRecent(c.UID))
		if uid {
			s.w.WriteString(" UID ")
			s.w.num(c.UID)
		}
		s.w.WriteString(")\r\n")
	}
	// Whether messages expunged meanwhile are still shown, asked before
	// sendUpdates tells of the expunges polled for it.
	shown := len(res.Changed)+len(res.Modified) < len(uids) && s.servesExpunged(uids)
	s.sendUpdates(s.allowExpunge)
	if len(res.Modified) > 0 {
		var arg []byte
		if uid {
			arg = imap.NumSetOf(res.Modified...).AppendTo(nil)
		} else {
			var seqs []uint32
			for _, u := range res.Modified {
				seqs = append(seqs, s.sel.seqOf(u))
			}
			arg = imap.NumSetOf(seqs...).AppendTo(nil)
		}
		st := imap.StatusOK
		if len(res.Changed)+len(res.Modified) < len(uids) {
			// RFC 7162 §3.1.3 Example 11: some were expunged too.
			st = imap.StatusNO
		}
		s.w.status(tag, st, imap.CodeModified, string(arg), "Conditional STORE failed for some messages")
		return errHandled
	}
	if len(res.Changed) < len(uids) {
		// RFC 9051 §7.1 EXPUNGEISSUED: some messages were expunged
		// meanwhile, and their flags can no longer change. RFC 2180
		// §4.2.1, §4.2.3: OK when the others were stored or the STORE
		// is .SILENT. §4.2.2's NO is for messages the client can no
		// longer see; those the session still serves (§4.1.1) lost a
		// race, as in Dovecot, which answers OK: clients take a NO for
		// a failure.
		if len(res.Changed) == 0 && !silent && !shown {
			s.w.status(tag, imap.StatusNO, imap.CodeExpungeIssued, "", "Messages have been expunged")
		} else {
			s.w.status(tag, imap.StatusOK, imap.CodeExpungeIssued, "", "STORE completed, some messages were expunged")
		}
		return errHandled
	}
	s.w.status(tag, imap.StatusOK, "", "", "STORE completed")
	return errHandled
}
