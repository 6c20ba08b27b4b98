package imapwire

import (
	"strconv"

	"github.com/posthorn/posthorn/imap"
)

// AppendESearch appends an ESEARCH response's data after "* ESEARCH"
// (RFC 4731 §3.1): [SP (TAG "tag")] [SP UID] then the requested results, in
// the order MIN, MAX, ALL, COUNT (and MODSEQ when non-zero). Results not
// requested by c are left out; ALL is left out when no message matched
// (RFC 4731 §3.1: an empty set is not sent).
func AppendESearch(b []byte, d *imap.SearchData, c *imap.SearchCriteria) []byte {
	b = append(b, "ESEARCH"...)
	if d.Tag != "" {
		b = append(b, " (TAG "...)
		b = AppendString(b, d.Tag, false)
		b = append(b, ')')
	}
	if d.UID {
		b = append(b, " UID"...)
	}
	if c.Returns(imap.SearchReturnMin) && d.Min != 0 {
		b = append(b, " MIN "...)
		b = strconv.AppendUint(b, uint64(d.Min), 10)
	}
	if c.Returns(imap.SearchReturnMax) && d.Max != 0 {
		b = append(b, " MAX "...)
		b = strconv.AppendUint(b, uint64(d.Max), 10)
	}
	if c.Returns(imap.SearchReturnAll) && !d.All.IsZero() {
		b = append(b, " ALL "...)
		b = d.All.AppendTo(b)
	}
	if c.Returns(imap.SearchReturnCount) {
		b = append(b, " COUNT "...)
		b = strconv.AppendUint(b, uint64(d.Count), 10)
	}
	if d.ModSeq != 0 {
		b = append(b, " MODSEQ "...)
		b = strconv.AppendUint(b, d.ModSeq, 10)
	}
	return b
}

// AppendStatus appends a STATUS response's data after "* "
// (RFC 9051 §7.3.5): STATUS mailbox (item value ...), items in a fixed
// order. The mailbox name is written as given (the caller encodes it in
// modified UTF-7 when the session needs it).
func AppendStatus(b []byte, s *imap.StatusData, utf8ok bool) []byte {
	b = append(b, "STATUS "...)
	b = AppendAString(b, s.Mailbox, utf8ok)
	b = append(b, " ("...)
	first := true
	item := func(name string) {
		if !first {
			b = append(b, ' ')
		}
		first = false
		b = append(b, name...)
		b = append(b, ' ')
	}
	u32 := func(name string, v *uint32) {
		if v != nil {
			item(name)
			b = strconv.AppendUint(b, uint64(*v), 10)
		}
	}
	u32("MESSAGES", s.Messages)
	u32("UIDNEXT", s.UIDNext)
	u32("UIDVALIDITY", s.UIDValidity)
	u32("UNSEEN", s.Unseen)
	u32("DELETED", s.Deleted)
	u32("RECENT", s.Recent)
	if s.Size != nil {
		item("SIZE")
		b = strconv.AppendInt(b, *s.Size, 10)
	}
	if s.HighestModSeq != nil {
		item("HIGHESTMODSEQ")
		b = strconv.AppendUint(b, *s.HighestModSeq, 10)
	}
	if s.AppendLimit != nil {
		item("APPENDLIMIT")
		b = strconv.AppendUint(b, *s.AppendLimit, 10)
	}
	if s.DeletedStorage != nil {
		item("DELETED-STORAGE")
		b = strconv.AppendInt(b, *s.DeletedStorage, 10)
	}
	return append(b, ')')
}
