package imapsort

import (
	"cmp"
	"slices"
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
}

// SentDate returns the sent date of m (RFC 5256 §2.2): its Date field in
// UTC, or its internal date when Date is missing or cannot be parsed.
func (m *Message) SentDate() time.Time {
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

// sortKeys holds the precomputed keys of one message for one SORT.
type sortKeys struct {
	m     *Message
	str   []string
	times []time.Time
}

// Sort returns msgs ordered by the criteria (RFC 5256 §3): ascending,
// each criterion in turn, ties broken by sequence number. msgs is not
// modified; the result holds pointers into it. Strings collate with
// i;ascii-casemap and the empty string (absent field) first. An unknown Key
// sorts as equal for all messages.
func Sort(msgs []Message, criteria []Criterion) []*Message {
	keys := make([]sortKeys, len(msgs))
	nstr, ntime := 0, 0
	for _, c := range criteria {
		switch c.Key {
		case Arrival, Date:
			ntime++
		case Size:
		default:
			nstr++
		}
	}
	strs := make([]string, len(msgs)*nstr)
	times := make([]time.Time, len(msgs)*ntime)
	for i := range msgs {
		m := &msgs[i]
		k := &keys[i]
		k.m = m
		k.str = strs[i*nstr : i*nstr : (i+1)*nstr]
		k.times = times[i*ntime : i*ntime : (i+1)*ntime]
		for _, c := range criteria {
			switch c.Key {
			case Arrival:
				k.times = append(k.times, m.InternalDate)
			case Date:
				k.times = append(k.times, m.SentDate())
			case Size:
			case Subject:
				base, _ := BaseSubject(m.Subject)
				k.str = append(k.str, CasemapKey(base))
			case From:
				k.str = append(k.str, CasemapKey(mailboxKey(m.From)))
			case To:
				k.str = append(k.str, CasemapKey(mailboxKey(m.To)))
			case Cc:
				k.str = append(k.str, CasemapKey(mailboxKey(m.Cc)))
			case DisplayFrom:
				k.str = append(k.str, CasemapKey(displayKey(m.From)))
			case DisplayTo:
				k.str = append(k.str, CasemapKey(displayKey(m.To)))
			default:
				k.str = append(k.str, "")
			}
		}
	}
	slices.SortFunc(keys, func(a, b sortKeys) int {
		si, ti := 0, 0
		for _, c := range criteria {
			var r int
			switch c.Key {
			case Arrival, Date:
				r = a.times[ti].Compare(b.times[ti])
				ti++
			case Size:
				r = cmp.Compare(a.m.Size, b.m.Size)
			default:
				r = cmp.Compare(a.str[si], b.str[si])
				si++
			}
			if r != 0 {
				if c.Reverse {
					return -r
				}
				return r
			}
		}
		// RFC 5256 §3: the implicit last criterion, never reversed.
		return cmp.Compare(a.m.SeqNum, b.m.SeqNum)
	})
	out := make([]*Message, len(keys))
	for i := range keys {
		out[i] = keys[i].m
	}
	return out
}

// mailboxKey returns the addr-mailbox (local part) of the first address in
// an address list (RFC 5256 §3), the group name for a group (as in the
// ENVELOPE's group-start address), or "" when there is none.
func mailboxKey(v string) string {
	if v == "" {
		return ""
	}
	addrs, _ := mime.ParseAddressList(v)
	if len(addrs) == 0 {
		return ""
	}
	a := addrs[0]
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
	addrs, _ := mime.ParseAddressList(v)
	if len(addrs) == 0 {
		return ""
	}
	a := addrs[0]
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
