package imapserver

import (
	"strings"

	"github.com/posthorn/posthorn/imap"
)

// listOptions are the LIST-EXTENDED selection and return options (RFC 5258).
type listOptions struct {
	subscribed     bool // select subscribed names
	recursiveMatch bool
	specialUse     bool // select special-use mailboxes (RFC 6154 §5.3)
	retSubscribed  bool
	status         []imap.StatusItem // RFC 5819 LIST-STATUS
	lsub           bool
}

// LIST (RFC 9051 §6.3.9, RFC 5258, RFC 5819, RFC 6154) and LSUB (RFC 3501 §6.3.9).
func cmdList(s *session, tag string, uid bool) error {
	var opt listOptions
	opt.lsub = s.cmdName == "LSUB"
	if err := s.dec.SP(); err != nil {
		return err
	}
	if !opt.lsub {
		if ok, err := s.dec.Byte('('); err != nil {
			return err
		} else if ok {
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
			if err := s.dec.SP(); err != nil {
				return err
			}
		}
	}
	ref, err := s.dec.ReadMailbox()
	if err != nil {
		return err
	}
	if err := s.dec.SP(); err != nil {
		return err
	}
	var patterns []string
	if ok, err := s.dec.Byte('('); err != nil {
		return err
	} else if ok && !opt.lsub {
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
			p, err := s.dec.ReadListMailbox()
			if err != nil {
				return err
			}
			patterns = append(patterns, p)
		}
	} else {
		p, err := s.dec.ReadListMailbox()
		if err != nil {
			return err
		}
		patterns = append(patterns, p)
	}
	if ok, err := s.dec.AtEOL(); err != nil {
		return err
	} else if !ok && !opt.lsub {
		// list-return-opts = "RETURN" SP "(" [return-option *(SP return-option)] ")"
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
		err = s.dec.ReadList(true, func() error {
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
		if err != nil {
			return err
		}
	}
	if err := s.crlf(); err != nil {
		return err
	}
	if ref, err = s.decodePattern(ref); err != nil {
		return err
	}
	for i, p := range patterns {
		if patterns[i], err = s.decodePattern(p); err != nil {
			return err
		}
	}
	// RFC 9051 §6.3.9: an empty pattern asks for the delimiter.
	if len(patterns) == 1 && patterns[0] == "" {
		s.w.WriteString("* " + s.cmdName + ` (\Noselect) "/" ""` + "\r\n")
		return nil
	}
	infos, err := s.user.ListMailboxes(s.ctx)
	if err != nil {
		return err
	}
	exists := make(map[string]*MailboxInfo, len(infos))
	for i := range infos {
		exists[infos[i].Name] = &infos[i]
	}
	for i := range patterns {
		if ref != "" && !strings.HasPrefix(patterns[i], string(Delimiter)) {
			patterns[i] = ref + patterns[i]
		}
		patterns[i] = imap.CanonicalMailboxName(patterns[i], Delimiter)
	}
	match := func(name string) bool {
		for _, p := range patterns {
			if matchPattern(p, name) {
				return true
			}
		}
		return false
	}
	for _, info := range infos {
		if !match(info.Name) {
			continue
		}
		subscribedChild := false
		hasChildren := false
		prefix := info.Name + string(Delimiter)
		for _, o := range infos {
			if strings.HasPrefix(o.Name, prefix) {
				if !o.NonExistent {
					hasChildren = true
				}
				if o.Subscribed {
					subscribedChild = true
				}
			}
		}
		if opt.lsub || opt.subscribed {
			if !info.Subscribed && !(opt.recursiveMatch && subscribedChild) {
				continue
			}
		} else if info.NonExistent {
			continue
		}
		if opt.specialUse && len(info.SpecialUse) == 0 {
			continue
		}
		var attrs []string
		if info.NonExistent {
			attrs = append(attrs, string(imap.AttrNonExistent))
		} else if info.NoSelect {
			attrs = append(attrs, string(imap.AttrNoSelect))
		}
		if info.NoInferiors {
			attrs = append(attrs, string(imap.AttrNoInferiors))
		} else if !info.NonExistent {
			if hasChildren {
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
		s.w.WriteString("* " + s.cmdName + " ")
		s.w.flags(attrs)
		s.w.WriteString(` "/" `)
		s.w.mailbox(info.Name)
		if opt.recursiveMatch && subscribedChild && !info.Subscribed {
			s.w.WriteString(` ("CHILDINFO" ("SUBSCRIBED"))`)
		}
		s.w.crlf()
		if len(opt.status) > 0 && !info.NoSelect && !info.NonExistent {
			// RFC 5819 §2: STATUS follows the LIST line; failures are skipped.
			if st, err := s.user.Status(s.ctx, info.Name); err == nil {
				s.writeStatus(info.Name, st, opt.status)
			}
		}
	}
	return nil
}

// decodePattern decodes a LIST reference or pattern like a mailbox name;
// the wildcards are ASCII and pass through modified UTF-7 untouched.
func (s *session) decodePattern(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	if !s.utf8 {
		d, err := imap.DecodeMailboxName(p)
		if err != nil {
			return "", no(imap.CodeCannot, "Invalid modified UTF-7 in pattern")
		}
		p = d
	}
	n, ok := imap.NormalizeMailboxName(p)
	if !ok {
		return "", no(imap.CodeCannot, "Invalid pattern")
	}
	return n, nil
}

// matchPattern matches a LIST pattern: "*" matches anything, "%" anything
// but the delimiter (RFC 9051 §6.3.9). It runs in O(len(pattern) *
// len(name)) time whatever the pattern, so hostile patterns cannot
// make it backtrack exponentially.
func matchPattern(pattern, name string) bool {
	// cur[j]: pattern[:i] matches name[:j].
	cur := make([]bool, len(name)+1)
	next := make([]bool, len(name)+1)
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
