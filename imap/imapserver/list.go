package imapserver

import (
	"slices"
	"strings"

	"github.com/posthorn/posthorn/imap"
)

// LIST (RFC 9051 §6.3.9, RFC 5258, RFC 5819, RFC 6154) and LSUB
// (RFC 3501 §6.3.9) in three steps: parseList reads the command,
// selectList picks the names to return from the backend's list (one pass
// to index every name's descendants, one to select) and hands each to
// writeListEntry, which writes its response. The index makes the child look-ups (\HasChildren,
// CHILDINFO, LSUB's \Noselect parents) constant time per name, so a LIST
// costs time linear in the number of mailboxes.

// listOptions are the LIST-EXTENDED selection and return options (RFC 5258).
type listOptions struct {
	subscribed     bool // select subscribed names
	recursiveMatch bool
	specialUse     bool // select special-use mailboxes (RFC 6154 §5.3)
	retSubscribed  bool
	status         []imap.StatusItem // RFC 5819 LIST-STATUS
	lsub           bool
}

// listCommand is a parsed LIST or LSUB command.
type listCommand struct {
	listOptions
	ref      string   // reference name, as sent
	patterns []string // mailbox patterns, as sent
}

func cmdList(s *session, tag string, uid bool) error {
	cmd, err := s.parseList()
	if err != nil {
		return err
	}
	ref, ok, err := s.decodePattern(cmd.ref)
	if err != nil {
		return err
	}
	patterns := make([]listPattern, 0, len(cmd.patterns))
	for _, p := range cmd.patterns {
		d, valid, err := s.decodePattern(p)
		if err != nil {
			return err
		}
		if !ok || !valid {
			// Not modified UTF-7: no mailbox name can match it, so it
			// selects nothing (imaptest's atoms script; Dovecot too).
			continue
		}
		// RFC 9051 §6.3.9: an empty pattern asks for the delimiter.
		if d == "" && len(cmd.patterns) == 1 {
			s.w.WriteString("* " + s.cmdName + ` (\Noselect) "/" ""` + "\r\n")
			return nil
		}
		if ref != "" && !strings.HasPrefix(d, string(Delimiter)) {
			d = ref + d
		}
		patterns = append(patterns, compileListPattern(imap.CanonicalMailboxName(d, Delimiter)))
	}
	if len(patterns) == 0 {
		return nil
	}
	infos, err := s.user.ListMailboxes(s.ctx)
	if err != nil {
		return err
	}
	selectList(infos, patterns, &cmd.listOptions, func(e listEntry) {
		s.writeListEntry(&cmd.listOptions, &e)
	})
	return nil
}

// parseList reads the arguments of LIST or LSUB up to and including the
// CRLF: [selection options] reference patterns [RETURN (options)].
func (s *session) parseList() (*listCommand, error) {
	cmd := &listCommand{}
	cmd.lsub = s.cmdName == "LSUB"
	if err := s.dec.SP(); err != nil {
		return nil, err
	}
	if !cmd.lsub {
		if ok, err := s.dec.Byte('('); err != nil {
			return nil, err
		} else if ok {
			if err := s.parseListSelection(&cmd.listOptions); err != nil {
				return nil, err
			}
		}
	}
	ref, err := s.dec.ReadMailbox()
	if err != nil {
		return nil, err
	}
	cmd.ref = ref
	if err := s.dec.SP(); err != nil {
		return nil, err
	}
	if ok, err := s.dec.Byte('('); err != nil {
		return nil, err
	} else if ok && !cmd.lsub {
		for first := true; ; first = false {
			if ok, err := s.dec.Byte(')'); err != nil {
				return nil, err
			} else if ok {
				break
			}
			if !first {
				if err := s.dec.SP(); err != nil {
					return nil, err
				}
			}
			p, err := s.dec.ReadListMailbox()
			if err != nil {
				return nil, err
			}
			cmd.patterns = append(cmd.patterns, p)
		}
	} else {
		p, err := s.dec.ReadListMailbox()
		if err != nil {
			return nil, err
		}
		cmd.patterns = append(cmd.patterns, p)
	}
	if ok, err := s.dec.AtEOL(); err != nil {
		return nil, err
	} else if !ok && !cmd.lsub {
		if err := s.parseListReturn(&cmd.listOptions); err != nil {
			return nil, err
		}
	}
	return cmd, s.crlf()
}

