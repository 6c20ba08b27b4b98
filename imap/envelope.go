package imap

// Envelope is the ENVELOPE of a message (RFC 9051 §7.5.2): header fields
// as written in the message, without decoding of encoded words. An empty
// string is sent as NIL.
type Envelope struct {
	Date    string // Date header field, raw
	Subject string // Subject header field, raw
	From    []Address
	// Sender and ReplyTo default to From when the header field is absent
	// or empty; the server fills them in (RFC 9051 §7.5.2).
	Sender    []Address
	ReplyTo   []Address
	To        []Address
	Cc        []Address
	Bcc       []Address
	InReplyTo string // In-Reply-To header field, raw
	MessageID string // Message-ID header field, raw
}

// Address is one element of an ENVELOPE address list (RFC 9051 §7.5.2).
// Group syntax (RFC 5322 §3.4) is flattened as the RFC says: a group
// start has an empty Host and the group name in Mailbox; a group end has
// both Mailbox and Host empty. An empty string is sent as NIL.
type Address struct {
	Name    string // display name, raw (may hold encoded words)
	ADL     string // source route (obsolete), usually empty
	Mailbox string // local part, or group name for a group start
	Host    string // domain; empty only in group markers
}

// IsGroupStart reports whether a opens a group (RFC 9051 §7.5.2).
func (a Address) IsGroupStart() bool { return a.Host == "" && a.Mailbox != "" }

// IsGroupEnd reports whether a closes a group.
func (a Address) IsGroupEnd() bool { return a.Host == "" && a.Mailbox == "" }

// Addr returns "mailbox@host", or "" for a group marker.
func (a Address) Addr() string {
	if a.Host == "" {
		return ""
	}
	return a.Mailbox + "@" + a.Host
}
