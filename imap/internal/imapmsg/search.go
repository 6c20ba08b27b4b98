package imapmsg

import (
	"bytes"
	"strings"
	"time"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/mime"
)

// Meta is what the server knows about a message without reading it: the
// data that flag, UID, sequence-number, size, date and mod-sequence keys
// test.
type Meta struct {
	SeqNum       uint32
	UID          uint32
	Flags        []imap.Flag
	Recent       bool // IMAP4rev1 \Recent (may also be among Flags)
	InternalDate time.Time
	Size         int64  // RFC822.SIZE
	ModSeq       uint64 // 0 when the store keeps none
}

// SearchContext holds the per-search data that sets and relative dates
// need.
type SearchContext struct {
	// MaxSeq and MaxUID give "*" its value: the number of messages and the
	// highest UID in the mailbox (RFC 9051 §9, seq-number).
	MaxSeq, MaxUID uint32
	// SavedUIDs is the result saved by SEARCH RETURN (SAVE), resolved to
	// UIDs, which "$" stands for (RFC 5182 §2.1).
	SavedUIDs imap.NumSet
	// Now is the reference for OLDER and YOUNGER (RFC 5032); zero means
	// time.Now at NewMatcher.
	Now time.Time
}

// Matcher evaluates a search program against messages. Build one per
// SEARCH command with NewMatcher; it is not safe for concurrent use.
type Matcher struct {
	keys      []imap.SearchKey
	ctx       SearchContext
	needs     bool
	needsBody bool // BODY or TEXT
	// lowered needles, by key pointer position
	needles map[*imap.SearchKey]string
	scratch searchScratch // BODY and TEXT buffers (bodysearch.go)
}

// NewMatcher compiles the keys (which must all match, as in
// SearchCriteria.Keys) for evaluation.
func NewMatcher(keys []imap.SearchKey, ctx SearchContext) *Matcher {
	if ctx.Now.IsZero() {
		ctx.Now = time.Now()
	}
	m := &Matcher{keys: keys, ctx: ctx, needles: map[*imap.SearchKey]string{}}
	var walk func(ks []imap.SearchKey)
	walk = func(ks []imap.SearchKey) {
		for i := range ks {
			k := &ks[i]
			if k.Op == imap.SearchBody || k.Op == imap.SearchText {
				m.needsBody = true
			}
			if contentKey(k.Op) {
				m.needs = true
				m.needles[k] = strings.ToLower(k.Value)
			}
			walk(k.Sub)
		}
	}
	walk(keys)
	return m
}

func contentKey(op imap.SearchOp) bool {
	switch op {
	case imap.SearchBcc, imap.SearchBody, imap.SearchCc, imap.SearchFrom, imap.SearchHeader,
		imap.SearchSubject, imap.SearchText, imap.SearchTo,
		imap.SearchSentBefore, imap.SearchSentOn, imap.SearchSentSince:
		return true
	}
	return false
}

// NeedsMessage reports whether some key reads the message's content (a
// server may then prefer an index).
func (m *Matcher) NeedsMessage() bool { return m.needs }

// NeedsBody reports whether some key reads the message's body (BODY,
// TEXT): otherwise a Message of the header alone answers every key.
func (m *Matcher) NeedsBody() bool { return m.needsBody }

// tri is a three-valued truth: content keys are unknown until the message
// is opened.
type tri uint8

const (
	triFalse tri = iota
	triTrue
	triUnknown
)

