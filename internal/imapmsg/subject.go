package imapmsg

import (
	"strings"
	"time"

	"github.com/posthorn/posthorn/mime"
)

// BaseSubject returns the base subject of a Subject header value for SORT
// and THREAD (RFC 5256 §2.1, steps 1 to 7), and whether extracting it
// removed a reply or forward marker ("Re:", "Fwd:", "(fwd)", "[fwd: ...]"),
// which THREAD=ORDEREDSUBJECT and REFERENCES need (RFC 5256 §3).
// Encoded words are decoded first; comparison (i;ascii-casemap) is the
// caller's.
func BaseSubject(subject string) (base string, replyOrFwd bool) {
	s := subject
	if strings.Contains(s, "=?") {
		s, _ = mime.DecodeWords(s)
	}
	s = collapseSpace(s) // (1)
	for {
		// (2) subj-trailer = "(fwd)" / WSP, repeatedly.
		for {
			if n := len(s); n >= 5 && strings.EqualFold(s[n-5:], "(fwd)") {
				s, replyOrFwd = s[:n-5], true
				continue
			}
			if strings.HasSuffix(s, " ") {
				s = s[:len(s)-1]
				continue
			}
			break
		}
		for { // (5): repeat (3) and (4)
			changed := false
			// (3) subj-leader = (*subj-blob subj-refwd) / WSP
			for {
				if strings.HasPrefix(s, " ") {
					s, changed = s[1:], true
					continue
				}
				if n := refwdLeader(s); n > 0 {
					s, changed, replyOrFwd = s[n:], true, true
					continue
				}
				break
			}
			// (4) a subj-blob prefix, when a non-empty subj-base remains
			if n := subjBlob(s); n > 0 && strings.TrimLeft(s[n:], " ") != "" {
				s, changed = s[n:], true
			}
			if !changed {
				break
			}
		}
		// (6) subj-fwd-hdr "[fwd:" ... subj-fwd-trl "]"
		if len(s) >= 6 && strings.EqualFold(s[:5], "[fwd:") && s[len(s)-1] == ']' {
			s, replyOrFwd = s[5:len(s)-1], true
			continue
		}
		return s, replyOrFwd // (7)
	}
}

// collapseSpace turns tabs and line breaks into spaces and runs of spaces
// into one.
func collapseSpace(s string) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteByte(c)
	}
	return b.String()
}

// subjBlob returns the length of a subj-blob at the start of s:
// "[" *BLOBCHAR "]" *WSP, BLOBCHAR being any byte but "[" and "]" (and NUL).
func subjBlob(s string) int {
	if !strings.HasPrefix(s, "[") {
		return 0
	}
	i := 1
	for i < len(s) && s[i] != ']' {
		if s[i] == '[' || s[i] == 0 {
			return 0
		}
		i++
	}
	if i == len(s) {
		return 0
	}
	i++
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

// refwdLeader returns the length of *subj-blob subj-refwd at the start of
// s, where subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":".
func refwdLeader(s string) int {
	i := 0
	for {
		n := subjBlob(s[i:])
		if n == 0 {
			break
		}
		i += n
	}
	rest := s[i:]
	switch {
	case len(rest) >= 3 && strings.EqualFold(rest[:3], "fwd"):
		i += 3
	case len(rest) >= 2 && (strings.EqualFold(rest[:2], "re") || strings.EqualFold(rest[:2], "fw")):
		i += 2
	default:
		return 0
	}
	for i < len(s) && s[i] == ' ' {
		i++
	}
	i += subjBlob(s[i:])
	if i < len(s) && s[i] == ':' {
		return i + 1
	}
	return 0
}

// SentDate returns the date SORT (DATE) and THREAD use: the Date header
// field, or the internal date when it is missing or cannot be parsed
// (RFC 5256 §2.2).
func SentDate(p *mime.Part, internal time.Time) time.Time {
	if d, err := mime.ParseDate(p.Header.Get("Date")); err == nil {
		return d
	}
	return internal
}