// parseListSelection reads list-select-opts after their "(" and the SP
// that follows them (RFC 5258 §6).
func (s *session) parseListSelection(opt *listOptions) error {
	for first := true; ; first = false {
		if ok, err := s.dec.Byte(')'); err != nil {
			return err
		} else if ok {
			break
		}
		if !first {
			if err := s.dec.SP(); err != nil {
				return err
			}
		}
		o, err := s.dec.ReadAtomUpper()
		if err != nil {
			return err
		}
		switch o {
		case "SUBSCRIBED":
			opt.subscribed, opt.retSubscribed = true, true
		case "RECURSIVEMATCH":
			opt.recursiveMatch = true
		case "SPECIAL-USE":
			opt.specialUse = true
		case "REMOTE":
		default:
			return bad("unknown LIST selection option %s", o)
		}
	}
	if opt.recursiveMatch && !opt.subscribed {
		return bad("RECURSIVEMATCH needs another selection option") // RFC 5258 §3.1
	}
	return s.dec.SP()
}

// parseListReturn reads
// list-return-opts = "RETURN" SP "(" [return-option *(SP return-option)] ")"
// after the SP before it (RFC 5258 §6, RFC 5819 §4).
func (s *session) parseListReturn(opt *listOptions) error {
	if err := s.dec.SP(); err != nil {
		return err
	}
	r, err := s.dec.ReadAtomUpper()
	if err != nil {
		return err
	}
	if r != "RETURN" {
		return bad("expected RETURN")
	}
	if err := s.dec.SP(); err != nil {
		return err
	}
	return s.dec.ReadList(true, func() error {
		o, err := s.dec.ReadAtomUpper()
		if err != nil {
			return err
		}
		switch o {
		case "SUBSCRIBED":
			opt.retSubscribed = true
		case "CHILDREN", "SPECIAL-USE":
			// Always returned.
		case "STATUS":
			if err := s.dec.SP(); err != nil {
				return err
			}
			items, err := s.readStatusItems()
			if err != nil {
				return err
			}
			opt.status = items
		default:
			return bad("unknown LIST return option %s", o)
		}
		return nil
	})
}

// Descendant bits of a name in the list index.
const (
	hasChild             uint8 = 1 << iota // a mailbox exists below the name
	hasSubscribedChild                     // a subscribed name lies below it
	hasUnmatchedSubChild                   // ... that no pattern matches
	isListed                               // the name is in the backend's list
)

// listEntry is one name to return.
type listEntry struct {
	info      *MailboxInfo
	below     uint8 // descendant bits
	childInfo bool  // RFC 5258 §3.5 CHILDINFO ("SUBSCRIBED")
	parent    bool  // LSUB: an unsubscribed parent of subscribed names
}

