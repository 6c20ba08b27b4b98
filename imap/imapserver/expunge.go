package imapserver

import (
	"strconv"

	"github.com/posthorn/posthorn/imap"
)

// EXPUNGE (RFC 9051 §6.4.3) and UID EXPUNGE (RFC 4315 §2.1). The
// EXPUNGE responses come from the store's updates, sent by finish.
func cmdExpunge(s *session, tag string, uid bool) error {
	var uids []uint32
	if uid {
		if err := s.dec.SP(); err != nil {
			return err
		}
		set, err := s.dec.ReadNumSet()
		if err != nil {
			return err
		}
		if err := s.crlf(); err != nil {
			return err
		}
		if uids, err = s.resolve(set, true); err != nil {
			return err
		}
		if len(uids) == 0 {
			return nil
		}
	} else if err := s.crlf(); err != nil {
		return err
	}
	if s.sel.readOnly {
		return no(imap.CodeReadOnly, "Mailbox is read-only")
	}
	sel := s.sel
	before := sel.expungesSent
	if err := sel.mb.Expunge(s.ctx, uids); err != nil {
		return err
	}
	s.sendUpdates(true)
	if s.mailboxGone {
		return errHandled // BYE sent
	}
	if s.modSeqOn() && sel.expungesSent > before {
		// RFC 7162 §3.2.7, §3.2.9: the new HIGHESTMODSEQ in the tagged
		// OK once something was expunged.
		arg := strconv.AppendUint(nil, sel.highestModSeq(), 10)
		s.w.status(tag, imap.StatusOK, imap.CodeHighestModSeq, string(arg), s.cmdName+" completed")
	} else {
		s.w.status(tag, imap.StatusOK, "", "", s.cmdName+" completed")
	}
	return errHandled
}
