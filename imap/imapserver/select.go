package imapserver

import (
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/posthorn/posthorn/imap"
)

// selected is the session's view of its selected mailbox: the
// sequence-number map (uids[i] has sequence number i+1) as last told to
// the client, and the changes not yet told.
type selected struct {
	mb       Mailbox
	name     string
	readOnly bool
	uids     []uint32
	// expunged holds UIDs expunged in the store but still in uids,
	// because an EXPUNGE could not be sent yet (RFC 9051 §7.5.1), each
	// with the message as it was when expunged (nil if the store keeps
	// none), which FETCH goes on serving (RFC 2180 §4.1.1);
	// expungedMin is the lowest mod-sequence among them (0 if none).
	expunged    map[uint32]Message
	expungedMin uint64
	// keywords are the keywords the client was told of in FLAGS; a new
	// one is announced before the first response that shows it.
	keywords []string
	// expungesSent counts the expunges told (EXPUNGE or VANISHED).
	expungesSent int
	// uidNext is the UIDNEXT the session knows of.
	uidNext uint32
	// noModSeq: the store keeps no mod-sequences for this mailbox
	// (RFC 7162 §3.1.2.2). modSeq is the highest mod-sequence of the
	// changes the session has taken in (condstore.go highestModSeq).
	noModSeq bool
	modSeq   uint64
	// announced is the message count the client was told (EXISTS minus
	// EXPUNGEs); uids may be longer until the next EXISTS.
	announced int
	// searchRes is the result saved by SEARCH RETURN (SAVE) (RFC 5182), as UIDs.
	searchRes []uint32
	// recent holds the messages recent in this session (recent.go).
	recent recentSet
}

// seqOf returns the sequence number of uid, or 0.
func (sel *selected) seqOf(uid uint32) uint32 {
	i := sort.Search(len(sel.uids), func(i int) bool { return sel.uids[i] >= uid })
	if i < len(sel.uids) && sel.uids[i] == uid {
		return uint32(i + 1)
	}
	return 0
}

func (s *session) closeMailbox() {
	if s.sel != nil {
		s.sel.mb.Close()
		s.sel = nil
	}
	if s.state == stateSelected {
		s.state = stateAuth
	}
}

