package imapserver

import (
	"bytes"
	"errors"
	"io"
	"time"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/internal/imapmsg"
)

// fetchPlan is a FETCH command's item list, macros expanded.
type fetchPlan struct {
	atts []imap.FetchAtt
	// names holds, for each att with a Section, its name as the
	// responses show it (BODY[HEADER.FIELDS (FROM)]<0>): the same for
	// every message, so encoded once.
	names     [][]byte
	needParse bool // ENVELOPE, BODY, BODYSTRUCTURE or a section
	needWhole bool // as needParse, but ENVELOPE alone needs only the header
	// needRoot: the part tree itself (a section, RFC822.*), which no
	// Summary gives.
	needRoot bool
	// headerSections: BODY[HEADER], BODY[HEADER.FIELDS (...)] or
	// BODY[HEADER.FIELDS.NOT (...)] of the message itself, which a
	// Summary's Header answers (needRoot stays false for them alone).
	headerSections bool
	setSeen        bool // a non-PEEK body section (RFC 9051 §6.4.5)
	hasFlags       bool
}

// isHeaderSection reports whether sec is the top-level header, or some
// of its fields, as text: what a Summary's Header holds.
func isHeaderSection(sec *imap.FetchSection) bool {
	if sec == nil || len(sec.Part) > 0 || sec.Binary || sec.Size {
		return false
	}
	switch sec.Specifier {
	case imap.PartHeader, imap.PartHeaderFields, imap.PartHeaderFieldsNot:
		return true
	}
	return false
}

func newFetchPlan(atts []imap.FetchAtt, uid bool) fetchPlan {
	var p fetchPlan
	hasUID := false
	for _, a := range atts {
		if macro := a.Item.Macro(); len(macro) > 1 || (len(macro) == 1 && macro[0] != a.Item) {
			for _, m := range macro {
				p.add(imap.FetchAtt{Item: m}, &hasUID)
			}
			continue
		}
		p.add(a, &hasUID)
	}
	if uid && !hasUID {
		// RFC 9051 §6.4.9: UID FETCH always returns UID.
		p.atts = append([]imap.FetchAtt{{Item: imap.FetchUID}}, p.atts...)
	}
	return p
}

// nameSections fills names, once atts are final.
func (p *fetchPlan) nameSections() {
	p.names = nil
	for i, a := range p.atts {
		if a.Section != nil {
			if p.names == nil {
				p.names = make([][]byte, len(p.atts))
			}
			p.names[i] = a.Section.AppendSectionName(nil)
		}
	}
}

func (p *fetchPlan) add(a imap.FetchAtt, hasUID *bool) {
	switch a.Item {
	case imap.FetchUID:
		*hasUID = true
	case imap.FetchFlags:
		p.hasFlags = true
	case imap.FetchEnvelope:
		p.needParse = true
	case imap.FetchBody, imap.FetchBodyStructure:
		p.needParse, p.needWhole = true, true
	case imap.FetchRFC822, imap.FetchRFC822Text:
		p.needParse, p.needWhole, p.needRoot = true, true, true
		p.setSeen = true
	case imap.FetchRFC822Header:
		p.needParse, p.needWhole, p.needRoot = true, true, true
	case imap.FetchBodySection, imap.FetchBinarySection, imap.FetchBinarySize:
		p.needParse, p.needWhole = true, true
		if a.Item == imap.FetchBodySection && isHeaderSection(a.Section) {
			p.headerSections = true
		} else {
			p.needRoot = true
		}
		if a.Section != nil && !a.Section.Peek && !a.Section.Size {
			p.setSeen = true
		}
	}
	p.atts = append(p.atts, a)
}

