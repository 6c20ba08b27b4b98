package maildir

import (
	"slices"
	"sort"
)

// junkFlag marks mail filed as junk, the keyword Thunderbird, Apple
// Mail and Dovecot's antispam setups use.
const junkFlag = "$Junk"

// junkMailboxLocked returns the mailbox quarantined mail is filed into:
// the one with the \Junk special-use attribute (RFC 6154), else "Junk",
// created with that attribute when the user has neither.
func (u *user) junkMailboxLocked() (string, error) {
	var names []string
	for name, use := range u.specialUse {
		if slices.Contains(use, `\Junk`) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if mb, ok := u.mailboxes[name]; ok && !mb.deleted {
			return name, nil
		}
	}
	if mb, ok := u.mailboxes["Junk"]; ok && !mb.deleted {
		return "Junk", nil
	}
	if err := u.createLocked("Junk", []string{`\Junk`}); err != nil {
		return "", err
	}
	return "Junk", nil
}
