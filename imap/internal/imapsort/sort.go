package imapsort

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/posthorn/posthorn/mime"
)

// Message is what SORT and THREAD need to know about one message. Header
// values are the raw, unfolded field values as found in the message (encoded
// words and all); an absent field is the empty string. Callers fill only the
// fields their criteria use.
type Message struct {
	SeqNum       uint32    // message sequence number; the implicit last sort key (RFC 5256 §3)
	UID          uint32    // unique identifier, for UID SORT and UID THREAD output
	InternalDate time.Time // INTERNALDATE: ARRIVAL, and the sent date when Date is unusable
	Size         int64     // RFC822.SIZE: the SIZE criterion

	Subject    string // SUBJECT criterion, THREAD base subjects
	Date       string // DATE criterion, THREAD sent dates (RFC 5256 §2.2)
	From       string // FROM and DISPLAYFROM criteria
	To         string // TO and DISPLAYTO criteria
	Cc         string // CC criterion
	MessageID  string // THREAD=REFERENCES
	References string // THREAD=REFERENCES
	InReplyTo  string // THREAD=REFERENCES, used when References has no id

	// Sent, if not zero, is the message's sent date as SentDate computed
	// it before, so that a server caching it per message saves parsing Date
	// on every SORT (DATE) and THREAD.
	Sent time.Time

	// Keys, if not nil, are the message's header keys as NewKeys computed
	// them before; the header fields above are then not used.
	Keys *Keys
}

// SentDate returns the sent date of m (RFC 5256 §2.2): m.Sent if set, else
// its Date field in UTC, or its internal date when Date is missing or cannot
// be parsed.
func (m *Message) SentDate() time.Time {
	if !m.Sent.IsZero() {
		return m.Sent
	}
	if m.Keys != nil {
		if !m.Keys.Sent.IsZero() {
			return m.Keys.Sent
		}
		return m.InternalDate.UTC()
	}
	if m.Date != "" {
		if t, err := mime.ParseDate(m.Date); err == nil {
			return t.UTC()
		}
	}
	return m.InternalDate.UTC()
}

// Key is a SORT criterion (RFC 5256 §3, RFC 5957).
type Key int

// The sort keys.
const (
	Arrival     Key = iota + 1 // ARRIVAL: internal date and time
	Cc                         // CC: addr-mailbox of the first Cc address
	Date                       // DATE: sent date (RFC 5256 §2.2)
	From                       // FROM: addr-mailbox of the first From address
	Size                       // SIZE: size in octets
	Subject                    // SUBJECT: base subject (RFC 5256 §2.1)
	To                         // TO: addr-mailbox of the first To address
	DisplayFrom                // DISPLAYFROM (RFC 5957 §3): display name of the first From address, else its address
	DisplayTo                  // DISPLAYTO (RFC 5957 §3): display name of the first To address, else its address
)

var keyNames = [...]string{"", "ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"}

// String returns the criterion's name as written in the SORT command.
func (k Key) String() string {
	if k > 0 && int(k) < len(keyNames) {
		return keyNames[k]
	}
	return "Key(?)"
}

// ParseKey returns the Key named name (case-insensitive), and false if there
// is none.
func ParseKey(name string) (Key, bool) {
	for i := 1; i < len(keyNames); i++ {
		if Compare(name, keyNames[i]) == 0 {
			return Key(i), true
		}
	}
	return 0, false
}

// Criterion is one sort criterion; Reverse is the REVERSE prefix, which
// reverses that criterion only (RFC 5256 §3).
type Criterion struct {
	Key     Key
	Reverse bool
}

// step is one comparison of a sort plan: a string key or a number key at
// offset off of a message's keys.
type step struct {
	str     bool
	off     int
	reverse bool
}

