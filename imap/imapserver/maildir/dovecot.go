package maildir

import (
	"fmt"
	"strconv"
	"strings"
)

// Files shared with Dovecot, in the formats Dovecot reads and writes:
//
//	dovecot-uidlist    version 3: "3 V<uidvalidity> N<uidnext> G<guid>",
//	                   then one line per message: "<uid> W<size> :<base>"
//	dovecot-keywords   one line per keyword letter: "<0-25> <keyword>"
//
// Both are written as a new file renamed over the old one. The uidlist is
// derived from our index (written when a mailbox is checkpointed or
// closed); read when a mailbox has no index of ours yet, and for the UIDs
// Dovecot gave files that we have not indexed.
const (
	uidlistName  = "dovecot-uidlist"
	keywordsName = "dovecot-keywords"
	maxKeywords  = 26 // letters a-z
)

type uidlist struct {
	validity uint32
	next     uint32
	guid     string
	uids     map[string]uint32 // base -> uid
}

func parseUIDList(data string) (uidlist, bool) {
	l := uidlist{uids: map[string]uint32{}}
	lines := strings.Split(data, "\n")
	if len(lines) == 0 {
		return l, false
	}
	hdr := strings.Fields(lines[0])
	if len(hdr) == 0 {
		return l, false
	}
	switch hdr[0] {
	case "3":
		for _, f := range hdr[1:] {
			if len(f) < 2 {
				continue
			}
			switch f[0] {
			case 'V':
				v, _ := strconv.ParseUint(f[1:], 10, 32)
				l.validity = uint32(v)
			case 'N':
				v, _ := strconv.ParseUint(f[1:], 10, 32)
				l.next = uint32(v)
			case 'G':
				l.guid = f[1:]
			}
		}
	case "1":
		if len(hdr) < 3 {
			return l, false
		}
		v, _ := strconv.ParseUint(hdr[1], 10, 32)
		n, _ := strconv.ParseUint(hdr[2], 10, 32)
		l.validity, l.next = uint32(v), uint32(n)
	default:
		return l, false
	}
	for _, line := range lines[1:] {
		if line == "" {
			continue
		}
		sp := strings.IndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		uid, err := strconv.ParseUint(line[:sp], 10, 32)
		if err != nil || uid == 0 {
			continue
		}
		rest := line[sp+1:]
		var base string
		if hdr[0] == "3" {
			c := strings.Index(rest, ":")
			if c < 0 {
				continue
			}
			base = rest[c+1:]
		} else {
			base = rest
		}
		base, _ = splitName(base)
		l.uids[base] = uint32(uid)
		if uint32(uid) >= l.next {
			l.next = uint32(uid) + 1
		}
	}
	return l, l.validity != 0
}

func formatUIDList(validity, next uint32, guid string, msgs []*message) []byte {
	b := fmt.Appendf(nil, "3 V%d N%d G%s\n", validity, next, guid)
	for _, m := range msgs {
		b = fmt.Appendf(b, "%d W%d :%s\n", m.uid, m.vsize, m.base)
	}
	return b
}

func parseKeywords(data string) []string {
	var kw []string
	for _, line := range strings.Split(data, "\n") {
		sp := strings.IndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		i, err := strconv.Atoi(line[:sp])
		name := line[sp+1:]
		if err != nil || i < 0 || i >= maxKeywords || !validFlag(name) {
			continue
		}
		for len(kw) <= i {
			kw = append(kw, "")
		}
		kw[i] = name
	}
	return kw
}

func formatKeywords(kw []string) []byte {
	var b []byte
	for i, k := range kw {
		if k != "" {
			b = fmt.Appendf(b, "%d %s\n", i, k)
		}
	}
	return b
}
