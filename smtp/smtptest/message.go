package smtptest

import (
	"bytes"
	"io"
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
	r := mime.NewReader(bytes.NewReader(m.Raw), mime.Limits{})
	first := true
	for {
		p, err := r.NextPart()
		if err != nil {
			if err != io.EOF {
				m.Defects = append(m.Defects, err.Error())
			}
			return
		}
		if first {
			first = false
			m.Header = p.Header
			m.Subject, _ = mime.DecodeWords(p.Header.Get("Subject"))
			m.HeaderFrom, _ = mime.ParseAddressList(p.Header.Get("From"))
			m.HeaderTo, _ = mime.ParseAddressList(p.Header.Get("To"))
			m.HeaderCc, _ = mime.ParseAddressList(p.Header.Get("Cc"))
		}
		if p.MediaType == "multipart" || p.ContentType() == "message/rfc822" {
			continue
		}
		body, _ := io.ReadAll(r.Text())
		for _, d := range p.Defects {
			m.Defects = append(m.Defects, d.Error())
		}
		disp, params, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
		switch ct := p.ContentType(); {
		case ct == "text/plain" && m.Text == "" && disp != "attachment":
			m.Text = string(body)
		case ct == "text/html" && m.HTML == "" && disp != "attachment":
			m.HTML = string(body)
		default:
			name := params["filename"]
			if name == "" {
				_, ctParams, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
				name = ctParams["name"]
			}
			m.Attachments = append(m.Attachments, Attachment{
				Filename:    name,
				ContentType: ct,
				ContentID:   strings.Trim(strings.TrimSpace(p.Header.Get("Content-ID")), "<>"),
				Inline:      disp == "inline",
				Data:        body,
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