// Sort returns msgs ordered by the criteria (RFC 5256 §3): ascending,
// each criterion in turn, ties broken by sequence number. msgs is not
// modified; the result holds pointers into it. Strings collate with
// i;ascii-casemap and the empty string (absent field) first. An unknown Key
// sorts as equal for all messages.
//
// The keys of every message are computed once, into flat arrays, and an
// index permutation is sorted, so a comparison touches no header text.
func Sort(msgs []Message, criteria []Criterion) []*Message {
	if len(criteria) == 1 {
		return sortOne(msgs, criteria[0])
	}
	var plan []step
	nstr, nnum := 0, 0
	for _, c := range criteria {
		switch c.Key {
		case Arrival, Date:
			// Seconds, then nanoseconds: no overflow for any year.
			plan = append(plan, step{off: nnum, reverse: c.Reverse}, step{off: nnum + 1, reverse: c.Reverse})
			nnum += 2
		case Size:
			plan = append(plan, step{off: nnum, reverse: c.Reverse})
			nnum++
		default:
			plan = append(plan, step{str: true, off: nstr, reverse: c.Reverse})
			nstr++
		}
	}
	n := len(msgs)
	strs := make([]string, n*nstr)
	nums := make([]int64, n*nnum)
	idx := make([]int32, n)
	for i := range msgs {
		m := &msgs[i]
		idx[i] = int32(i)
		str, num := strs[i*nstr:i*nstr], nums[i*nnum:i*nnum]
		for _, c := range criteria {
			switch c.Key {
			case Arrival:
				num = append(num, m.InternalDate.Unix(), int64(m.InternalDate.Nanosecond()))
			case Date:
				t := m.SentDate()
				num = append(num, t.Unix(), int64(t.Nanosecond()))
			case Size:
				num = append(num, m.Size)
			default:
				str = append(str, stringKey(m, c.Key))
			}
		}
	}
	slices.SortFunc(idx, func(a, b int32) int {
		for _, st := range plan {
			var r int
			if st.str {
				r = strings.Compare(strs[int(a)*nstr+st.off], strs[int(b)*nstr+st.off])
			} else {
				r = cmp.Compare(nums[int(a)*nnum+st.off], nums[int(b)*nnum+st.off])
			}
			if r != 0 {
				if st.reverse {
					return -r
				}
				return r
			}
		}
		// RFC 5256 §3: the implicit last criterion, never reversed.
		return cmp.Compare(msgs[a].SeqNum, msgs[b].SeqNum)
	})
	out := make([]*Message, n)
	for i, j := range idx {
		out[i] = &msgs[j]
	}
	return out
}

// firstAddress returns the first address of an address list. A value
// that does not parse as one but holds a lone word, as "From: d" does,
// is a domain-less address with that word as its mailbox, as ENVELOPE
// reads it (MISSING_DOMAIN) and Dovecot sorts it: by "d", not first.
func firstAddress(v string) (*mime.Address, bool) {
	addrs, _ := mime.ParseAddressList(v)
	if len(addrs) > 0 {
		return addrs[0], true
	}
	w := strings.TrimSpace(v)
	if i := strings.IndexAny(w, ",;"); i >= 0 {
		w = strings.TrimSpace(w[:i])
	}
	w = strings.TrimSuffix(strings.TrimPrefix(w, "<"), ">")
	if w == "" || strings.ContainsAny(w, " \t\"()<>@:") {
		return nil, false
	}
	return &mime.Address{Mailbox: w}, true
}

// mailboxKey returns the addr-mailbox (local part) of the first address in
// an address list (RFC 5256 §3), the group name for a group (as in the
// ENVELOPE's group-start address), or "" when there is none.
func mailboxKey(v string) string {
	if v == "" {
		return ""
	}
	a, ok := firstAddress(v)
	if !ok {
		return ""
	}
	if a.Group {
		return a.Name
	}
	return a.Mailbox
}

// displayKey returns the RFC 5957 §3 sort key of the first address: its
// display name (decoded) if it has one, else "mailbox@host".
func displayKey(v string) string {
	if v == "" {
		return ""
	}
	a, ok := firstAddress(v)
	if !ok {
		return ""
	}
	if a.Name != "" || a.Group {
		return a.Name
	}
	if a.Host == "" {
		return a.Mailbox
	}
	return a.Mailbox + "@" + a.Host
}

// Numbers returns the sequence numbers (uid false) or UIDs (uid true) of
// msgs, in order: the data of a SORT or UID SORT response.
func Numbers(msgs []*Message, uid bool) []uint32 {
	out := make([]uint32, len(msgs))
	for i, m := range msgs {
		if uid {
			out[i] = m.UID
		} else {
			out[i] = m.SeqNum
		}
	}
	return out
}