// selectList picks the names a LIST or LSUB returns from the backend's
// list infos and calls emit with each, in the order of infos, then any
// parents the list lacks, sorted (RFC 9051 §6.3.9 asks no order). The
// entry and its info are valid only during the call.
func selectList(infos []MailboxInfo, patterns []listPattern, opt *listOptions, emit func(listEntry)) {
	var m listMatcher
	match := func(name string) bool {
		for i := range patterns {
			if m.match(&patterns[i], name) {
				return true
			}
		}
		return false
	}
	// Index: the descendant bits of every name that has descendants and
	// matches a pattern (only those are returned), found by walking each
	// name's ancestors (keys are substrings of the names, so the map
	// holds no copies).
	subs := opt.lsub || opt.recursiveMatch
	below := make(map[string]uint8, len(infos)/8)
	// Siblings usually come together (a backend tends to list in name
	// order): the last parent written saves most map writes.
	var lastKey string
	var lastBits uint8
	for i := range infos {
		info := &infos[i]
		var bits uint8
		if !info.NonExistent {
			bits |= hasChild
		}
		if subs && info.Subscribed {
			bits |= hasSubscribedChild
			if !match(info.Name) {
				bits |= hasUnmatchedSubChild
			}
		}
		if bits == 0 {
			continue
		}
		name := info.Name
		j := strings.LastIndexByte(name, Delimiter)
		if j <= 0 {
			continue
		}
		if parent := name[:j]; parent != lastKey {
			lastKey, lastBits = parent, bits
		} else if bits&^lastBits == 0 {
			continue // the parent and its ancestors have these bits
		} else {
			lastBits |= bits
		}
		for ; j > 0; j-- {
			if name[j] == Delimiter && match(name[:j]) {
				below[name[:j]] |= bits
			}
		}
	}
	for i := range infos {
		info := &infos[i]
		if !match(info.Name) {
			continue
		}
		bits, ok := below[info.Name]
		if ok && subs {
			below[info.Name] = bits | isListed
		}
		e := listEntry{info: info, below: bits}
		switch {
		case opt.lsub:
			// RFC 3501 §6.3.9: a "%" that stops above subscribed names
			// returns their unsubscribed parent, flagged \Noselect.
			if !info.Subscribed {
				if e.below&hasUnmatchedSubChild == 0 {
					continue
				}
				e.parent = true
			}
		case opt.subscribed:
			if !info.Subscribed {
				// RFC 5258 §3.5: CHILDINFO only when a subscribed child is
				// not itself returned (redundant CHILDINFO suppressed).
				if !opt.recursiveMatch || e.below&hasUnmatchedSubChild == 0 {
					continue
				}
				e.childInfo = true
			}
		default:
			if info.NonExistent {
				continue
			}
		}
		if opt.specialUse && len(info.SpecialUse) == 0 {
			continue
		}
		emit(e)
	}
	if subs {
		addMissingParents(below, match, opt, emit)
	}
}

// addMissingParents emits the names that are not in the backend's list
// (no mailbox, not subscribed) but that LSUB or RECURSIVEMATCH must
// return because subscribed names below them are not returned, sorted.
func addMissingParents(below map[string]uint8, match func(string) bool, opt *listOptions, emit func(listEntry)) {
	if opt.specialUse {
		return // no special use without a mailbox
	}
	var extra []listEntry
	for name, bits := range below {
		if bits&(hasUnmatchedSubChild|isListed) != hasUnmatchedSubChild || !match(name) {
			continue
		}
		info := &MailboxInfo{Name: name, NonExistent: bits&hasChild == 0}
		extra = append(extra, listEntry{info: info, below: bits, parent: opt.lsub, childInfo: !opt.lsub})
	}
	slices.SortFunc(extra, func(a, b listEntry) int { return strings.Compare(a.info.Name, b.info.Name) })
	for i := range extra {
		emit(extra[i])
	}
}

// writeListEntry writes the LIST or LSUB response for an entry, followed
// by its STATUS with LIST-STATUS (RFC 5819 §2).
func (s *session) writeListEntry(opt *listOptions, e *listEntry) {
	var buf [6]string
	info := e.info
	attrs := buf[:0]
	switch {
	case e.parent:
		attrs = append(attrs, string(imap.AttrNoSelect))
	case info.NonExistent:
		attrs = append(attrs, string(imap.AttrNonExistent))
	case info.NoSelect:
		attrs = append(attrs, string(imap.AttrNoSelect))
	}
	if info.NoInferiors {
		attrs = append(attrs, string(imap.AttrNoInferiors))
	} else if !info.NonExistent && !e.parent {
		if e.below&hasChild != 0 {
			attrs = append(attrs, string(imap.AttrHasChildren))
		} else {
			attrs = append(attrs, string(imap.AttrHasNoChildren))
		}
	}
	if info.Subscribed && opt.retSubscribed {
		attrs = append(attrs, string(imap.AttrSubscribed))
	}
	if !opt.lsub {
		attrs = append(attrs, info.SpecialUse...)
	}
	s.w.WriteString("* ")
	s.w.WriteString(s.cmdName)
	s.w.WriteByte(' ')
	s.w.flags(attrs)
	s.w.WriteString(` "/" `)
	s.w.mailbox(info.Name)
	if e.childInfo {
		s.w.WriteString(` ("CHILDINFO" ("SUBSCRIBED"))`)
	}
	s.w.crlf()
	if len(opt.status) > 0 && !info.NoSelect && !info.NonExistent && !e.parent {
		// RFC 5819 §2: STATUS follows the LIST line; failures are skipped.
		if st, err := s.user.Status(s.ctx, info.Name); err == nil {
			s.writeStatus(info.Name, st, opt.status)
		}
	}
}

