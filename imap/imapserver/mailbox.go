package imapserver

import (
	"strings"

	"github.com/posthorn/posthorn/imap"
)

// CREATE (RFC 9051 §6.3.4) with USE (RFC 6154 §3, CREATE-SPECIAL-USE).
func cmdCreate(s *session, tag string, uid bool) error {
	name, err := s.readMailbox()
	if err != nil {
		return err
	}
	var opts CreateOptions
	if ok, err := s.dec.AtEOL(); err != nil {
		return err
	} else if !ok {
		// create-param: "(" "USE" SP "(" use-attr *(SP use-attr) ")" ")"
		if err := s.dec.SP(); err != nil {
			return err
		}
		err := s.dec.ReadList(false, func() error {
			p, err := s.dec.ReadAtomUpper()
			if err != nil {
				return err
			}
			if p != "USE" {
				return bad("unknown CREATE parameter %s", p)
			}
			if err := s.dec.SP(); err != nil {
				return err
			}
			return s.dec.ReadList(true, func() error {
				f, err := s.dec.ReadFlag(false)
				if err != nil {
					return err
				}
				if !imap.MailboxAttr(f).IsSpecialUse() {
					return no(imap.CodeUseAttr, "Not a special-use attribute")
				}
				opts.SpecialUse = append(opts.SpecialUse, string(imap.MailboxAttr(f).Canonical()))
				return nil
			})
		})
		if err != nil {
			return err
		}
	}
	if err := s.crlf(); err != nil {
		return err
	}
	if name == "INBOX" {
		return no(imap.CodeAlreadyExists, "INBOX always exists")
	}
	return s.user.CreateMailbox(s.ctx, strings.TrimSuffix(name, string(Delimiter)), opts)
}

// DELETE (RFC 9051 §6.3.5).
func cmdDelete(s *session, tag string, uid bool) error {
	name, err := s.readMailboxLine()
	if err != nil {
		return err
	}
	if name == "INBOX" {
		return no(imap.CodeCannot, "INBOX cannot be deleted")
	}
	if s.sel != nil && s.sel.name == name {
		// RFC 9051 §6.3.5 does not forbid it; the session's handle sees
		// UpdateDeleted. Deselect first so no BYE follows our own DELETE.
		s.closeMailbox()
	}
	return s.user.DeleteMailbox(s.ctx, name)
}

// RENAME (RFC 9051 §6.3.6).
func cmdRename(s *session, tag string, uid bool) error {
	from, err := s.readMailbox()
	if err != nil {
		return err
	}
	to, err := s.readMailboxLine()
	if err != nil {
		return err
	}
	if to == "INBOX" {
		return no(imap.CodeAlreadyExists, "INBOX always exists")
	}
	return s.user.RenameMailbox(s.ctx, from, to)
}

// SUBSCRIBE and UNSUBSCRIBE (RFC 9051 §6.3.7, §6.3.8).
func cmdSubscribe(s *session, tag string, uid bool) error {
	name, err := s.readMailboxLine()
	if err != nil {
		return err
	}
	if s.cmdName == "UNSUBSCRIBE" {
		return s.user.Unsubscribe(s.ctx, name)
	}
	return s.user.Subscribe(s.ctx, name)
}

// NAMESPACE (RFC 2342, RFC 9051 §6.3.10): one personal namespace.
func cmdNamespace(s *session, tag string, uid bool) error {
	if err := s.crlf(); err != nil {
		return err
	}
	s.w.WriteString(`* NAMESPACE (("" "/")) NIL NIL` + "\r\n")
	return nil
}
