package imapserver

import (
	"bytes"
	"io"
	"strings"
	"time"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/mime"
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
	sel := s.sel
	msgs, err := sel.mb.Messages(s.ctx, sel.uids)
	if err != nil {
		return err
	}
	var uids []uint32
	for _, m := range msgs {
		seq := sel.seqOf(m.UID())
		ok, err := s.matchAll(crit.Keys, m, seq)
		if err != nil {
			return err
		}
		if ok {
			uids = append(uids, m.UID())
		}
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
	w.crlf()
	return nil
}

func (s *session) matchAll(keys []imap.SearchKey, m Message, seq uint32) (bool, error) {
	for i := range keys {
		ok, err := s.match(&keys[i], m, seq)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func hasFlag(flags []string, f imap.Flag) bool {
	for _, g := range flags {
		if f.Equal(imap.Flag(g)) {
			return true
		}
	}
	return false
}

// sameDay compares calendar dates: -1, 0 or 1.
func cmpDay(t time.Time, day time.Time) int {
	y, m, d := t.Date()
	a := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return a.Compare(day)
}

func (s *session) match(k *imap.SearchKey, m Message, seq uint32) (bool, error) {
	flags := m.Flags()
	switch k.Op {
	case imap.SearchAll:
		return true, nil
	case imap.SearchAnswered:
		return hasFlag(flags, imap.FlagAnswered), nil
	case imap.SearchDeleted:
		return hasFlag(flags, imap.FlagDeleted), nil
	case imap.SearchDraft:
		return hasFlag(flags, imap.FlagDraft), nil
	case imap.SearchFlagged:
		return hasFlag(flags, imap.FlagFlagged), nil
	case imap.SearchSeen:
		return hasFlag(flags, imap.FlagSeen), nil
	case imap.SearchKeyword:
		return hasFlag(flags, k.Flag), nil
	case imap.SearchUnanswered:
		return !hasFlag(flags, imap.FlagAnswered), nil
	case imap.SearchUndeleted:
		return !hasFlag(flags, imap.FlagDeleted), nil
	case imap.SearchUndraft:
		return !hasFlag(flags, imap.FlagDraft), nil
	case imap.SearchUnflagged:
		return !hasFlag(flags, imap.FlagFlagged), nil
	case imap.SearchUnseen, imap.SearchNew:
		return !hasFlag(flags, imap.FlagSeen), nil
	case imap.SearchUnkeyword:
		return !hasFlag(flags, k.Flag), nil
	case imap.SearchRecent:
		return false, nil // \Recent is not kept
	case imap.SearchOld:
		return true, nil
	case imap.SearchLarger:
		return uint64(m.Size()) > k.Num, nil
	case imap.SearchSmaller:
		return uint64(m.Size()) < k.Num, nil
	case imap.SearchBefore:
		return cmpDay(m.InternalDate(), k.Date) < 0, nil
	case imap.SearchOn:
		return cmpDay(m.InternalDate(), k.Date) == 0, nil
	case imap.SearchSince:
		return cmpDay(m.InternalDate(), k.Date) >= 0, nil
	case imap.SearchOlder:
		return time.Since(m.InternalDate()) >= time.Duration(k.Num)*time.Second, nil
	case imap.SearchYounger:
		return time.Since(m.InternalDate()) <= time.Duration(k.Num)*time.Second, nil
	case imap.SearchModSeq:
		return m.ModSeq() >= k.Num, nil
	case imap.SearchUID:
		if k.Set.SearchRes {
			return containsUID(s.sel.searchRes, m.UID()), nil
		}
		var last uint32
		if n := len(s.sel.uids); n > 0 {
			last = s.sel.uids[n-1]
		}
		return k.Set.Contains(m.UID(), last), nil
	case imap.SearchSeqSet:
		if k.Set.SearchRes {
			return containsUID(s.sel.searchRes, m.UID()), nil
		}
		return k.Set.Contains(seq, uint32(len(s.sel.uids))), nil
	case imap.SearchNot:
		ok, err := s.match(&k.Sub[0], m, seq)
		return !ok, err
	case imap.SearchOr:
		ok, err := s.match(&k.Sub[0], m, seq)
		if err != nil || ok {
			return ok, err
		}
		return s.match(&k.Sub[1], m, seq)
	case imap.SearchAnd:
		return s.matchAll(k.Sub, m, seq)
	}
	// Keys that need the content.
	pm, err := s.parsed(m)
	if err != nil {
		return false, err
	}
	h := &pm.root.Header
	switch k.Op {
	case imap.SearchBcc, imap.SearchCc, imap.SearchFrom, imap.SearchTo, imap.SearchSubject:
		field := map[imap.SearchOp]string{imap.SearchBcc: "Bcc", imap.SearchCc: "Cc", imap.SearchFrom: "From", imap.SearchTo: "To", imap.SearchSubject: "Subject"}[k.Op]
		return headerContains(h, field, k.Value), nil
	case imap.SearchHeader:
		if k.Value == "" {
			return h.Has(k.Field), nil // RFC 9051 §6.4.4: any field of that name
		}
		return headerContains(h, k.Field, k.Value), nil
	case imap.SearchSentBefore, imap.SearchSentOn, imap.SearchSentSince:
		d, err := mime.ParseDate(h.Get("Date"))
		if err != nil {
			return false, nil
		}
		c := cmpDay(d, k.Date)
		switch k.Op {
		case imap.SearchSentBefore:
			return c < 0, nil
		case imap.SearchSentOn:
			return c == 0, nil
		}
		return c >= 0, nil
	case imap.SearchBody:
		return s.bodyContains(m, pm, k.Value)
	case imap.SearchText:
		for _, f := range h.Fields() {
			if containsFold(decodeWords(f.Value()), k.Value) || containsFold(f.Key, k.Value) {
				return true, nil
			}
		}
		return s.bodyContains(m, pm, k.Value)
	}
	return false, nil
}

func containsUID(uids []uint32, u uint32) bool {
	for _, x := range uids {
		if x == u {
			return true
		}
	}
	return false
}

func decodeWords(v string) string {
	if d, err := mime.DecodeWords(v); err == nil {
		return d
	}
	return v
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func headerContains(h *mime.Header, field, value string) bool {
	for _, v := range h.Values(field) {
		if containsFold(decodeWords(v), value) {
			return true
		}
	}
	return false
}

// bodyContains searches the decoded text of the message's text parts.
func (s *session) bodyContains(m Message, pm *parsedMsg, value string) (bool, error) {
	ra, err := m.Open()
	if err != nil {
		return false, err
	}
	needle := []byte(strings.ToLower(value))
	found := false
	pm.root.Walk(func(p *mime.Part) bool {
		if p.IsMultipart() || p.IsMessage() || p.MediaType != "text" {
			return true
		}
		var r io.Reader = io.NewSectionReader(ra, p.BodyOffset, p.EndOffset-p.BodyOffset)
		r = mime.NewTransferDecoder(p.Encoding, r)
		if cr, ok := mime.NewCharsetReader(p.Charset(), r); ok {
			r = cr
		}
		b, err := io.ReadAll(io.LimitReader(r, 16<<20))
		if err != nil {
			return true
		}
		if bytes.Contains(bytes.ToLower(b), needle) {
			found = true
			return false
		}
		return true
	})
	return found, nil
}
