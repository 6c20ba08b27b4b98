package imapserver

import (
	"slices"
	"strconv"

	"github.com/posthorn/posthorn/imap"
)

// readStatusItems reads "(" status-att *(SP status-att) ")".
func (s *session) readStatusItems() ([]imap.StatusItem, error) {
	var items []imap.StatusItem
	err := s.dec.ReadList(false, func() error {
		a, err := s.dec.ReadAtomUpper()
		if err != nil {
			return err
		}
		it := imap.StatusItem(a)
		if !it.Known() {
			return bad("unknown STATUS item %s", a)
		}
		items = append(items, it)
		return nil
	})
	return items, err
}

// STATUS (RFC 9051 §6.3.11, RFC 8438 SIZE, RFC 7889 APPENDLIMIT).
func cmdStatus(s *session, tag string, uid bool) error {
	name, err := s.readMailbox()
	if err != nil {
		return err
	}
	if err := s.dec.SP(); err != nil {
		return err
	}
	items, err := s.readStatusItems()
	if err != nil {
		return err
	}
	if err := s.crlf(); err != nil {
		return err
	}
	st, err := s.user.Status(s.ctx, name)
	if err != nil {
		return err
	}
	if slices.Contains(items, imap.StatusHighestModSeq) {
		s.enableCondstore() // RFC 7162 §3.1: an enabling command
	}
	s.writeStatus(name, st, items)
	return nil
}

func (s *session) writeStatus(name string, st MailboxStatus, items []imap.StatusItem) {
	w := &s.w
	w.WriteString("* STATUS ")
	w.mailbox(name)
	w.WriteString(" (")
	for i, it := range items {
		if i > 0 {
			w.sp()
		}
		w.WriteString(string(it))
		w.sp()
		switch it {
		case imap.StatusMessages:
			w.num(st.Messages)
		case imap.StatusUIDNext:
			w.num(st.UIDNext)
		case imap.StatusUIDValidity:
			w.num(st.UIDValidity)
		case imap.StatusUnseen:
			w.num(st.Unseen)
		case imap.StatusDeleted:
			w.num(st.Deleted)
		case imap.StatusSize:
			w.Write(strconv.AppendInt(w.AvailableBuffer(), st.Size, 10))
		case imap.StatusRecent:
			w.num(st.Recent) // RFC 3501 §6.3.10
		case imap.StatusHighestModSeq:
			w.num64(st.HighestModSeq)
		case imap.StatusDeletedStorage:
			w.Write(strconv.AppendInt(w.AvailableBuffer(), s.deletedStorage(name), 10)) // RFC 9208 §4.1.4
		case imap.StatusAppendLimit:
			w.Write(strconv.AppendInt(w.AvailableBuffer(), s.srv.limits.MaxAppend, 10))
		}
	}
	w.WriteString(")\r\n")
}
