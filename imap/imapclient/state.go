package imapclient

import (
	"strconv"
	"strings"

	"github.com/posthorn/posthorn/imap"
)

// Handler receives unsolicited server data. Its functions run in the
// client's reader goroutine, one at a time and in the order the server
// sent the data; they must return quickly and must not call the Client's
// command methods (which would wait for the reader they block). A nil
// function ignores that kind of data.
//
// EXISTS, EXPUNGE and VANISHED responses reach the handler whatever
// command was running when they arrived, except while SELECT or EXAMINE is
// opening a mailbox (their data describes the new mailbox and is returned
// by Select). FETCH responses go to a running FETCH, STORE or SELECT
// command when there is one, and to Fetch otherwise.
type Handler struct {
	// Exists reports the number of messages in the selected mailbox
	// (RFC 9051 §7.4.1).
	Exists func(n uint32)
	// Expunge reports that the message with sequence number seq was
	// removed; later messages moved down by one (RFC 9051 §7.5.1).
	Expunge func(seq uint32)
	// Vanished reports removed UIDs (RFC 7162 §3.2.10); earlier is set
	// for VANISHED (EARLIER), which does not change sequence numbers.
	Vanished func(uids imap.UIDSet, earlier bool)
	// Fetch reports unsolicited FETCH data, usually flag changes made by
	// another session.
	Fetch func(msg *FetchMessageBuffer)
	// Alert reports text the server wants the user to see
	// (RFC 9051 §7.1, ALERT).
	Alert func(text string)
	// Bye reports that the server is closing the connection.
	Bye func(err *imap.Error)
	// ParseError reports an untagged response that could not be parsed
	// and was skipped up to its end (see ParseError); the connection
	// goes on.
	ParseError func(err *ParseError)
}

// MailboxState is what the client knows about the selected mailbox: the
// data of SELECT or EXAMINE, kept up to date with EXISTS, EXPUNGE,
// VANISHED and response codes that arrive later.
type MailboxState struct {
	Name     string
	ReadOnly bool
	// NumMessages is the number of messages (EXISTS).
	NumMessages    uint32
	Recent         uint32 // IMAP4rev1 only
	Flags          []imap.Flag
	PermanentFlags []imap.Flag
	UIDValidity    uint32
	UIDNext        uint32
	FirstUnseen    uint32 // IMAP4rev1 UNSEEN code
	// HighestModSeq is the mailbox's highest mod-sequence (RFC 7162), 0
	// when the server does not keep them (NOMODSEQ).
	HighestModSeq uint64
	NoModSeq      bool
}

func (m *MailboxState) clone() *MailboxState {
	if m == nil {
		return nil
	}
	n := *m
	n.Flags = append([]imap.Flag(nil), m.Flags...)
	n.PermanentFlags = append([]imap.Flag(nil), m.PermanentFlags...)
	return &n
}

// Mailbox returns a copy of the selected mailbox's state, or nil when no
// mailbox is selected.
func (c *Client) Mailbox() *MailboxState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mbox.clone()
}

// applyCode records a response code that describes a mailbox
// (RFC 9051 §7.1, RFC 7162 §3.1.2.1).
func applyCode(m *MailboxState, r *statusResp) {
	switch r.code {
	case imap.CodeUIDValidity:
		if n, err := strconv.ParseUint(r.arg, 10, 32); err == nil {
			m.UIDValidity = uint32(n)
		}
	case imap.CodeUIDNext:
		if n, err := strconv.ParseUint(r.arg, 10, 32); err == nil {
			m.UIDNext = uint32(n)
		}
	case imap.CodeUnseen:
		if n, err := strconv.ParseUint(r.arg, 10, 32); err == nil {
			m.FirstUnseen = uint32(n)
		}
	case imap.CodeHighestModSeq:
		if n, err := strconv.ParseUint(r.arg, 10, 64); err == nil {
			m.HighestModSeq = n
		}
	case imap.CodeNoModSeq:
		m.NoModSeq = true
	case imap.CodePermanentFlags:
		m.PermanentFlags = parseFlagArg(r.arg)
	case imap.CodeReadOnly:
		m.ReadOnly = true
	case imap.CodeReadWrite:
		m.ReadOnly = false
	}
}

// parseFlagArg parses "(\Seen \*)" from a response code argument.
func parseFlagArg(s string) []imap.Flag {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "(")
	s = strings.TrimSuffix(s, ")")
	var flags []imap.Flag
	for _, f := range strings.Fields(s) {
		flags = append(flags, imap.Flag(f).Canonical())
	}
	return flags
}

// mailboxTarget returns the state that untagged mailbox data updates: that
// of a SELECT in progress, else the selected mailbox's. The second result
// is true when it is the selected mailbox (so the handler is told). The
// caller holds c.mu.
func (c *Client) mailboxTargetLocked() (*MailboxState, bool) {
	for _, cmd := range c.pending {
		if cmd.selecting != nil {
			return cmd.selecting, false
		}
	}
	return c.mbox, c.mbox != nil
}