// FETCH (RFC 9051 §6.4.5) and UID FETCH. Replies are written as they
// are computed, message by message, so a long FETCH never sits in memory.
func cmdFetch(s *session, tag string, uid bool) error {
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
	atts, err := s.dec.ReadFetchAtts()
	if err != nil {
		return err
	}
	mods, err := s.readFetchModifiers()
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
	plan := newFetchPlan(atts, uid)
	// RFC 7162: CHANGEDSINCE, VANISHED and MODSEQ (condstore_fetch.go).
	if uids, err = s.condstoreFetch(&plan, mods, set, uids, uid); err != nil {
		return err
	}
	plan.nameSections()
	sel := s.sel
	var seenNow map[uint32]bool
	if plan.setSeen && !sel.readOnly && len(uids) > 0 {
		res, err := sel.mb.SetFlags(s.ctx, uids, FlagsAdd, []string{string(imap.FlagSeen)}, 0)
		if err != nil {
			return err
		}
		seenNow = make(map[uint32]bool)
		for _, c := range res.Changed {
			seenNow[c.UID] = true
			sel.noteModSeq(c.ModSeq)
		}
	}
	msgs, err := sel.mb.Messages(s.ctx, uids)
	if err != nil {
		return err
	}
	// Messages expunged meanwhile are still served (RFC 2180 §4.1.1).
	msgs = s.withExpunged(uids, msgs)
	s.told = toldState{msgs: msgs, flags: plan.hasFlags}
	cur := seqCursor{sel: sel}
	for i, m := range msgs {
		if i%64 == 0 {
			// A long FETCH keeps its write deadline fresh; each chunk has
			// WriteTimeout to leave.
			s.conn.SetWriteDeadline(time.Now().Add(s.srv.limits.WriteTimeout))
		}
		uid := m.UID()
		seq := cur.seqOf(uid)
		if seq == 0 || mods.changedSince && m.ModSeq() <= mods.since {
			continue
		}
		addFlags := seenNow != nil && seenNow[uid] && !plan.hasFlags
		if err := s.fetchOne(seq, uid, m, &plan, addFlags); err != nil {
			return err
		}
	}
	if len(msgs) < len(uids) || len(sel.expunged) > 0 && s.servedExpunged(msgs) {
		// RFC 9051 §7.1 EXPUNGEISSUED: OK, as in its example, when the
		// data was sent; NO when none of the messages could be.
		if len(msgs) == 0 {
			return no(imap.CodeExpungeIssued, "Some of the requested messages no longer exist")
		}
		s.okCode = imap.CodeExpungeIssued
	}
	return nil
}

// servedExpunged reports whether msgs hold a message expunged meanwhile.
func (s *session) servedExpunged(msgs []Message) bool {
	for _, m := range msgs {
		if _, gone := s.sel.expunged[m.UID()]; gone {
			return true
		}
	}
	return false
}

// fetchOne writes one "* n FETCH (...)" response for m, whose UID is uid.
func (s *session) fetchOne(seq, uid uint32, m Message, plan *fetchPlan, addFlags bool) error {
	w := &s.w
	var pm *parsedMsg
	var hm *imapmsg.Message // the header alone, from a Summary
	var env, body, bs []byte
	if plan.needParse {
		// A store's own index answers the structures without the
		// message being opened (Summarizer).
		var sum *Summary
		if sm, ok := m.(Summarizer); ok && !plan.needRoot {
			sum = sm.Summary()
		}
		if sum != nil && plan.headerSections {
			// Header sections from the summary's copy of the header.
			if hm = s.summaryMessage(sum, &s.hdrMsg); hm == nil {
				sum = nil
			}
		}
		if sum != nil {
			env, body, bs = sum.Envelope, sum.Body, sum.BodyStructure
		} else {
			var err error
			if pm, err = s.parse(m, !plan.needWhole); err != nil {
				return err
			}
			env, body, bs = pm.enc.Envelope, pm.enc.Body, pm.enc.BodyStructure
		}
	}
	// The flags, read once: announced first if they hold a new keyword.
	var flags []string
	if plan.hasFlags || addFlags {
		flags = m.Flags()
		if anyKeyword(flags) {
			s.checkKeywords(flags)
		}
	}
	w.WriteString("* ")
	w.num(seq)
	w.WriteString(" FETCH (")
	for i, a := range plan.atts {
		if i > 0 {
			w.sp()
		}
		switch a.Item {
		case imap.FetchUID:
			w.WriteString("UID ")
			w.num(uid)
		case imap.FetchFlags:
			w.WriteString("FLAGS ")
			w.flagsRecent(flags, s.isRecent(uid))
		case imap.FetchInternalDate:
			w.WriteString("INTERNALDATE ")
			w.dateTime(m.InternalDate())
		case imap.FetchRFC822Size:
			w.WriteString("RFC822.SIZE ")
			w.int64(m.Size())
		case imap.FetchModSeq:
			w.WriteString("MODSEQ (")
			w.num64(m.ModSeq())
			w.WriteByte(')')
		case imap.FetchEnvelope:
			w.WriteString("ENVELOPE ")
			w.Write(env)
		case imap.FetchBody:
			w.WriteString("BODY ")
			w.Write(body)
		case imap.FetchBodyStructure:
			w.WriteString("BODYSTRUCTURE ")
			w.Write(bs)
		case imap.FetchRFC822:
			w.WriteString("RFC822 ")
			if err := s.writeRange(m, 0, m.Size(), nil); err != nil {
				return err
			}
		case imap.FetchRFC822Header:
			w.WriteString("RFC822.HEADER ")
			if err := s.writeRange(m, pm.root.HeaderOffset, pm.root.BodyOffset, nil); err != nil {
				return err
			}
		case imap.FetchRFC822Text:
			w.WriteString("RFC822.TEXT ")
			if err := s.writeRange(m, pm.root.BodyOffset, m.Size(), nil); err != nil {
				return err
			}
		case imap.FetchBodySection, imap.FetchBinarySection, imap.FetchBinarySize:
			var err error
			if pm == nil && hm != nil {
				// Only header sections: from the summary's header.
				err = s.writeSectionOf(hm, a.Section, plan.names[i])
			} else {
				err = s.writeSection(m, pm, a.Section, plan.names[i])
			}
			if err != nil {
				return err
			}
		}
	}
	if addFlags {
		// RFC 9051 §6.4.5: the implicit \Seen is reported.
		w.WriteString(" FLAGS ")
		w.flagsRecent(flags, s.isRecent(uid))
	}
	w.WriteString(")\r\n")
	return nil
}

