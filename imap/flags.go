package imap

import "strings"

// Flag is a message flag: a system flag (starting with a backslash) or a
// keyword (an atom) (RFC 9051 §2.3.2).
type Flag string

// System flags (RFC 9051 §2.3.2) and the \* marker of PERMANENTFLAGS.
const (
	FlagSeen     Flag = `\Seen`
	FlagAnswered Flag = `\Answered`
	FlagFlagged  Flag = `\Flagged`
	FlagDeleted  Flag = `\Deleted`
	FlagDraft    Flag = `\Draft`
	// FlagRecent exists in IMAP4rev1 only (RFC 3501 §2.3.2); IMAP4rev2
	// removed it. It can never be set by STORE or APPEND.
	FlagRecent Flag = `\Recent`
	// FlagWildcard appears only in PERMANENTFLAGS: clients may create new
	// keywords (RFC 9051 §7.1).
	FlagWildcard Flag = `\*`
)

// Keywords registered with IANA that RFC 9051 §2.3.2 names.
const (
	FlagForwarded Flag = "$Forwarded"
	FlagMDNSent   Flag = "$MDNSent"
	FlagJunk      Flag = "$Junk"
	FlagNotJunk   Flag = "$NotJunk"
	FlagPhishing  Flag = "$Phishing"
)

var systemFlags = [...]Flag{FlagSeen, FlagAnswered, FlagFlagged, FlagDeleted, FlagDraft, FlagRecent}

// IsSystem reports whether f is one of the system flags (case-insensitive).
func (f Flag) IsSystem() bool {
	if len(f) == 0 || f[0] != '\\' {
		return false
	}
	for _, s := range systemFlags {
		if strings.EqualFold(string(f), string(s)) {
			return true
		}
	}
	return false
}

// Canonical returns f with a system flag in its canonical spelling
// (`\SEEN` becomes `\Seen`). Keywords are returned unchanged: they compare
// case-insensitively (RFC 9051 §2.3.2) but are stored as first written.
func (f Flag) Canonical() Flag {
	if len(f) > 0 && f[0] == '\\' {
		for _, s := range systemFlags {
			if strings.EqualFold(string(f), string(s)) {
				return s
			}
		}
	}
	return f
}

// Equal reports whether f and g are the same flag (case-insensitive).
func (f Flag) Equal(g Flag) bool { return strings.EqualFold(string(f), string(g)) }

// ValidKeyword reports whether s can be a keyword: a non-empty atom
// (RFC 9051 §9, flag-keyword = atom) not starting with a backslash.
func ValidKeyword(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !IsAtomChar(s[i]) {
			return false
		}
	}
	return true
}

// ValidStoreFlag reports whether f may appear in STORE or APPEND: a system
// flag other than \Recent, or a valid keyword (RFC 9051 §9, flag).
// Unknown backslash flags (flag-extension) are refused.
func ValidStoreFlag(f Flag) bool {
	if len(f) > 0 && f[0] == '\\' {
		return f.IsSystem() && !f.Equal(FlagRecent)
	}
	return ValidKeyword(string(f))
}

// IsAtomChar reports whether c is an ATOM-CHAR (RFC 9051 §9): any CHAR
// except atom-specials "(" ")" "{" SP CTL list-wildcards quoted-specials
// resp-specials.
func IsAtomChar(c byte) bool {
	return c < 0x80 && atomChar[c]
}

// IsAStringChar reports whether c is an ASTRING-CHAR: an ATOM-CHAR or "]".
func IsAStringChar(c byte) bool {
	return c == ']' || IsAtomChar(c)
}

var atomChar = func() (t [128]bool) {
	for c := 0x21; c < 0x7f; c++ {
		t[c] = true
	}
	for _, c := range []byte(`(){ %*"\]`) {
		t[c] = false
	}
	return t
}()

// HasFlag reports whether list holds f (case-insensitive).
func HasFlag(list []Flag, f Flag) bool {
	for _, g := range list {
		if g.Equal(f) {
			return true
		}
	}
	return false
}

// AddFlags returns list with every flag of add that it lacks appended
// (case-insensitive comparison, canonical system-flag spelling).
func AddFlags(list []Flag, add ...Flag) []Flag {
	for _, f := range add {
		if !HasFlag(list, f) {
			list = append(list, f.Canonical())
		}
	}
	return list
}

// RemoveFlags returns list without the flags of remove, reusing list's
// storage.
func RemoveFlags(list []Flag, remove ...Flag) []Flag {
	out := list[:0]
	for _, f := range list {
		if !HasFlag(remove, f) {
			out = append(out, f)
		}
	}
	clear(list[len(out):])
	return out
}
