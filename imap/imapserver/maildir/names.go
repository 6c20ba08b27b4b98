package maildir

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/imapserver"
)

// Mailbox names come from authenticated users and become directory
// names, so the mapping below is the store's first line of defence: its
// output is always one path element (no "/", never "." or ".."), it is
// reversible (folderName(dirName(n)) == n), and two different names never
// map to one directory, even on a case-insensitive file system (the store
// refuses a name whose directory differs only in case from another).
//
// The layout is Maildir++ as Dovecot and Courier read it: INBOX is the
// user's directory itself; any other mailbox is a directory ".L1.L2..."
// directly below it, one level of the IMAP name (separator "/") per
// "."-separated part. Each part is the level in modified UTF-7 (RFC 3501
// §5.1.3), with the characters Maildir++ cannot hold escaped the way
// Dovecot's listescape plugin writes them, "\" and two lower-case hex
// digits: "." (the on-disk separator), "\" itself, and "~" at the start
// of a part. A Dovecot configured with `separator = /` and the listescape
// plugin reads the same names, and we read its (TestListescapeDovecot).

// ErrBadName is returned (wrapped) for a mailbox name the store refuses:
// empty levels, NUL or other control characters, invalid UTF-8, or a
// name too long for the file system.
var ErrBadName = errors.New("maildir: invalid mailbox name")

const (
	// maxDirName is the longest directory name most file systems hold.
	maxDirName = 255
	escapeChar = '\\'
)

// canonicalName spells INBOX in upper case whatever the case given
// (RFC 9051 §5.1).
func canonicalName(name string) string {
	if strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	if len(name) > 6 && strings.EqualFold(name[:6], "INBOX/") {
		return "INBOX" + name[5:]
	}
	return name
}

// checkName validates and canonicalises an IMAP mailbox name.
func checkName(name string) (string, error) {
	n, ok := imap.NormalizeMailboxName(name)
	if !ok {
		return "", fmt.Errorf("%w: not UTF-8", ErrBadName)
	}
	n = canonicalName(n)
	if n == "" {
		return "", fmt.Errorf("%w: empty", ErrBadName)
	}
	for _, r := range n {
		if unicode.IsControl(r) {
			return "", fmt.Errorf("%w: control character", ErrBadName)
		}
	}
	for _, lvl := range strings.Split(n, string(imapserver.Delimiter)) {
		if lvl == "" {
			return "", fmt.Errorf("%w: empty level in %q", ErrBadName, n)
		}
	}
	if n != "INBOX" {
		if len(dirNameUnchecked(n)) > maxDirName {
			return "", fmt.Errorf("%w: too long", ErrBadName)
		}
	}
	return n, nil
}

// dirName returns the directory of the mailbox name (canonical, checked
// by checkName): "" for INBOX, else ".L1.L2...".
func dirName(name string) string {
	if name == "INBOX" {
		return ""
	}
	return dirNameUnchecked(name)
}

func dirNameUnchecked(name string) string {
	var b strings.Builder
	for _, lvl := range strings.Split(name, string(imapserver.Delimiter)) {
		b.WriteByte('.')
		enc := imap.EncodeMailboxName(lvl)
		for i := 0; i < len(enc); i++ {
			c := enc[i]
			if c == '.' || c == escapeChar || c == '/' || (c == '~' && i == 0) {
				fmt.Fprintf(&b, "%c%02x", escapeChar, c)
				continue
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}

// folderName returns the mailbox name of a directory ".L1.L2..." below
// the user's directory, or false for an entry that is not a folder this
// mapping produces (which the store then ignores).
func folderName(dir string) (string, bool) {
	if len(dir) < 2 || dir[0] != '.' || dir == ".." || len(dir) > maxDirName {
		return "", false
	}
	var levels []string
	for _, part := range strings.Split(dir[1:], ".") {
		if part == "" {
			return "", false
		}
		var b strings.Builder
		for i := 0; i < len(part); i++ {
			c := part[i]
			if c == escapeChar {
				if i+3 > len(part) {
					return "", false
				}
				v, err := strconv.ParseUint(part[i+1:i+3], 16, 8)
				if err != nil {
					return "", false
				}
				b.WriteByte(byte(v))
				i += 2
				continue
			}
			b.WriteByte(c)
		}
		lvl, err := imap.DecodeMailboxName(b.String())
		if err != nil || lvl == "" {
			return "", false
		}
		levels = append(levels, lvl)
	}
	name, err := checkName(strings.Join(levels, string(imapserver.Delimiter)))
	if err != nil || dirName(name) != dir {
		// Not the canonical spelling: another name maps there.
		return "", false
	}
	return name, true
}

// userDirName maps an account name to one path element: letters,
// digits and "-_@+" stand for themselves, a "." too except first; every
// other byte is "%" and two hex digits. The empty name is refused.
func userDirName(user string) (string, error) {
	if user == "" || len(user) > 200 {
		return "", fmt.Errorf("maildir: bad user name %q", user)
	}
	var b strings.Builder
	for i := 0; i < len(user); i++ {
		c := user[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '-', c == '_', c == '@', c == '+', c == '.' && i > 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	return b.String(), nil
}
