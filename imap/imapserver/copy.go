package imapserver

import (
	"errors"

	"github.com/posthorn/posthorn/imap"
)

// COPY (RFC 9051 §6.4.7) and MOVE (RFC 6851), with COPYUID (RFC 4315).
func cmdCopy(s *session, tag string, uid bool) error {
	if err := s.dec.SP(); err != nil {
		return err
	}
	set, err := s.dec.ReadNumSet()
	if err != nil {
		return err
	}
	dest, err := s.readMailboxLine()
	if err != nil {
		return err
	}
	uids, err := s.resolve(set, uid)
	if err != nil {
		return err
	}
	move := s.cmdName == "MOVE"
	if move && s.sel.readOnly {
		return no(imap.CodeReadOnly, "Mailbox is read-only")
	}
	var res CopyResult
	if move {
		res, err = s.sel.mb.Move(s.ctx, uids, dest)
	} else {
		res, err = s.sel.mb.Copy(s.ctx, uids, dest)
	}
	if errors.Is(err, ErrNoSuchMailbox) {
		return no(imap.CodeTryCreate, "No such mailbox") // RFC 9051 §6.4.7
	}
	if err != nil {
		return err
	}
	if len(uids) > 0 && len(res.SourceUIDs) < len(uids) {
		// RFC 9051 §7.1: some messages were expunged meanwhile.
		if len(res.SourceUIDs) == 0 {
			return no(imap.CodeExpungeIssued, "Messages were expunged")
		}
	}
	var arg []byte
	if len(res.SourceUIDs) > 0 {
		arg = appendUint(arg, res.UIDValidity)
		arg = append(arg, ' ')
		arg = imap.NumSetOf(res.SourceUIDs...).AppendTo(arg)
		arg = append(arg, ' ')
		arg = imap.NumSetOf(res.DestUIDs...).AppendTo(arg)
	}
	if move {
		// RFC 6851 §4.3: COPYUID in an untagged OK before the expunges.
		if arg != nil {
			s.w.WriteString("* OK [COPYUID " + string(arg) + "] Moved\r\n")
		}
		return nil
	}
	s.sendUpdates(s.allowExpunge)
	if arg != nil {
		s.w.status(tag, imap.StatusOK, imap.CodeCopyUID, string(arg), "COPY completed")
	} else {
		s.w.status(tag, imap.StatusOK, "", "", "COPY completed")
	}
	return errHandled
}
