package imapsort

import (
	"time"

	"github.com/posthorn/posthorn/mime"
)

// Keys are the SORT and THREAD keys of a message that depend on its header
// alone, computed from the raw header values by NewKeys. A server computes
// them once per message and keeps them with its parse of the message
// (Message.Keys), so that a repeated SORT or THREAD of a large mailbox parses
// no header, decodes no encoded word and folds no case. Keys are immutable
// once made and may be shared between goroutines.
type Keys struct {
	// Sent is the sent date from the Date field, in UTC; zero when Date is
	// missing or unparsable, and the internal date is used (RFC 5256 §2.2).
	Sent time.Time
	// Subject is the base subject (RFC 5256 §2.1) as a CasemapKey;
	// ReplyOrFwd reports whether extracting it removed a reply or forward
	// marker.
	Subject    string
	ReplyOrFwd bool
	// From, To and Cc are the CasemapKeys of the addr-mailbox of the first
	// address (RFC 5256 §3); DisplayFrom and DisplayTo those of RFC 5957.
	From, To, Cc, DisplayFrom, DisplayTo string
	// MessageID is the message's normalised id ("" if none is valid), and
	// References the ids of its References field, or else the first id of
	// its In-Reply-To field (RFC 5256 §4 step 1), for THREAD=REFERENCES.
	MessageID  string
	References []string
}

// NewKeys computes the Keys of m from its header fields (Subject, Date,
// From, To, Cc, MessageID, References, InReplyTo); SeqNum, UID,
// InternalDate, Size, Sent and Keys are not used.
func NewKeys(m *Message) *Keys {
	k := &Keys{}
	if m.Date != "" {
		if t, err := mime.ParseDate(m.Date); err == nil {
			k.Sent = t.UTC()
		}
	}
	base, rf := BaseSubject(m.Subject)
	k.Subject, k.ReplyOrFwd = CasemapKey(base), rf
	if m.From != "" {
		k.From, k.DisplayFrom = addressKeys(m.From)
	}
	if m.To != "" {
		k.To, k.DisplayTo = addressKeys(m.To)
	}
	if m.Cc != "" {
		k.Cc, _ = addressKeys(m.Cc)
	}
	if ids := parseIDs(m.MessageID, nil); len(ids) > 0 {
		k.MessageID = ids[0]
	}
	k.References = parseIDs(m.References, nil)
	if len(k.References) == 0 {
		if refs := parseIDs(m.InReplyTo, nil); len(refs) > 0 {
			k.References = refs[:1:1]
		}
	}
	return k
}

// addressKeys returns the casemapped mailbox key and display key of the
// first address of an address list, parsing it once.
func addressKeys(v string) (mbox, display string) {
	a, ok := firstAddress(v)
	if !ok {
		return "", ""
	}
	switch {
	case a.Group:
		mbox, display = a.Name, a.Name
	case a.Name != "":
		mbox, display = a.Mailbox, a.Name
	case a.Host == "":
		mbox, display = a.Mailbox, a.Mailbox
	default:
		mbox, display = a.Mailbox, a.Mailbox+"@"+a.Host
	}
	return CasemapKey(mbox), CasemapKey(display)
}
