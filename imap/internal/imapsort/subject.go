package imapsort

import (
	"strings"

	"github.com/posthorn/posthorn/mime"
)

// BaseSubject returns the base subject of a Subject header value
// (RFC 5256 §2.1) and whether extracting it removed a reply or forward
// marker: a subj-refwd ("Re:", "Fw:", "Fwd:", with optional [blob]), a
// "(fwd)" subj-trailer, or a "[fwd: …]" wrapper (RFC 5256 §4, REFERENCES).
//
// subject is the raw (unfolded) header value; RFC 2047 encoded words are
// decoded to UTF-8 first. The result keeps its case; compare base subjects
// with Compare or CasemapKey (i;ascii-casemap).
func BaseSubject(subject string) (base string, replyOrFwd bool) {
	// RFC 5256 §2.1 (1): decode encoded words to UTF-8 (the error is soft:
	// undecodable words stay as written), tabs and continuations become
	// spaces, runs of spaces become one.
	if strings.Contains(subject, "=?") {
		subject, _ = mime.DecodeWords(subject)
	}
	s := normalizeSpace(subject)
	for {
		// (2) Remove subj-trailers ("(fwd)" or WSP) from the end, repeatedly.
		for {
			if strings.HasSuffix(s, " ") {
				s = s[:len(s)-1]
			} else if n := len(s); n >= 5 && strings.EqualFold(s[n-5:], "(fwd)") {
				s = s[:n-5]
				replyOrFwd = true
			} else {
				break
			}
		}
		// (3)-(5) Remove subj-leaders and leading subj-blobs until none
		// is left.
		for changed := true; changed; {
			changed = false
			for {
				n, refwd := leader(s)
				if n == 0 {
					break
				}
				s = s[n:]
				replyOrFwd = replyOrFwd || refwd
				changed = true
			}
			// (4) A leading blob goes only if a non-empty subj-base remains.
			if n := blob(s); n > 0 && strings.TrimLeft(s[n:], " ") != "" {
				s = s[n:]
				changed = true
			}
		}
		// (6) "[fwd:" … "]" wrapper: remove and start again from (2).
		if len(s) >= 6 && strings.EqualFold(s[:5], "[fwd:") && s[len(s)-1] == ']' {
			s = s[5 : len(s)-1]
			replyOrFwd = true
			continue
		}
		return s, replyOrFwd
	}
}

// normalizeSpace turns tabs, CR and LF into spaces and collapses runs of
// spaces into one (RFC 5256 §2.1 step 1). It allocates only when it changes
// something.
func normalizeSpace(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\t' || c == '\r' || c == '\n' || (c == ' ' && i+1 < len(s) && s[i+1] == ' ') {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\t' || c == '\r' || c == '\n' {
			c = ' '
		}
		if c == ' ' && len(b) > 0 && b[len(b)-1] == ' ' {
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

// blob returns the length of a subj-blob at the start of s
// ("[" *BLOBCHAR "]" *WSP), or 0.
func blob(s string) int {
	if len(s) == 0 || s[0] != '[' {
		return 0
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '[':
			return 0
		case ']':
			i++
			for i < len(s) && s[i] == ' ' {
				i++
			}
			return i
		}
	}
	return 0
}

// leader returns the length of a subj-leader at the start of s
// ((*subj-blob subj-refwd) / WSP) and whether it was a subj-refwd, or 0.
//
//	subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
func leader(s string) (int, bool) {
	if len(s) > 0 && s[0] == ' ' {
		return 1, false
	}
	i := 0
	for {
		n := blob(s[i:])
		if n == 0 {
			break
		}
		i += n
	}
	switch {
	case hasPrefixFold(s[i:], "re"):
		i += 2
	case hasPrefixFold(s[i:], "fwd"):
		i += 3
	case hasPrefixFold(s[i:], "fw"):
		i += 2
	default:
		return 0, false
	}
	for i < len(s) && s[i] == ' ' {
		i++
	}
	i += blob(s[i:])
	if i < len(s) && s[i] == ':' {
		return i + 1, true
	}
	return 0, false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// CasemapKey returns s mapped for the i;ascii-casemap collation (RFC 4790
// §9.2): ASCII letters upper-cased, every other octet unchanged. Two strings
// collate as their keys compare bytewise. It allocates only when s has a
// lower-case ASCII letter.
func CasemapKey(s string) string {
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'a' <= b[j] && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// Compare collates a and b with i;ascii-casemap (RFC 4790 §9.2), returning
// -1, 0 or +1. The empty string collates before every other (RFC 5256 §3).
func Compare(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		x, y := upper(a[i]), upper(b[i])
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}
