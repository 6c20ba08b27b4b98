package maildir

import (
	"fmt"
	"strconv"
	"strings"
)

// \Recent (RFC 3501 §2.3.2) is "first session to be notified about this
// message": messages with UIDs from mailbox.recentUID on have not been
// claimed by any read-write session yet. The claim is kept across
// restarts in the folder's posthorn-recent, "<uidvalidity> <uid>\n",
// rewritten whenever a session claims messages, so that mail delivered
// while no session was open is \Recent to the first session after a
// restart, and to it alone. The file is not synced: a power cut may undo
// the last claim and show those messages as \Recent once more, never
// hide a message nobody was told of. A folder without the file (created
// by another program, or by an older version) has all its messages
// \Recent to its first session, as Dovecot treats a folder it indexes
// for the first time.
const recentName = "posthorn-recent"

// loadRecentLocked sets recentUID from posthorn-recent; uidValidity and
// uidNext are known.
func (mb *mailbox) loadRecentLocked() {
	mb.recentUID = 1
	if data, err := mb.u.s.fs.ReadFile(mb.path(recentName)); err == nil {
		v, u, ok := strings.Cut(strings.TrimSpace(string(data)), " ")
		validity, err1 := strconv.ParseUint(v, 10, 32)
		uid, err2 := strconv.ParseUint(u, 10, 32)
		if ok && err1 == nil && err2 == nil && uint32(validity) == mb.uidValidity {
			mb.recentUID = min(max(uint32(uid), 1), mb.uidNext)
		}
	}
	mb.recentSaved = mb.recentUID
}

// saveRecentLocked writes posthorn-recent after a session claimed
// messages.
func (mb *mailbox) saveRecentLocked() {
	if mb.recentUID == mb.recentSaved || mb.deleted {
		return
	}
	data := fmt.Appendf(nil, "%d %d\n", mb.uidValidity, mb.recentUID)
	if err := writeFileAtomic(mb.u.s.fs, mb.path(recentName), data, false); err != nil {
		mb.u.s.logger.Warn("maildir: writing posthorn-recent", "mailbox", mb.name, "err", err)
		return
	}
	mb.recentSaved = mb.recentUID
}
