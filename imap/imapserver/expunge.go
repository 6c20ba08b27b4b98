package imapserver

import "github.com/posthorn/posthorn/imap"

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
	return s.sel.mb.Expunge(s.ctx, uids)
}