// sendUpdates tells the client about changes to the selected mailbox.
// With expunges false (during FETCH, STORE and SEARCH by sequence
// number, RFC 9051 §7.5.1) expunges are kept for later; the messages
// stay in the sequence map until then.
func (s *session) sendUpdates(expunges bool) {
	sel := s.sel
	if sel == nil {
		return
	}
	// announce sends EXISTS for messages the client has not heard of,
	// before any response that names their sequence numbers.
	announce := func() {
		if len(sel.uids) > sel.announced {
			s.w.WriteString("* ")
			s.w.num(uint32(len(sel.uids)))
			s.w.WriteString(" EXISTS\r\n")
			sel.announced = len(sel.uids)
			if !s.rev2 {
				// RFC 3501 §7.3.2: the RECENT count changes with new mail.
				s.w.WriteString("* ")
				s.w.num(sel.recentCount())
				s.w.WriteString(" RECENT\r\n")
			}
		}
	}
	ups := sel.mb.Poll()
	if len(s.deferred) > 0 {
		// Polled during the command (pollExpunges): they come first.
		ups = append(s.deferred, ups...)
		s.deferred = nil
	}
	// Before a FETCH or STORE by sequence number (atEOL, expunges held)
	// new messages join the map but are not announced: the client's
	// "*" means the last message it knew of when it sent the command,
	// and a STORE 5:* +FLAGS (\Deleted) must not reach mail it never
	// saw. Their flag changes wait for the end of the command.
	quiet := s.atEOL && !expunges
	var later []Update
	defer func() {
		if len(later) > 0 {
			s.deferred = append(later, s.deferred...)
		}
	}()
	for _, u := range ups {
		if u.Kind != UpdateDeleted {
			sel.noteModSeq(u.ModSeq)
		}
		switch u.Kind {
		case UpdateNew:
			if n := len(sel.uids); n == 0 || sel.uids[n-1] < u.UID {
				sel.uids = append(sel.uids, u.UID)
				if u.Recent {
					sel.recent.added = append(sel.recent.added, u.UID)
				}
			}
			if u.UID >= sel.uidNext {
				sel.uidNext = u.UID + 1
			}
		case UpdateExpunge:
			sel.noteExpunge(u)
		case UpdateFlags:
			if u.Own {
				continue // STORE answered it already
			}
			seq := sel.seqOf(u.UID)
			if seq == 0 {
				continue
			}
			if _, gone := sel.expunged[u.UID]; gone {
				continue
			}
			if !s.newerThanTold(&u) {
				continue
			}
			if int(seq) > sel.announced {
				if quiet {
					later = append(later, u)
					continue
				}
				announce()
			}
			if anyKeyword(u.Flags) {
				s.checkKeywords(u.Flags)
			}
			s.w.WriteString("* ")
			s.w.num(seq)
			s.w.WriteString(" FETCH (UID ")
			s.w.num(u.UID)
			s.w.WriteString(" FLAGS ")
			s.w.flagsRecent(u.Flags, s.isRecent(u.UID))
			if s.modSeqOn() {
				// RFC 7162 §3.1, §3.2.4: UID and MODSEQ in every
				// unsolicited FETCH once CONDSTORE is enabled.
				s.w.WriteString(" MODSEQ (")
				s.w.num64(u.ModSeq)
				s.w.WriteByte(')')
			}
			s.w.WriteString(")\r\n")
		case UpdateDeleted:
			// The mailbox went away under us; there is nothing sensible
			// left to show (RFC 9051 leaves it open; Dovecot says BYE).
			s.w.WriteString("* BYE [NONEXISTENT] Selected mailbox was deleted\r\n")
			s.mailboxGone = true
			return
		}
	}
	if expunges && len(sel.expunged) > 0 {
		announce()
		if s.vanishedOn() {
			// RFC 7162 §3.2.10.2: one VANISHED (UIDs, ascending) instead
			// of EXPUNGEs, under the same rules of when it may be sent.
			gone := make([]uint32, 0, len(sel.expunged))
			for uid := range sel.expunged {
				gone = append(gone, uid)
			}
			slices.Sort(gone)
			s.writeVanished(false, gone, imap.NumSet{})
		} else {
			// Highest sequence number first: each number stays valid
			// when sent, and the map is compacted in one pass. No EXISTS
			// is needed: each EXPUNGE decrements the count (RFC 9051
			// §7.5.1).
			for i := len(sel.uids) - 1; i >= 0; i-- {
				if _, gone := sel.expunged[sel.uids[i]]; gone {
					s.w.WriteString("* ")
					s.w.num(uint32(i + 1))
					s.w.WriteString(" EXPUNGE\r\n")
				}
			}
		}
		// A new array: the snapshot's may be shared (Snapshot.UIDs).
		kept := make([]uint32, 0, max(len(sel.uids)-len(sel.expunged), 0))
		for _, uid := range sel.uids {
			if _, gone := sel.expunged[uid]; !gone {
				kept = append(kept, uid)
			}
		}
		sel.uids = kept
		sel.announced = len(kept)
		sel.expungesSent += len(sel.expunged)
		sel.expunged, sel.expungedMin = nil, 0
		if s.cs.qresync && s.modSeqOn() && s.cmdName == "MOVE" {
			// RFC 6851 §4.4: after a MOVE, the new HIGHESTMODSEQ in the
			// tagged or an untagged OK.
			s.writeModSeqCode()
		}
	}
	if !quiet {
		announce()
	}
	if !expunges && len(sel.expunged) > 0 && s.modSeqOn() && !s.atEOL {
		// RFC 7162 §3.2, §6: with expunges held back, the client must not
		// take the highest MODSEQ it saw as its HIGHESTMODSEQ; this one,
		// below the held expunges, overrides it.
		s.w.WriteString("* OK [HIGHESTMODSEQ ")
		s.w.num64(sel.highestModSeq())
		s.w.WriteString("] Expunges are delayed\r\n")
	}
}