// decodePattern decodes a LIST reference or pattern like a mailbox name;
// the wildcards are ASCII and pass through modified UTF-7 untouched. A
// pattern that is not valid modified UTF-7 is reported as !valid: no
// mailbox name can match it.
func (s *session) decodePattern(p string) (d string, valid bool, err error) {
	if p == "" {
		return "", true, nil
	}
	if !s.utf8 {
		d, err := imap.DecodeMailboxName(p)
		if err != nil {
			return "", false, nil
		}
		p = d
	}
	n, ok := imap.NormalizeMailboxName(p)
	if !ok {
		return "", false, no(imap.CodeCannot, "Invalid pattern")
	}
	return n, true, nil
}

// listPattern is a LIST pattern with its common shapes recognised:
// a name without wildcards, "prefix*" and "prefix%".
type listPattern struct {
	p      string
	prefix string // the part before the only wildcard, at the end
	kind   uint8
}

const (
	patGeneral uint8 = iota // wildcards anywhere: the general matcher
	patExact                // no wildcard
	patStar                 // prefix + "*"
	patPercent              // prefix + "%"
)

func compileListPattern(p string) listPattern {
	i := strings.IndexAny(p, "*%")
	switch {
	case i < 0:
		return listPattern{p: p, kind: patExact}
	case i == len(p)-1 && p[i] == '*':
		return listPattern{p: p, prefix: p[:i], kind: patStar}
	case i == len(p)-1:
		return listPattern{p: p, prefix: p[:i], kind: patPercent}
	}
	return listPattern{p: p, kind: patGeneral}
}

// listMatcher matches names against list patterns, reusing its buffers.
type listMatcher struct {
	cur, next []bool
}

func (m *listMatcher) match(p *listPattern, name string) bool {
	switch p.kind {
	case patExact:
		return name == p.p
	case patStar:
		return strings.HasPrefix(name, p.prefix)
	case patPercent:
		return strings.HasPrefix(name, p.prefix) && strings.IndexByte(name[len(p.prefix):], Delimiter) < 0
	}
	return m.general(p.p, name)
}

// general matches a pattern: "*" matches anything, "%" anything but the
// delimiter (RFC 9051 §6.3.9). It runs in O(len(pattern) * len(name))
// time whatever the pattern, so hostile patterns cannot make it
// backtrack exponentially.
func (m *listMatcher) general(pattern, name string) bool {
	// cur[j]: pattern[:i] matches name[:j].
	if cap(m.cur) < len(name)+1 {
		m.cur = make([]bool, len(name)+1)
		m.next = make([]bool, len(name)+1)
	}
	cur, next := m.cur[:len(name)+1], m.next[:len(name)+1]
	clear(cur)
	cur[0] = true
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch c {
		case '*', '%':
			reach := false
			for j := 0; j <= len(name); j++ {
				if c == '%' && j > 0 && name[j-1] == Delimiter {
					reach = false
				}
				if cur[j] {
					reach = true
				}
				next[j] = reach
			}
		default:
			next[0] = false
			for j := 1; j <= len(name); j++ {
				next[j] = cur[j-1] && name[j-1] == c
			}
		}
		cur, next = next, cur
	}
	return cur[len(name)]
}
