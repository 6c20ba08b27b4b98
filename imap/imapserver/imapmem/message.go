package imapmem

import (
	"io"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/posthorn/posthorn/internal/lineio"
)

// content is the raw message, shared by all copies of it, with the slot
// where the IMAP server caches its parse.
type content struct {
	data   []byte
	parsed atomic.Pointer[parsedBox]
}

type parsedBox struct{ v any }

// ReadAt implements io.ReaderAt.
func (c *content) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if off >= int64(len(c.data)) {
		return 0, io.EOF
	}
	n := copy(p, c.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// message is one message record. It is immutable once in a mailbox: a
// flag change replaces the record (see the package implementation notes).
// What never changes sits behind msgData and the flags behind a
// flagState that the messages a STORE gives the same flags share, so
// that a STORE on a whole mailbox makes 16-byte records.
type message struct {
	*msgData
	*flagState
}

// flagState is a message's flags and mod-sequence (RFC 7162).
type flagState struct {
	modSeq uint64
	flags  []string
}

// msgData is the part of a message record a flag change keeps.
type msgData struct {
	uid  uint32
	date time.Time
	c    *content
}

func (m *message) UID() uint32             { return m.uid }
func (m *message) Flags() []string         { return m.flags }
func (m *message) InternalDate() time.Time { return m.date }
func (m *message) Size() int64             { return int64(len(m.c.data)) }
func (m *message) ModSeq() uint64          { return m.modSeq }
func (m *message) Open() (io.ReaderAt, error) {
	return m.c, nil
}

// LoadParsed and StoreParsed implement imapserver.ParseCache.
func (m *message) LoadParsed() any {
	if b := m.c.parsed.Load(); b != nil {
		return b.v
	}
	return nil
}

func (m *message) StoreParsed(v any) { m.c.parsed.Store(&parsedBox{v}) }

func (m *message) hasFlag(f string) bool { return hasFlag(m.flags, f) }

// systemFlags are spelt canonically whatever case a client used
// (flags are case-insensitive, RFC 9051 §2.3.2).
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

// normFlags canonicalises, removes duplicates and \Recent (which a
// client can never set, RFC 3501 §2.3.2), keeping order.
func normFlags(flags []string) []string {
	out := make([]string, 0, len(flags))
	for _, f := range flags {
		f = canonicalFlag(f)
		if f == "" || strings.EqualFold(f, `\Recent`) || hasFlag(out, f) {
			continue
		}
		out = append(out, f)
	}
	return out
}

// applyFlags computes the flags after a STORE into dst[:0] and reports
// whether they differ from cur. op: 0 set, 1 add, 2 remove.
func applyFlags(dst, cur []string, op uint8, flags []string) ([]string, bool) {
	out := dst[:0]
	switch op {
	case 0: // set
		out = append(out, flags...)
	case 1: // add
		out = append(out, cur...)
		for _, f := range flags {
			if !hasFlag(cur, f) {
				out = append(out, f)
			}
		}
	default: // remove
		for _, f := range cur {
			if !hasFlag(flags, f) {
				out = append(out, f)
			}
		}
	}
	if len(out) != len(cur) {
		return out, true
	}
	for _, f := range out {
		if !hasFlag(cur, f) {
			return out, true
		}
	}
	return out, false
}

// toCRLF returns data with every bare LF (and bare CR) turned into CRLF.
// It returns data itself when nothing needs changing.
func toCRLF(data []byte) []byte {
	// Fast path: every CR and every LF is in a CRLF.
	if lineio.CRLFOnly(data) {
		return data
	}
	bare := 0
	for i, b := range data {
		switch b {
		case '\n':
			if i == 0 || data[i-1] != '\r' {
				bare++
			}
		case '\r':
			if i+1 == len(data) || data[i+1] != '\n' {
				bare++
			}
		}
	}
	if bare == 0 {
		return data
	}
	out := make([]byte, 0, len(data)+bare)
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

// keywords returns the sorted keywords (non-system flags) in use.
func keywords(msgs []*message) []string {
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
