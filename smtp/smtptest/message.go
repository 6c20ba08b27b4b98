package smtptest

import (
	"bytes"
	"net"
	"strings"
	"time"

	"github.com/posthorn/posthorn/mime"
	"github.com/posthorn/posthorn/smtp"
)

// Message is one accepted mail transaction: its envelope, the session it
// came in, its bytes and a parsed view of them.
type Message struct {
	// From is the reverse path, "" for the null sender (a bounce).
	From string
	// To are the recipients accepted at RCPT, in order.
	To []string
	// MailOptions are the MAIL parameters (SIZE, BODY, SMTPUTF8, RET,
	// ENVID, AUTH, REQUIRETLS).
	MailOptions smtp.MailOptions
	// RcptOptions are each recipient's parameters (NOTIFY, ORCPT), in the
	// order of To.
	RcptOptions []smtp.RcptOptions
	// Hello is the name the client gave in EHLO or HELO.
	Hello string
	// RemoteAddr is the client's address.
	RemoteAddr net.Addr
	// TLS reports whether the session was encrypted (STARTTLS or implicit
	// TLS), and TLSVersion which version (tls.VersionTLS13, say).
	TLS        bool
	TLSVersion uint16
	// Auth is the user the client authenticated as, "" without AUTH, and
	// AuthMechanism the SASL mechanism.
	Auth, AuthMechanism string
	// Received is when the message was accepted.
	Received time.Time
	// Raw is the message as received, the server's Received: field first.
	Raw []byte

	// Header is the message header, parsed.
	Header mime.Header
	// Subject is the decoded Subject (RFC 2047 words decoded).
	Subject string
	// HeaderFrom, HeaderTo and HeaderCc are the header's addresses.
	HeaderFrom, HeaderTo, HeaderCc []*mime.Address
	// Text and HTML are the first text/plain and text/html bodies, decoded
	// to UTF-8.
	Text, HTML string
	// Attachments are the other leaf parts: attachments and inline images.
	Attachments []Attachment
	// Defects lists what the parser tolerated (a missing boundary, bad
	// base64, ...), for tests that assert an application sends clean mail.
	Defects []string
}

// Attachment is a part of a Message that is not its text or HTML body.
type Attachment struct {
	Filename    string // the file name, decoded (RFC 2231)
	ContentType string // "image/png"
	ContentID   string // without angle brackets, for inline parts
	Inline      bool   // Content-Disposition: inline
	Data        []byte // decoded
}

// parse fills the parsed view from m.Raw. Parsing never fails: a broken
// message keeps what could be read and says why in Defects.
func (m *Message) parse() {
	c, _ := mime.ReadContent(bytes.NewReader(m.Raw), mime.Limits{}, -1)
	m.Header, m.Subject = c.Header, c.Subject
	m.HeaderFrom, m.HeaderTo, m.HeaderCc = c.From, c.To, c.Cc
	m.Text, m.HTML, m.Defects = c.Text, c.HTML, c.Defects
	for _, p := range c.Parts {
		if p.IsAttachment() {
			m.Attachments = append(m.Attachments, Attachment{
				Filename:    p.Filename,
				ContentType: p.ContentType,
				ContentID:   p.ContentID,
				Inline:      p.Disposition == "inline",
				Data:        p.Data,
			})
		}
	}
}

// Attachment returns the attachment with the file name, or nil.
func (m *Message) Attachment(filename string) *Attachment {
	for i := range m.Attachments {
		if m.Attachments[i].Filename == filename {
			return &m.Attachments[i]
		}
	}
	return nil
}

// Matcher picks messages for WaitForMessages and Find.
type Matcher func(*Message) bool

// To matches a message with addr among its envelope recipients (without
// case).
func To(addr string) Matcher {
	return func(m *Message) bool {
		for _, t := range m.To {
			if strings.EqualFold(t, addr) {
				return true
			}
		}
		return false
	}
}

// From matches a message whose envelope sender is addr (without case).
func From(addr string) Matcher {
	return func(m *Message) bool { return strings.EqualFold(m.From, addr) }
}

// SubjectContains matches a message whose decoded Subject contains s.
func SubjectContains(s string) Matcher {
	return func(m *Message) bool { return strings.Contains(m.Subject, s) }
}

// HeaderEquals matches a message with a header field name whose value is
// value (after unfolding, surrounding space trimmed).
func HeaderEquals(name, value string) Matcher {
	return func(m *Message) bool {
		for _, v := range m.Header.Values(name) {
			if strings.TrimSpace(v) == value {
				return true
			}
		}
		return false
	}
}

// matchAll reports whether m satisfies every matcher.
func matchAll(m *Message, ms []Matcher) bool {
	for _, f := range ms {
		if f != nil && !f(m) {
			return false
		}
	}
	return true
}
