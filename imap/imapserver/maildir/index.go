package maildir

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

// The index of a mailbox is the file "posthorn-index" in its directory:
// an append-only log of text records, one per line, each line
//
//	<crc32c of the payload, 8 hex digits> <payload>\n
//
// A line whose checksum does not match, or a last line without its
// newline, is a write torn by a crash: the log is cut there when the
// mailbox is opened, and everything before it holds. Payloads:
//
//	H <uidvalidity> <uidnext> <highestmodseq> <guid> <expiredto>   first record
//	A <uid> <modseq> <date ns> <size> <raw 0|1> <"base"> <flag>...   a message
//	F <modseq> <uid> <flag>...                                    its flags now
//	X <modseq> <uid> <"base"> [<uid> <"base">]...                 expunged
//	U <uidnext> <modseq>                                          counters only
//	S <cur mtime ns> <new mtime ns>                               directories as we left them
//
// An S record last in the log says that nothing changed since but what
// the directories' times show: when they still match, the mailbox opens
// without listing cur and new.
//
// The log is rewritten (new file, fsync, rename, fsync of the directory)
// when it holds many more records than messages, keeping one A record
// per message and the expunge history (X records, without the file names
// once the files are known gone).
const indexName = "posthorn-index"

var crcTable = crc32.MakeTable(crc32.Castagnoli)

type recKind byte

type record struct {
	kind     recKind
	uid      uint32
	uidNext  uint32
	validity uint32
	modSeq   uint64
	expired  uint64
	guid     string
	date     int64
	size     int64
	raw      bool
	base     string
	flags    []string
	gone     []goneRec // X
}

type goneRec struct {
	uid  uint32
	base string
}

func appendRecord(buf []byte, r *record) []byte {
	var p []byte
	switch r.kind {
	case 'H':
		p = fmt.Appendf(p, "H %d %d %d %s %d", r.validity, r.uidNext, r.modSeq, r.guid, r.expired)
	case 'A':
		raw := 0
		if r.raw {
			raw = 1
		}
		p = fmt.Appendf(p, "A %d %d %d %d %d %s", r.uid, r.modSeq, r.date, r.size, raw, strconv.Quote(r.base))
		for _, f := range r.flags {
			p = append(p, ' ')
			p = append(p, f...)
		}
	case 'F':
		p = fmt.Appendf(p, "F %d %d", r.modSeq, r.uid)
		for _, f := range r.flags {
			p = append(p, ' ')
			p = append(p, f...)
		}
	case 'X':
		p = fmt.Appendf(p, "X %d", r.modSeq)
		for _, g := range r.gone {
			p = fmt.Appendf(p, " %d %s", g.uid, strconv.Quote(g.base))
		}
	case 'U':
		p = fmt.Appendf(p, "U %d %d", r.uidNext, r.modSeq)
	case 'S':
		p = fmt.Appendf(p, "S %d %d", r.date, r.size)
	}
	buf = fmt.Appendf(buf, "%08x ", crc32.Checksum(p, crcTable))
	buf = append(buf, p...)
	return append(buf, '\n')
}

// parseLog parses a log and returns the records and the length of the
// valid prefix.
func parseLog(data []byte) ([]record, int) {
	recs := make([]record, 0, bytes.Count(data, []byte{'\n'}))
	off := 0
	for off < len(data) {
		nl := bytes.IndexByte(data[off:], '\n')
		if nl < 0 {
			break // torn last line
		}
		line := data[off : off+nl]
		if len(line) < 10 || line[8] != ' ' {
			break
		}
		sum, err := strconv.ParseUint(string(line[:8]), 16, 32)
		if err != nil || uint32(sum) != crc32.Checksum(line[9:], crcTable) {
			break
		}
		r, ok := parseRecord(string(line[9:]))
		if !ok {
			break
		}
		recs = append(recs, r)
		off += nl + 1
	}
	return recs, off
}

// tokens splits a payload at spaces; a token starting with `"` is a Go
// quoted string and is returned unquoted.
func tokens(s string) ([]string, bool) {
	out := make([]string, 0, strings.Count(s, " ")+1)
	for len(s) > 0 {
		if s[0] == '"' {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return nil, false
			}
			v, err := strconv.Unquote(q)
			if err != nil {
				return nil, false
			}
			out = append(out, v)
			s = s[len(q):]
		} else {
			i := strings.IndexByte(s, ' ')
			if i < 0 {
				i = len(s)
			}
			out = append(out, s[:i])
			s = s[i:]
		}
		if len(s) > 0 {
			if s[0] != ' ' {
				return nil, false
			}
			s = s[1:]
		}
	}
	return out, true
}

func parseRecord(p string) (record, bool) {
	t, ok := tokens(p)
	if !ok || len(t) == 0 || len(t[0]) != 1 {
		return record{}, false
	}
	r := record{kind: recKind(t[0][0])}
	u32 := func(s string) uint32 {
		v, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			ok = false
		}
		return uint32(v)
	}
	u64 := func(s string) uint64 {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			ok = false
		}
		return v
	}
	i64 := func(s string) int64 {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			ok = false
		}
		return v
	}
	switch r.kind {
	case 'H':
		if len(t) != 6 {
			return r, false
		}
		r.validity, r.uidNext, r.modSeq, r.guid, r.expired = u32(t[1]), u32(t[2]), u64(t[3]), t[4], u64(t[5])
	case 'A':
		if len(t) < 7 {
			return r, false
		}
		r.uid, r.modSeq, r.date, r.size, r.raw, r.base = u32(t[1]), u64(t[2]), i64(t[3]), i64(t[4]), t[5] == "1", t[6]
		r.flags = t[7:]
	case 'F':
		if len(t) < 3 {
			return r, false
		}
		r.modSeq, r.uid = u64(t[1]), u32(t[2])
		r.flags = t[3:]
	case 'X':
		if len(t) < 2 || len(t)%2 != 0 {
			return r, false
		}
		r.modSeq = u64(t[1])
		for i := 2; i+1 < len(t); i += 2 {
			r.gone = append(r.gone, goneRec{u32(t[i]), t[i+1]})
		}
	case 'U':
		if len(t) != 3 {
			return r, false
		}
		r.uidNext, r.modSeq = u32(t[1]), u64(t[2])
	case 'S':
		if len(t) != 3 {
			return r, false
		}
		r.date, r.size = i64(t[1]), i64(t[2])
	default:
		return r, false
	}
	return r, ok
}
