package imap

import "strings"

// MailboxAttr is a mailbox name attribute in a LIST response
// (RFC 9051 §7.3.1).
type MailboxAttr string

// Mailbox name attributes (RFC 9051 §7.3.1, RFC 3348 CHILDREN,
// RFC 5258 LIST-EXTENDED).
const (
	AttrNoInferiors   MailboxAttr = `\Noinferiors`
	AttrNoSelect      MailboxAttr = `\Noselect`
	AttrMarked        MailboxAttr = `\Marked`
	AttrUnmarked      MailboxAttr = `\Unmarked`
	AttrNonExistent   MailboxAttr = `\NonExistent`
	AttrSubscribed    MailboxAttr = `\Subscribed`
	AttrRemote        MailboxAttr = `\Remote`
	AttrHasChildren   MailboxAttr = `\HasChildren`
	AttrHasNoChildren MailboxAttr = `\HasNoChildren`
)

// Special-use attributes (RFC 6154 §2, RFC 9051 §7.3.1).
const (
	AttrAll       MailboxAttr = `\All`
	AttrArchive   MailboxAttr = `\Archive`
	AttrDrafts    MailboxAttr = `\Drafts`
	AttrFlagged   MailboxAttr = `\Flagged`
	AttrJunk      MailboxAttr = `\Junk`
	AttrSent      MailboxAttr = `\Sent`
	AttrTrash     MailboxAttr = `\Trash`
	AttrImportant MailboxAttr = `\Important` // RFC 8457
)

var specialUse = [...]MailboxAttr{AttrAll, AttrArchive, AttrDrafts, AttrFlagged, AttrJunk, AttrSent, AttrTrash, AttrImportant}

// IsSpecialUse reports whether a is a special-use attribute (case-insensitive).
func (a MailboxAttr) IsSpecialUse() bool {
	for _, s := range specialUse {
		if strings.EqualFold(string(a), string(s)) {
			return true
		}
	}
	return false
}

// Canonical returns the canonical spelling of a known attribute
// (`\NOSELECT` becomes `\Noselect`); unknown attributes are returned as is.
func (a MailboxAttr) Canonical() MailboxAttr {
	for _, s := range allAttrs {
		if strings.EqualFold(string(a), string(s)) {
			return s
		}
	}
	return a
}

var allAttrs = [...]MailboxAttr{AttrNoInferiors, AttrNoSelect, AttrMarked, AttrUnmarked, AttrNonExistent,
	AttrSubscribed, AttrRemote, AttrHasChildren, AttrHasNoChildren,
	AttrAll, AttrArchive, AttrDrafts, AttrFlagged, AttrJunk, AttrSent, AttrTrash, AttrImportant}

// Inbox is the canonical name of the INBOX mailbox.
const Inbox = "INBOX"

// CanonicalMailboxName returns "INBOX" for any case variant of INBOX and for
// names inside it ("inbox/x" with delimiter '/' becomes "INBOX/x"), since
// INBOX is case-insensitive (RFC 9051 §5.1). Other names are returned as is.
func CanonicalMailboxName(name string, delim rune) string {
	if len(name) < 5 || !strings.EqualFold(name[:5], Inbox) {
		return name
	}
	if len(name) == 5 {
		return Inbox
	}
	if delim != 0 && strings.HasPrefix(name[5:], string(delim)) {
		return Inbox + name[5:]
	}
	return name
}
