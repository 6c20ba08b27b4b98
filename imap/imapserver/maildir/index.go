package maildir

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
	"unsafe"
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
//	A <uid> <modseq> <date ns> <size> <bits> <"base"> <flag>...   a message
//	B <uid> <modseq> <date ns> <size> <bits> <loc> <"base"> <flag>...
//	                                                   a message with a summary
//	C <uid> <loc>                                      its summary, found later
//	F <modseq> <uid> <flag>...                                    its flags now
//	X <modseq> <uid> <"base"> [<uid> <"base">]...                 expunged
//	U <uidnext> <modseq>                                          counters only
//	S <cur mtime ns> <new mtime ns>                               directories as we left them
//
// <bits> is 1 for a message kept raw, plus 2 when its file is in cur
// (where a message without flags has an empty info ":2,"): with the
// flags, that gives the file's path without listing the directories.
// <loc> is where the message's summary is in the summary cache
// (summary.go): its offset times 2^24 plus its length. Summaries are
// derived data, checked when read and computed again when wrong, so the
// records that point to them need no ordering against the cache's writes.
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
	inCur    bool // A: the file is in cur
	base     string
	flags    []string
	gone     []goneRec // X
	loc      uint64    // A (written as B when not 0), C
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
		if r.inCur {
			raw |= 2
		}
		if r.loc != 0 {
			p = fmt.Appendf(p, "B %d %d %d %d %d %d %s", r.uid, r.modSeq, r.date, r.size, raw, r.loc, strconv.Quote(r.base))
		} else {
			p = fmt.Appendf(p, "A %d %d %d %d %d %s", r.uid, r.modSeq, r.date, r.size, raw, strconv.Quote(r.base))
		}
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
	case 'C':
		p = fmt.Appendf(p, "C %d %d", r.uid, r.loc)
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
	var recs []record
	var p logParser
	good := p.parse(data, func(r *record) {
		c := *r
		c.flags = append([]string(nil), r.flags...)
		recs = append(recs, c)
	})
	return recs, good
}

// logParser parses index records with few allocations: the strings it
// returns are substrings of one copy of the log (a 100,000-message index
// loads in one allocation for all file names), and equal flag lists are
// shared (records never modify a flag list in place).
type logParser struct {
	text  string
	flags map[string][]string
	tok   []string
	rec   record
}

// parse calls fn with each valid record (reused between calls: fn copies
// what it keeps, flags and strings excepted) and returns the length of the
// valid prefix. A line whose checksum does not match, or a last line
// without its newline, ends it (RFC-less, our own format: see above).
func (p *logParser) parse(data []byte, fn func(*record)) int {
	if len(data) == 0 {
		return 0
	}
	// The strings share data's memory (no copy of a 10 MB index): data
	// is never written after, and what outlives the parse is cloned
	// (flag names here, file names and the rest in loadLocked).
	p.text = unsafe.String(&data[0], len(data))
	if p.flags == nil {
		p.flags = map[string][]string{}
	}
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
		sum, ok := hex32(line[:8])
		if !ok || sum != crc32.Checksum(line[9:], crcTable) {
			break
		}
		if !p.record(off+9, off+nl) {
			break
		}
		fn(&p.rec)
		off += nl + 1
	}
	return off
}