// writeRange writes octets [start, end) of the message as a literal,
// restricted to the partial range p when given.
func (s *session) writeRange(m Message, start, end int64, p *imap.Partial) error {
	if p != nil {
		start, end = partialRange(start, end, p)
	}
	ra, err := m.Open()
	if err != nil {
		return err
	}
	w := &s.w
	w.WriteByte('{')
	w.int64(end - start)
	w.WriteString("}\r\n")
	s.section = *io.NewSectionReader(ra, start, end-start)
	return w.copyFrom(&s.section)
}

func partialRange(start, end int64, p *imap.Partial) (int64, int64) {
	o := start + int64(p.Offset)
	if o > end {
		o = end
	}
	e := o + int64(p.Count)
	if e > end {
		e = end
	}
	return o, e
}

// writeSection writes a BODY[...], BINARY[...] or BINARY.SIZE[...] item
// (RFC 9051 §6.4.5, RFC 3516 §4.2), streaming the section.
func (s *session) writeSection(m Message, pm *parsedMsg, sec *imap.FetchSection, name []byte) error {
	w := &s.w
	if !sec.Binary && !sec.Size && len(sec.Part) == 0 {
		// Fast path for the common whole-message sections: a byte range
		// of the stored message, no allocation.
		start, end := int64(-1), int64(0)
		switch sec.Specifier {
		case imap.PartEntire:
			start, end = 0, m.Size()
		case imap.PartHeader:
			start, end = pm.root.HeaderOffset, pm.root.BodyOffset
		case imap.PartText:
			start, end = pm.root.BodyOffset, m.Size()
		}
		if start >= 0 {
			w.Write(name)
			w.sp()
			return s.writeRange(m, start, end, sec.Partial)
		}
	}
	ra, err := m.Open()
	if err != nil {
		return err
	}
	return s.writeSectionOf(imapmsg.New(ra, m.Size(), pm.root), sec, name)
}

// writeSectionOf writes a section item of msg (the message, or its
// header alone for header sections); name is the section's (nameSections).
func (s *session) writeSectionOf(msg *imapmsg.Message, sec *imap.FetchSection, name []byte) error {
	w := &s.w
	if sec.Size {
		n, err := msg.BinarySize(sec.Part)
		if err != nil && !errors.Is(err, imapmsg.ErrNoSection) {
			return err
		}
		w.Write(name)
		w.sp()
		w.int64(n)
		return nil
	}
	r, n, err := msg.Section(sec)
	w.Write(name)
	w.sp()
	if errors.Is(err, imapmsg.ErrNoSection) {
		w.WriteString("NIL") // RFC 9051 leaves it open; Dovecot says NIL too
		return nil
	}
	if err != nil {
		return err
	}
	if sec.Binary {
		// RFC 3516 §4.3: literal8 when the data holds NUL. Small sections
		// are checked; large ones are announced as literal8 unseen.
		if n <= 64<<10 {
			b := make([]byte, n)
			if _, err := io.ReadFull(r, b); err != nil {
				return err
			}
			if bytes.IndexByte(b, 0) >= 0 {
				w.WriteByte('~')
			}
			r = bytes.NewReader(b)
		} else {
			w.WriteByte('~')
		}
	}
	w.WriteByte('{')
	w.int64(n)
	w.WriteString("}\r\n")
	return w.copyFrom(r)
}