// SELECT and EXAMINE (RFC 9051 §6.3.2, §6.3.3).
func cmdSelect(s *session, tag string, uid bool) error {
	name, err := s.readMailbox()
	if err != nil {
		return err
	}
	params, err := s.readSelectParams()
	if err != nil {
		return err
	}
	if err := s.crlf(); err != nil {
		return err
	}
	if err := s.checkSelectParams(params); err != nil {
		return err
	}
	readOnly := strings.HasPrefix(strings.ToUpper(s.cmdName), "EXAMINE")
	if s.sel != nil {
		// RFC 9051 §6.3.2: the previous mailbox is closed first, with a
		// CLOSED response (RFC 7162 §3.2.11 made it general in rev2).
		s.closeMailbox()
		s.w.WriteString("* OK [CLOSED] Previous mailbox closed\r\n")
	}
	mb, err := s.user.OpenMailbox(s.ctx, name, readOnly)
	if err != nil {
		return err
	}
	snap := mb.Snapshot()
	s.sel = &selected{mb: mb, name: name, readOnly: readOnly, uids: snap.UIDs, announced: len(snap.UIDs),
		recent:  recentSet{from: snap.RecentFrom, to: snap.UIDNext},
		uidNext: snap.UIDNext, modSeq: snap.HighestModSeq, noModSeq: snap.HighestModSeq == 0}
	s.state = stateSelected
	w := &s.w
	w.WriteString("* ")
	w.num(uint32(len(snap.UIDs)))
	w.WriteString(" EXISTS\r\n")
	if !s.rev2 {
		// RFC 3501 §7.3.2.
		w.WriteString("* ")
		w.num(s.sel.recentCount())
		w.WriteString(" RECENT\r\n")
		if snap.FirstUnseen != 0 {
			if seq := s.sel.seqOf(snap.FirstUnseen); seq != 0 {
				w.WriteString("* OK [UNSEEN ")
				w.num(seq)
				w.WriteString("] First unseen\r\n")
			}
		}
	}
	s.sel.keywords = slices.Clip(snap.Keywords)
	s.writeFlags()
	w.WriteString("* OK [UIDVALIDITY ")
	w.num(snap.UIDValidity)
	w.WriteString("] UIDs valid\r\n* OK [UIDNEXT ")
	w.num(snap.UIDNext)
	w.WriteString("] Predicted next UID\r\n")
	if rev2ListNeeded := s.rev2; rev2ListNeeded {
		// RFC 9051 §6.3.2: a LIST response with the mailbox name.
		w.WriteString(`* LIST () "/" `)
		w.mailbox(name)
		w.crlf()
	}
	if params.condstore && s.syncOffered() {
		s.cs.condstore = true // RFC 7162 §3.1.8
	}
	if s.cs.condstore {
		s.writeModSeqCode() // RFC 7162 §3.1.2
	}
	if params.qresync != nil {
		if err := s.qresyncSelect(params.qresync, snap.UIDValidity); err != nil {
			// A failed SELECT leaves no mailbox selected (RFC 9051 §6.3.2).
			s.closeMailbox()
			return err
		}
	}
	code := "READ-WRITE"
	if readOnly {
		code = "READ-ONLY"
	}
	w.status(tag, imap.StatusOK, imap.ResponseCode(code), "", s.cmdName+" completed")
	return errHandled
}

// CLOSE (RFC 9051 §6.4.1) and UNSELECT (RFC 3691).
func cmdClose(s *session, tag string, uid bool) error {
	if err := s.crlf(); err != nil {
		return err
	}
	if s.cmdName == "CLOSE" && !s.sel.readOnly {
		// Silent expunge: no EXPUNGE responses (RFC 9051 §6.4.1).
		if err := s.sel.mb.Expunge(s.ctx, nil); err != nil {
			s.log.Warn("CLOSE expunge failed", "err", err)
		}
	}
	s.closeMailbox()
	return nil
}

// readMailbox reads a space and a mailbox name, the argument every
// command that takes a mailbox starts with, and decodes the name:
// modified UTF-7 unless UTF-8 was enabled (RFC 6855 §3), then NFC (RFC
// 9051 §5.1).
func (s *session) readMailbox() (string, error) {
	if err := s.dec.SP(); err != nil {
		return "", err
	}
	name, err := s.dec.ReadMailbox()
	if err != nil {
		return "", err
	}
	return s.decodeMailbox(name)
}

// readMailboxLine reads the whole argument of a command that takes just
// a mailbox (DELETE, SUBSCRIBE, GETQUOTAROOT, ...): the name and the CRLF.
func (s *session) readMailboxLine() (string, error) {
	name, err := s.readMailbox()
	if err != nil {
		return "", err
	}
	return name, s.crlf()
}

func (s *session) decodeMailbox(name string) (string, error) {
	if !s.utf8 {
		dec, err := imap.DecodeMailboxName(name)
		if err != nil {
			return "", no(imap.CodeCannot, "Invalid modified UTF-7 mailbox name")
		}
		name = dec
	}
	n, ok := imap.NormalizeMailboxName(name)
	if !ok {
		return "", no(imap.CodeCannot, "Invalid mailbox name")
	}
	return imap.CanonicalMailboxName(n, Delimiter), nil
}

func appendUint(b []byte, n uint32) []byte { return strconv.AppendUint(b, uint64(n), 10) }