func hex32(b []byte) (uint32, bool) {
	var v uint32
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint32(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint32(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// tokens splits p.text[start:end] at spaces; a token starting with `"`
// is a Go quoted string and is returned unquoted.
func (p *logParser) tokens(start, end int) bool {
	p.tok = p.tok[:0]
	s := p.text[start:end]
	for len(s) > 0 {
		if s[0] == '"' {
			// Names without escapes (all of ours) are taken as they are.
			j := strings.IndexByte(s[1:], '"')
			if j >= 0 && strings.IndexByte(s[1:1+j], '\\') < 0 {
				p.tok = append(p.tok, s[1:1+j])
				s = s[j+2:]
			} else {
				q, err := strconv.QuotedPrefix(s)
				if err != nil {
					return false
				}
				v, err := strconv.Unquote(q)
				if err != nil {
					return false
				}
				p.tok = append(p.tok, v)
				s = s[len(q):]
			}
		} else {
			i := strings.IndexByte(s, ' ')
			if i < 0 {
				i = len(s)
			}
			p.tok = append(p.tok, s[:i])
			s = s[i:]
		}
		if len(s) > 0 {
			if s[0] != ' ' {
				return false
			}
			s = s[1:]
		}
	}
	return true
}

// flagList returns the flags t as a shared list.
func (p *logParser) flagList(t []string) []string {
	if len(t) == 0 {
		return nil
	}
	key := strings.Join(t, " ")
	if l, ok := p.flags[key]; ok {
		return l
	}
	l := make([]string, len(t))
	for i, f := range t {
		l[i] = strings.Clone(f) // not a piece of the log's text
	}
	p.flags[key] = l
	return l
}

// atou parses a decimal number of at most 19 digits (no sign).
func atou(s string) (uint64, bool) {
	if len(s) == 0 || len(s) > 19 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			return 0, false
		}
		v = v*10 + uint64(c)
	}
	return v, true
}

// fields reads the space-separated fields of a record in order.
type fields struct {
	s  string
	ok bool
}

func (f *fields) next() string {
	i := strings.IndexByte(f.s, ' ')
	if i < 0 {
		t := f.s
		f.s = ""
		return t
	}
	t := f.s[:i]
	f.s = f.s[i+1:]
	return t
}

func (f *fields) u64() uint64 {
	v, ok := atou(f.next())
	f.ok = f.ok && ok
	return v
}

func (f *fields) u32() uint32 {
	v := f.u64()
	f.ok = f.ok && v <= 1<<32-1
	return uint32(v)
}

func (f *fields) i64() int64 {
	t := f.next()
	neg := strings.HasPrefix(t, "-")
	if neg {
		t = t[1:]
	}
	v, ok := atou(t)
	f.ok = f.ok && ok && v <= 1<<63-1
	if neg {
		return -int64(v)
	}
	return int64(v)
}

// messageRecord parses an A or B record, the bulk of an index, without
// splitting it into tokens first; false sends it to the general parser
// (a name with escapes, or a malformed record, which that rejects).
func (p *logParser) messageRecord(s string) bool {
	f := fields{s: s[2:], ok: true}
	r := &p.rec
	*r = record{kind: 'A'}
	r.uid, r.modSeq, r.date, r.size = f.u32(), f.u64(), f.i64(), f.i64()
	if b := f.next(); len(b) == 1 && b[0] >= '0' && b[0] <= '3' {
		r.raw, r.inCur = (b[0]-'0')&1 != 0, (b[0]-'0')&2 != 0
	} else {
		return false
	}
	if s[0] == 'B' {
		r.loc = f.u64()
	}
	if !f.ok || !strings.HasPrefix(f.s, `"`) {
		return false
	}
	j := strings.IndexByte(f.s[1:], '"')
	if j < 0 || strings.IndexByte(f.s[1:1+j], '\\') >= 0 {
		return false
	}
	r.base = f.s[1 : 1+j]
	rest := f.s[2+j:]
	if rest == "" {
		return true
	}
	if rest[0] != ' ' {
		return false
	}
	rest = rest[1:]
	// Flag lists are shared by their text: most messages have one of a
	// few.
	if l, ok := p.flags[rest]; ok {
		r.flags = l
		return true
	}
	var fl []string
	for _, t := range strings.Split(rest, " ") {
		if t == "" || t[0] == '"' {
			return false
		}
		fl = append(fl, t)
	}
	r.flags = p.flagList(fl)
	p.flags[strings.Clone(rest)] = r.flags
	return true
}

func (p *logParser) record(start, end int) bool {
	if line := p.text[start:end]; len(line) > 2 && (line[0] == 'A' || line[0] == 'B') && line[1] == ' ' && p.messageRecord(line) {
		return true
	}
	return p.generalRecord(start, end)
}

// generalRecord parses any record through tokens.
func (p *logParser) generalRecord(start, end int) bool {
	if !p.tokens(start, end) {
		return false
	}
	t := p.tok
	if len(t) == 0 || len(t[0]) != 1 {
		return false
	}
	p.rec = record{kind: recKind(t[0][0])}
	r := &p.rec
	ok := true
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
			return false
		}
		r.validity, r.uidNext, r.modSeq, r.guid, r.expired = u32(t[1]), u32(t[2]), u64(t[3]), t[4], u64(t[5])
	case 'A':
		if len(t) < 7 {
			return false
		}
		r.uid, r.modSeq, r.date, r.size, r.base = u32(t[1]), u64(t[2]), i64(t[3]), i64(t[4]), t[6]
		r.raw, r.inCur = bits(t[5])
		r.flags = p.flagList(t[7:])
	case 'B':
		if len(t) < 8 {
			return false
		}
		r.kind = 'A'
		r.uid, r.modSeq, r.date, r.size, r.loc, r.base = u32(t[1]), u64(t[2]), i64(t[3]), i64(t[4]), u64(t[6]), t[7]
		r.raw, r.inCur = bits(t[5])
		r.flags = p.flagList(t[8:])
	case 'C':
		if len(t) != 3 {
			return false
		}
		r.uid, r.loc = u32(t[1]), u64(t[2])
	case 'F':
		if len(t) < 3 {
			return false
		}
		r.modSeq, r.uid = u64(t[1]), u32(t[2])
		r.flags = p.flagList(t[3:])
	case 'X':
		if len(t) < 2 || len(t)%2 != 0 {
			return false
		}
		r.modSeq = u64(t[1])
		for i := 2; i+1 < len(t); i += 2 {
			r.gone = append(r.gone, goneRec{u32(t[i]), t[i+1]})
		}
	case 'U':
		if len(t) != 3 {
			return false
		}
		r.uidNext, r.modSeq = u32(t[1]), u64(t[2])
	case 'S':
		if len(t) != 3 {
			return false
		}
		r.date, r.size = i64(t[1]), i64(t[2])
	default:
		return false
	}
	return ok
}

// bits decodes the <bits> of an A record; anything but 0-3 is an older
// writer's "not raw" (only "1" was raw).
func bits(t string) (raw, inCur bool) {
	if len(t) == 1 && t[0] >= '0' && t[0] <= '3' {
		return (t[0]-'0')&1 != 0, (t[0]-'0')&2 != 0
	}
	return false, false
}
