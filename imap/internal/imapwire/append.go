package imapwire

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/posthorn/posthorn/imap"
)

// MaxQuoted is the longest string AppendString writes quoted; longer
// strings become literals.
const MaxQuoted = 1024

// quotable reports whether s can be sent as a quoted string: no CR, LF or
// NUL, 7-bit (or valid UTF-8 when utf8ok), and not longer than MaxQuoted.
func quotable(s string, utf8ok bool) bool {
	if len(s) > MaxQuoted {
		return false
	}
	eight := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\r' || c == '\n' || c == 0:
			return false
		case c >= 0x80:
			eight = true
		}
	}
	return !eight || (utf8ok && utf8.ValidString(s))
}

// AppendString appends s as a string: quoted when quotable (escaping "\"
// and DQUOTE), otherwise as a literal "{n}" CRLF s. Servers send literals
// without waiting; a client must not use this for synchronising literals.
//
// NUL cannot be sent in a string at all (RFC 9051 §9: CHAR8 excludes it);
// it is replaced by U+FFFD, which is what a message with a NUL in a header
// gets in ENVELOPE and BODYSTRUCTURE.
func AppendString(b []byte, s string, utf8ok bool) []byte {
	return appendString(b, s, utf8ok, nil)
}

// appendString is AppendString; with lits not nil a literal's header is
// left open ("{n" without "}" CRLF) and the offset of its data recorded in
// *lits, for a Command.
func appendString(b []byte, s string, utf8ok bool, lits *[]int) []byte {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	if !quotable(s, utf8ok) {
		b = append(b, '{')
		b = strconv.AppendInt(b, int64(len(s)), 10)
		if lits != nil {
			*lits = append(*lits, len(b))
		} else {
			b = append(b, "}\r\n"...)
		}
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// AppendNString appends s as a string, or NIL when empty.
func AppendNString(b []byte, s string, utf8ok bool) []byte {
	if s == "" {
		return append(b, "NIL"...)
	}
	return AppendString(b, s, utf8ok)
}

// AppendAString appends s as an atom when it is a non-empty run of
// ASTRING-CHARs other than NIL, else as a string.
func AppendAString(b []byte, s string, utf8ok bool) []byte {
	return appendAString(b, s, utf8ok, nil)
}

func appendAString(b []byte, s string, utf8ok bool, lits *[]int) []byte {
	atom := s != "" && !(len(s) == 3 && (s[0]|0x20) == 'n' && (s[1]|0x20) == 'i' && (s[2]|0x20) == 'l')
	for i := 0; i < len(s) && atom; i++ {
		atom = imap.IsAStringChar(s[i])
	}
	if atom {
		return append(b, s...)
	}
	return appendString(b, s, utf8ok, lits)
}

// AppendDateTime appends a quoted date-time (RFC 9051 §9).
func AppendDateTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, "_2-Jan-2006 15:04:05 -0700")
	return append(b, '"')
}
