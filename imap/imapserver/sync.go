package imapserver

import (
	"sort"
	"strings"
)

// This file keeps a session's view in step with changes made by other
// sessions while its own commands run: pending updates are sent before
// a command's own responses and never contradict them (RFC 9051 §7.5.2,
// RFC 7162 §3.1.4), expunged messages stay readable until the client
// is told (RFC 2180 §4.1.1), and a new keyword is announced in FLAGS
// before a response shows it.

// toldState is what the running command reported of the messages it
// answered for (FETCH, STORE), so that the updates polled after it can
// be checked against it: an update older than what the client was just
// told is left out, or replaced by the newer state (newerThanTold).
// Each list ascends by UID. The fields are reset after every command.
type toldState struct {
	msgs    []Message    // FETCH: the messages read
	changes []FlagChange // STORE: the store's outcome
	// flags: the command wrote the FLAGS of every message it names.
	flags bool
}

func (t *toldState) reset() { *t = toldState{} }

// lookup returns the flags and mod-sequence the command saw for uid.
func (t *toldState) lookup(uid uint32) (flags []string, modSeq uint64, ok bool) {
	if len(t.msgs) > 0 {
		i := sort.Search(len(t.msgs), func(i int) bool { return t.msgs[i].UID() >= uid })
		if i < len(t.msgs) && t.msgs[i].UID() == uid {
			return t.msgs[i].Flags(), t.msgs[i].ModSeq(), true
		}
	}
	if len(t.changes) > 0 {
		i := sort.Search(len(t.changes), func(i int) bool { return t.changes[i].UID >= uid })
		if i < len(t.changes) && t.changes[i].UID == uid {
			return t.changes[i].Flags, t.changes[i].ModSeq, true
		}
	}
	return nil, 0, false
}

// newerThanTold reports whether a flag update from another session
// still has to be sent after the running command. Updates are polled
// before a FETCH or STORE runs and again after it, so one polled after
// may predate the state the command itself read or made (RFC 7162
// §3.1.4: MODSEQ never goes backwards for the client). Such an update,
// or one of the very state told, is dropped when the command wrote the
// message's flags; otherwise an older one becomes the newer state the
// command saw (a STORE.SILENT changed the message after it), so the
// client's last word is the current one.
// Without mod-sequences there is no telling which is newer: the update
// is sent as it is.
func (s *session) newerThanTold(u *Update) bool {
	t := &s.told
	if (len(t.msgs) == 0 && len(t.changes) == 0) || s.sel.noModSeq {
		return true
	}
	flags, modSeq, ok := t.lookup(u.UID)
	switch {
	case !ok || u.ModSeq > modSeq:
		return true
	case t.flags:
		return false // told already, or superseded by what was told
	case u.ModSeq < modSeq:
		u.Flags, u.ModSeq = flags, modSeq
	}
	return true
}

// noteExpunge records an expunge reported by the store; the message
// keeps its sequence number, and its data stays readable through the
// update's Message, until the EXPUNGE can be sent.
func (sel *selected) noteExpunge(u Update) {
	if sel.seqOf(u.UID) == 0 {
		return
	}
	if sel.expunged == nil {
		sel.expunged = make(map[uint32]Message)
	}
	if m := sel.expunged[u.UID]; m == nil || u.Message != nil {
		sel.expunged[u.UID] = u.Message
	}
	if sel.expungedMin == 0 || u.ModSeq < sel.expungedMin {
		sel.expungedMin = u.ModSeq
	}
}

// pollExpunges takes in the store's pending updates in the middle of a
// command, when the store no longer has messages the client still
// sees: their expunges are recorded (so that their data can be served)
// and every update is kept in s.deferred, in order, for sendUpdates to
// tell the client after the command's own responses.
func (s *session) pollExpunges() {
	sel := s.sel
	ups := sel.mb.Poll()
	for _, u := range ups {
		if u.Kind == UpdateExpunge {
			sel.noteExpunge(u)
		}
	}
	s.deferred = append(s.deferred, ups...)
}

// withExpunged completes msgs, what the store returned for uids (both
// ascending), with the messages expunged meanwhile that the client
// still sees and the store handed over (RFC 2180 §4.1.1). Those served
// neither way are left out.
func (s *session) withExpunged(uids []uint32, msgs []Message) []Message {
	if len(msgs) == len(uids) {
		return msgs
	}
	s.pollExpunges()
	sel := s.sel
	out := make([]Message, 0, len(uids))
	j := 0
	for _, uid := range uids {
		if j < len(msgs) && msgs[j].UID() == uid {
			out = append(out, msgs[j])
			j++
			continue
		}
		if m := sel.expunged[uid]; m != nil {
			out = append(out, m)
		}
	}
	return out
}

// servesExpunged reports whether any of uids is a message expunged
// meanwhile that the session still shows and can serve, polling the
// store first for expunges made while the command ran.
func (s *session) servesExpunged(uids []uint32) bool {
	s.pollExpunges()
	for _, uid := range uids {
		if m := s.sel.expunged[uid]; m != nil {
			return true
		}
	}
	return false
}

// isKeyword reports whether f is a keyword rather than a system flag.
func isKeyword(f string) bool { return f != "" && f[0] != '\\' }

// anyKeyword reports whether flags hold a keyword. It is inlined, so
// that a response showing flags checks them for new keywords
// (checkKeywords) at the cost of a byte comparison per flag when there
// is none:
//
//	if anyKeyword(flags) {
//		s.checkKeywords(flags)
//	}
func anyKeyword(flags []string) bool {
	for _, f := range flags {
		if isKeyword(f) {
			return true
		}
	}
	return false
}

// checkKeywords announces, before a response that shows flags, the
// keywords among them the client has not seen in FLAGS yet: RFC 9051
// §7.3.5 allows an updated FLAGS at any time, and clients (and
// imaptest) expect every keyword they see to be listed, as Dovecot
// does.
func (s *session) checkKeywords(flags []string) {
	sel := s.sel
	added := false
	for _, f := range flags {
		if !isKeyword(f) || sel.hasKeyword(f) {
			continue
		}
		sel.keywords = append(sel.keywords, f)
		added = true
	}
	if added {
		s.writeFlags()
	}
}

func (sel *selected) hasKeyword(f string) bool {
	for _, k := range sel.keywords {
		if strings.EqualFold(k, f) {
			return true
		}
	}
	return false
}

// writeFlags writes FLAGS and PERMANENTFLAGS for the selected mailbox
// (RFC 9051 §7.3.5, §7.1): the system flags and the known keywords; a
// read-only selection permits no changes.
func (s *session) writeFlags() {
	w := &s.w
	w.WriteString(`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft`)
	for _, k := range s.sel.keywords {
		w.sp()
		w.WriteString(k)
	}
	w.WriteString(")\r\n* OK [PERMANENTFLAGS ")
	if s.sel.readOnly {
		w.WriteString("()")
	} else {
		w.WriteString(`(\Answered \Flagged \Deleted \Seen \Draft`)
		for _, k := range s.sel.keywords {
			w.sp()
			w.WriteString(k)
		}
		w.WriteString(` \*)`)
	}
	w.WriteString("] Flags permitted\r\n")
}