func triOf(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

// Match reports whether the message matches. open is called at most once,
// and only when metadata alone cannot decide.
func (m *Matcher) Match(meta *Meta, open func() (*Message, error)) (bool, error) {
	if r := m.evalAll(m.keys, meta, nil); r != triUnknown {
		return r == triTrue, nil
	}
	msg, err := open()
	if err != nil {
		return false, err
	}
	c := &content{msg: msg}
	r := m.evalAll(m.keys, meta, c)
	return r == triTrue, c.err
}

func (m *Matcher) evalAll(keys []imap.SearchKey, meta *Meta, c *content) tri {
	res := triTrue
	for i := range keys {
		switch m.eval(&keys[i], meta, c) {
		case triFalse:
			return triFalse
		case triUnknown:
			res = triUnknown
		}
	}
	return res
}

func (m *Matcher) eval(k *imap.SearchKey, meta *Meta, c *content) tri {
	flag := func(f imap.Flag) bool { return imap.HasFlag(meta.Flags, f) }
	recent := meta.Recent || flag(imap.FlagRecent)
	switch k.Op {
	case imap.SearchAll:
		return triTrue
	case imap.SearchAnswered:
		return triOf(flag(imap.FlagAnswered))
	case imap.SearchDeleted:
		return triOf(flag(imap.FlagDeleted))
	case imap.SearchDraft:
		return triOf(flag(imap.FlagDraft))
	case imap.SearchFlagged:
		return triOf(flag(imap.FlagFlagged))
	case imap.SearchSeen:
		return triOf(flag(imap.FlagSeen))
	case imap.SearchRecent:
		return triOf(recent)
	case imap.SearchNew:
		return triOf(recent && !flag(imap.FlagSeen))
	case imap.SearchOld:
		return triOf(!recent)
	case imap.SearchUnanswered:
		return triOf(!flag(imap.FlagAnswered))
	case imap.SearchUndeleted:
		return triOf(!flag(imap.FlagDeleted))
	case imap.SearchUndraft:
		return triOf(!flag(imap.FlagDraft))
	case imap.SearchUnflagged:
		return triOf(!flag(imap.FlagFlagged))
	case imap.SearchUnseen:
		return triOf(!flag(imap.FlagSeen))
	case imap.SearchKeyword:
		return triOf(flag(k.Flag))
	case imap.SearchUnkeyword:
		return triOf(!flag(k.Flag))
	case imap.SearchLarger:
		return triOf(uint64(meta.Size) > k.Num)
	case imap.SearchSmaller:
		return triOf(uint64(meta.Size) < k.Num)
	case imap.SearchBefore, imap.SearchOn, imap.SearchSince:
		return triOf(compareDay(k.Op, meta.InternalDate, k.Date))
	case imap.SearchOlder:
		// RFC 5032 §3: older than the interval.
		return triOf(m.ctx.Now.Sub(meta.InternalDate) > time.Duration(k.Num)*time.Second)
	case imap.SearchYounger:
		// RFC 5032 §3: younger than or equal to the interval.
		return triOf(m.ctx.Now.Sub(meta.InternalDate) <= time.Duration(k.Num)*time.Second)
	case imap.SearchUID:
		if k.Set.SearchRes {
			return triOf(m.ctx.SavedUIDs.Contains(meta.UID, m.ctx.MaxUID))
		}
		return triOf(k.Set.Contains(meta.UID, m.ctx.MaxUID))
	case imap.SearchSeqSet:
		if k.Set.SearchRes {
			return triOf(m.ctx.SavedUIDs.Contains(meta.UID, m.ctx.MaxUID))
		}
		return triOf(k.Set.Contains(meta.SeqNum, m.ctx.MaxSeq))
	case imap.SearchModSeq:
		// RFC 7162 §3.1.5: mod-sequence equal to or greater than the value.
		// Per-flag entries are not tracked separately: the message's
		// mod-sequence stands for all of them.
		return triOf(meta.ModSeq >= k.Num)
	case imap.SearchNot:
		switch m.eval(&k.Sub[0], meta, c) {
		case triTrue:
			return triFalse
		case triFalse:
			return triTrue
		}
		return triUnknown
	case imap.SearchOr:
		a := m.eval(&k.Sub[0], meta, c)
		if a == triTrue {
			return triTrue
		}
		b := m.eval(&k.Sub[1], meta, c)
		if b == triTrue {
			return triTrue
		}
		if a == triFalse && b == triFalse {
			return triFalse
		}
		return triUnknown
	case imap.SearchAnd:
		return m.evalAll(k.Sub, meta, c)
	}
	if c == nil {
		return triUnknown
	}
	return triOf(m.evalContent(k, meta, c))
}

// compareDay compares the calendar dates of t (in its own time zone) and
// day, disregarding time and time zone (RFC 9051 §6.4.4).
func compareDay(op imap.SearchOp, t, day time.Time) bool {
	y, mo, d := t.Date()
	td := time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
	y, mo, d = day.Date()
	dd := time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
	switch op {
	case imap.SearchBefore, imap.SearchSentBefore:
		return td.Before(dd)
	case imap.SearchOn, imap.SearchSentOn:
		return td.Equal(dd)
	default:
		return !td.Before(dd)
	}
}

// content caches what content keys read from one message.
type content struct {
	msg *Message
	err error
}

func (m *Matcher) evalContent(k *imap.SearchKey, meta *Meta, c *content) bool {
	h := &c.msg.root.Header
	needle := m.needles[k]
	switch k.Op {
	case imap.SearchSentBefore, imap.SearchSentOn, imap.SearchSentSince:
		// The Date header's date; without a usable one, the internal date.
		d, err := mime.ParseDate(h.Get("Date"))
		if err != nil {
			d = meta.InternalDate
		}
		return compareDay(k.Op, d, k.Date)
	case imap.SearchFrom:
		return addressContains(h, "From", needle)
	case imap.SearchTo:
		return addressContains(h, "To", needle)
	case imap.SearchCc:
		return addressContains(h, "Cc", needle)
	case imap.SearchBcc:
		return addressContains(h, "Bcc", needle)
	case imap.SearchSubject:
		if c.msg.enc != nil && needle != "" && strings.IndexByte(needle, 0) < 0 {
			return strings.Contains(c.msg.enc.searchSubject(h), needle)
		}
		return headerContains(h, "Subject", needle)
	case imap.SearchHeader:
		return headerContains(h, k.Field, needle)
	case imap.SearchBody:
		ok, err := c.msg.bodyContains(c.msg.root, needle, &m.scratch)
		if err != nil && c.err == nil {
			c.err = err
		}
		return ok
	case imap.SearchText:
		if headerContains(h, "", needle) {
			return true
		}
		ok, err := c.msg.bodyContains(c.msg.root, needle, &m.scratch)
		if err != nil && c.err == nil {
			c.err = err
		}
		return ok
	}
	return false
}

// searchSubject returns the Subject fields of h as headerContains's slow
// path compares them (encoded words decoded, lower case), NUL-separated,
// computed once per message: SUBJECT is the most searched header key, and
// decoding is most of its cost. (A search string never holds NUL: CHAR and
// CHAR8 of RFC 9051 §9 exclude it from quoted strings and literals.)
func (e *Encoded) searchSubject(h *mime.Header) string {
	if p := e.subject.Load(); p != nil {
		return *p
	}
	var b strings.Builder
	for _, f := range h.Fields() {
		if f.Key == "" || !strings.EqualFold(f.Key, "Subject") {
			continue
		}
		v := f.Value()
		if strings.Contains(v, "=?") {
			v, _ = mime.DecodeWords(v)
		}
		if b.Len() > 0 {
			b.WriteByte(0)
		}
		b.WriteString(strings.ToLower(v))
	}
	s := b.String()
	e.subject.Store(&s)
	return s
}

// headerContains reports whether a field named name (every field when
// name is "") contains needle (lower case) after decoding encoded words,
// case-insensitively. An empty needle matches when the field exists
// (RFC 9051 §6.4.4, HEADER).
// addressContains is headerContains for an address field (FROM, TO, CC,
// BCC), which also matches the addresses as parsed when the field holds
// comments: "user (c)@ (c) example.org" is user@example.org, as its
// ENVELOPE says, and a SEARCH FROM for that address finds it (as
// Dovecot's does). Comments are rare, so the parse is too.
func addressContains(h *mime.Header, name, needle string) bool {
	if headerContains(h, name, needle) {
		return true
	}
	for _, f := range h.Fields() {
		if !strings.EqualFold(f.Key, name) || bytes.IndexByte(f.Raw, '(') < 0 {
			continue
		}
		for _, a := range parseAddressList(f.Value()) {
			if a.Host == "" || a.Host == missingDomain {
				continue // group markers; no address to spell
			}
			if strings.Contains(strings.ToLower(a.Mailbox+"@"+a.Host), needle) {
				return true
			}
		}
	}
	return false
}

func headerContains(h *mime.Header, name, needle string) bool {
	// Fast path (see bodysearch.go): an ASCII needle against a one-line
	// value without encoded words is searched in place. A match across
	// "Key: value" contains the ':' or starts with the space after it,
	// which keeps to the slow path.
	fast := needle != "" && isASCII(needle) && !(name == "" && (strings.IndexByte(needle, ':') >= 0 || needle[0] == ' '))
	for _, f := range h.Fields() {
		if f.Key == "" || (name != "" && !strings.EqualFold(f.Key, name)) {
			continue
		}
		if needle == "" {
			return true
		}
		if fast {
			if v, ok := plainValue(f.Raw); ok && (name != "" || isASCII(f.Key)) {
				if containsFoldASCII(v, needle) || name == "" && containsFoldASCII([]byte(f.Key), needle) {
					return true
				}
				if !hasASCIILowering(v, needle) {
					continue
				}
			}
		}
		v := f.Value()
		if strings.Contains(v, "=?") {
			v, _ = mime.DecodeWords(v)
		}
		if name == "" {
			v = f.Key + ": " + v
		}
		if strings.Contains(strings.ToLower(v), needle) {
			return true
		}
	}
	return false
}
