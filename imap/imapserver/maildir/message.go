package maildir

import (
	"bytes"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// message is one message record. Like imapmem's, it is immutable once in
// a mailbox: a flag change replaces the record, so a Message handed to a
// session never changes under it. What a flag change keeps is behind
// msgData, shared by the records of one message.
type message struct {
	*msgData
	*flagState
}

type flagState struct {
	modSeq uint64
	flags  []string
}

type msgData struct {
	uid uint32
	// raw: the file holds the message exactly as served (CRLF files of
	// other writers, and messages that would not survive LF↔CRLF);
	// otherwise line ends are converted to CRLF on reading.
	raw bool
	// inCur: the file is in cur, as far as the index knew it at load
	// (pathLocked); set before the message is shared, then only read.
	inCur bool
	date  time.Time
	vsize int64  // size with CRLF line ends, as IMAP and POP3 see it
	base  string // file name up to the info (":2,...")
	mb    *mailbox
	// path is the file's current path; a flag change or an expunge
	// renames the file and stores the new one. nil when the mailbox was
	// opened without listing its directories: the path then follows from
	// the flags (pathLocked).
	path   atomic.Pointer[string]
	parsed atomic.Pointer[parsedBox]
	// sum is where the message's summary is in the summary cache
	// (summary.go), 0 when it has none yet.
	sum atomic.Uint64
	// decoded is the summary once read, while the store's budget for
	// them lasts (Store.keepSummary).
	decoded atomic.Pointer[imapserver.Summary]
}

// pathLocked returns the message file's path as far as the store knows
// it. The caller holds user.mu.
func (m *message) pathLocked() string {
	if p := m.path.Load(); p != nil {
		return *p
	}
	// Not stored: a path per message would cost more memory than it
	// saves time.
	return m.mb.defaultPath(m.base, m.flags, m.inCur)
}

// inCurNow reports whether the message's file is in cur, as far as the
// store knows. The caller holds user.mu.
func (m *message) inCurNow() bool {
	if p := m.path.Load(); p != nil {
		return filepath.Base(filepath.Dir(*p)) == "cur"
	}
	return m.inCur
}

// curPath is pathLocked for callers without the lock.
func (m *message) curPath() string {
	if p := m.path.Load(); p != nil {
		return *p
	}
	m.mb.u.mu.Lock()
	defer m.mb.u.mu.Unlock()
	return m.pathLocked()
}

type parsedBox struct{ v any }

func (m *message) UID() uint32             { return m.uid }
func (m *message) Flags() []string         { return m.flags }
func (m *message) InternalDate() time.Time { return m.date }
func (m *message) Size() int64             { return m.vsize }
func (m *message) ModSeq() uint64          { return m.modSeq }

// Open returns the message, converting LF to CRLF where the file keeps
// LF, read lazily: only as far as the reader is read (lazyread.go). An
// expunged message stays readable until every session that had it in
// view was told (the file is removed only then), so a session not yet
// told can still open it (RFC 2180 §4.1.1). The first chunk is read
// at once, so a file that cannot be found is an error here.
func (m *message) Open() (io.ReaderAt, error) {
	l := &lazyMsg{m: m}
	l.fill()
	if l.err != nil {
		return nil, l.err
	}
	return l, nil
}

// altPaths are the other places the file at p may be when its path was
// derived rather than listed (a mailbox opened without a scan): new
// without info, cur with an empty info, and any info letters (found by
// listing cur, the last resort).
func (md *msgData) altPaths(p string) []string {
	if p == "" {
		return nil
	}
	mbdir := filepath.Dir(filepath.Dir(p))
	fsys := md.mb.u.s.fs
	alts := []string{filepath.Join(mbdir, "cur", md.base+":2,"), filepath.Join(mbdir, "new", md.base)}
	for _, a := range alts {
		if _, err := fsys.Stat(a); err == nil {
			return []string{a}
		}
	}
	if ents, err := fsys.ReadDir(filepath.Join(mbdir, "cur")); err == nil {
		for _, e := range ents {
			if b, _ := splitName(e.Name()); b == md.base {
				return []string{filepath.Join(mbdir, "cur", e.Name())}
			}
		}
	}
	return nil
}

// LoadParsed and StoreParsed implement imapserver.ParseCache.
func (m *message) LoadParsed() any {
	if b := m.parsed.Load(); b != nil {
		return b.v
	}
	return nil
}

func (m *message) StoreParsed(v any) { m.parsed.Store(&parsedBox{v}) }

func (m *message) hasFlag(f string) bool { return hasFlag(m.flags, f) }

var systemFlags = []string{`\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`}

func canonicalFlag(f string) string {
	if strings.HasPrefix(f, `\`) {
		for _, s := range systemFlags {
			if strings.EqualFold(s, f) {
				return s
			}
		}
	}
	return f
}

func hasFlag(flags []string, f string) bool {
	for _, g := range flags {
		if strings.EqualFold(g, f) {
			return true
		}
	}
	return false
}

// validFlag reports whether f can be kept: an atom (RFC 9051 §9 flag-keyword)
// or a known system flag. Nothing in it can break a record or a file name.
func validFlag(f string) bool {
	if f == "" || len(f) > 256 {
		return false
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c <= 0x20 || c >= 0x7f || strings.IndexByte(`(){%*"]`, c) >= 0 || (c == '\\' && i > 0) {
			return false
		}
	}
	return true
}

// normFlags canonicalises, removes duplicates, \Recent and invalid names.
func normFlags(flags []string) []string {
	out := make([]string, 0, len(flags))
	for _, f := range flags {
		f = canonicalFlag(f)
		if !validFlag(f) || strings.EqualFold(f, `\Recent`) || hasFlag(out, f) {
			continue
		}
		out = append(out, f)
	}
	return out
}

// applyFlags computes the flags after a STORE and whether they changed.
func applyFlags(cur []string, op uint8, flags []string) ([]string, bool) {
	var out []string
	switch op {
	case 0:
		out = append(out, flags...)
	case 1:
		out = append(out, cur...)
		for _, f := range flags {
			if !hasFlag(cur, f) {
				out = append(out, f)
			}
		}
	default:
		for _, f := range cur {
			if !hasFlag(flags, f) {
				out = append(out, f)
			}
		}
	}
	return out, !sameFlags(out, cur)
}

func sameFlags(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, f := range a {
		if !hasFlag(b, f) {
			return false
		}
	}
	return true
}

// Maildir info letters (cr.yp.to/proto/maildir.html, in ASCII order in
// the name). P ("passed") is $Forwarded, as mutt uses it.
var flagLetters = []struct {
	letter byte
	flag   string
}{
	{'D', `\Draft`}, {'F', `\Flagged`}, {'P', `$Forwarded`}, {'R', `\Answered`}, {'S', `\Seen`}, {'T', `\Deleted`},
}

// infoFlags decodes the letters after ":2," with the mailbox's keyword
// table (dovecot-keywords: a is keyword 0, ...).
func infoFlags(letters string, kw []string) []string {
	var out []string
	for i := 0; i < len(letters); i++ {
		c := letters[i]
		switch {
		case c >= 'a' && c <= 'z':
			if j := int(c - 'a'); j < len(kw) && kw[j] != "" && !hasFlag(out, kw[j]) {
				out = append(out, kw[j])
			}
		default:
			for _, fl := range flagLetters {
				if fl.letter == c && !hasFlag(out, fl.flag) {
					out = append(out, fl.flag)
				}
			}
		}
	}
	return out
}

// infoLetters encodes flags as info letters; keywords without a letter
// are left out (the index keeps them).
func infoLetters(flags []string, kw []string) string {
	var b []byte
	for _, fl := range flagLetters {
		if hasFlag(flags, fl.flag) {
			b = append(b, fl.letter)
		}
	}
	for j, k := range kw {
		if k != "" && hasFlag(flags, k) {
			b = append(b, byte('a'+j))
		}
	}
	sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
	return string(b)
}

// representable returns the flags the file name can carry.
func representable(flags []string, kw []string) []string {
	return infoFlags(infoLetters(flags, kw), kw)
}

// splitName splits a Maildir file name into its base and the info
// letters after ":2," (Dovecot and Courier; "" when there is none).
func splitName(name string) (base, letters string) {
	i := strings.IndexByte(name, ':')
	if i < 0 {
		return name, ""
	}
	base = name[:i]
	if strings.HasPrefix(name[i:], ":2,") {
		letters = name[i+3:]
	}
	return base, letters
}

// sizeField returns the value of ",S=" or ",W=" in a base name.
func sizeField(base string, key byte) (int64, bool) {
	tag := "," + string(key) + "="
	i := strings.Index(base, tag)
	if i < 0 {
		return 0, false
	}
	v := base[i+len(tag):]
	if j := strings.IndexAny(v, ",:"); j >= 0 {
		v = v[:j]
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil && n >= 0
}

// toCRLF returns data with every bare LF (and bare CR) turned into CRLF.
func toCRLF(data []byte) []byte {
	crlf := bytes.Count(data, []byte("\r\n"))
	lf := bytes.Count(data, []byte("\n"))
	if crlf == lf && crlf == bytes.Count(data, []byte("\r")) {
		return data
	}
	out := make([]byte, 0, len(data)+lf-crlf+8)
	for i, b := range data {
		switch b {
		case '\n':
			if i == 0 || data[i-1] != '\r' {
				out = append(out, '\r')
			}
			out = append(out, '\n')
		case '\r':
			out = append(out, '\r')
			if i+1 == len(data) || data[i+1] != '\n' {
				out = append(out, '\n')
			}
		default:
			out = append(out, b)
		}
	}
	return out
}

// crlfSize is the size of data once toCRLF converted it.
func crlfSize(data []byte) int64 {
	n := int64(len(data))
	for i, b := range data {
		switch b {
		case '\n':
			if i == 0 || data[i-1] != '\r' {
				n++
			}
		case '\r':
			if i+1 == len(data) || data[i+1] != '\n' {
				n++
			}
		}
	}
	return n
}

// cleanCRLF reports whether data survives CRLF→LF→CRLF unchanged:
// every LF is preceded by CR, every CR followed by LF, and no NUL.
func cleanCRLF(data []byte) bool {
	if bytes.IndexByte(data, 0) >= 0 {
		return false
	}
	crlf := bytes.Count(data, []byte("\r\n"))
	return crlf == bytes.Count(data, []byte("\n")) && crlf == bytes.Count(data, []byte("\r"))
}

// keywordsOf returns the sorted keywords in use.
func keywordsOf(msgs []*message) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range msgs {
		for _, f := range m.flags {
			if !strings.HasPrefix(f, `\`) && !seen[strings.ToLower(f)] {
				seen[strings.ToLower(f)] = true
				out = append(out, f)
			}
		}
	}
	sort.Strings(out)
	return out
}