// sortOne is Sort for one criterion, the common case: the keys sit next to
// the sequence number in one flat record, so a comparison touches one cache
// line and calls no plan.
func sortOne(msgs []Message, c Criterion) []*Message {
	out := make([]*Message, len(msgs))
	switch c.Key {
	case Arrival, Date, Size:
		type rec struct {
			a   int64
			b   int32
			seq uint32
			i   int32
		}
		recs := make([]rec, len(msgs))
		for i := range msgs {
			m := &msgs[i]
			r := rec{seq: m.SeqNum, i: int32(i)}
			switch c.Key {
			case Arrival:
				r.a, r.b = m.InternalDate.Unix(), int32(m.InternalDate.Nanosecond())
			case Date:
				t := m.SentDate()
				r.a, r.b = t.Unix(), int32(t.Nanosecond())
			case Size:
				r.a = m.Size
			}
			recs[i] = r
		}
		slices.SortFunc(recs, func(x, y rec) int {
			r := cmp.Compare(x.a, y.a)
			if r == 0 {
				r = cmp.Compare(x.b, y.b)
			}
			if c.Reverse {
				r = -r
			}
			if r == 0 {
				return cmp.Compare(x.seq, y.seq) // never reversed (RFC 5256 §3)
			}
			return r
		})
		for i, r := range recs {
			out[i] = &msgs[r.i]
		}
		return out
	}
	for i, j := range sortStrings(msgs, c.Key, c.Reverse) {
		out[i] = &msgs[j]
	}
	return out
}

// sortStrings returns the indexes of msgs ordered by a string criterion,
// ties broken by sequence number.
func sortStrings(msgs []Message, k Key, reverse bool) []int32 {
	// The first 32 octets of each key, big-endian in four integers, decide
	// most comparisons without reading the key's bytes elsewhere in memory
	// (subjects often share a long prefix: "Quarterly report for ...").
	// The records hold no pointer, so the sort moves them without write
	// barriers; the keys themselves are looked up only on a tie.
	type rec struct {
		p   [4]uint64
		seq uint32
		i   int32
	}
	keys := make([]string, len(msgs))
	recs := make([]rec, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		key := stringKey(m, k)
		keys[i] = key
		r := rec{seq: m.SeqNum, i: int32(i)}
		for j := range r.p {
			r.p[j] = prefix64(key[min(8*j, len(key)):])
		}
		recs[i] = r
	}
	slices.SortFunc(recs, func(x, y rec) int {
		r := 0
		for j := 0; r == 0 && j < len(x.p); j++ {
			r = cmp.Compare(x.p[j], y.p[j])
		}
		if r == 0 {
			r = strings.Compare(keys[x.i], keys[y.i])
		}
		if reverse {
			r = -r
		}
		if r == 0 {
			return cmp.Compare(x.seq, y.seq)
		}
		return r
	})
	idx := make([]int32, len(recs))
	for i, r := range recs {
		idx[i] = r.i
	}
	return idx
}

// stringKey returns the collation key of a string criterion.
func stringKey(m *Message, k Key) string {
	if c := m.Keys; c != nil {
		switch k {
		case Subject:
			return c.Subject
		case From:
			return c.From
		case To:
			return c.To
		case Cc:
			return c.Cc
		case DisplayFrom:
			return c.DisplayFrom
		case DisplayTo:
			return c.DisplayTo
		}
		return ""
	}
	switch k {
	case Subject:
		base, _ := BaseSubject(m.Subject)
		return CasemapKey(base)
	case From:
		return CasemapKey(mailboxKey(m.From))
	case To:
		return CasemapKey(mailboxKey(m.To))
	case Cc:
		return CasemapKey(mailboxKey(m.Cc))
	case DisplayFrom:
		return CasemapKey(displayKey(m.From))
	case DisplayTo:
		return CasemapKey(displayKey(m.To))
	}
	return ""
}

// prefix64 returns the first 8 octets of s as a big-endian number, padded
// with zeros: prefixes order as the strings do, up to ties.
func prefix64(s string) uint64 {
	var v uint64
	for i := 0; i < 8; i++ {
		v <<= 8
		if i < len(s) {
			v |= uint64(s[i])
		}
	}
	return v
}
