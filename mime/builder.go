package mime

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	stdmime "mime"
	"path"
	"strings"
	"time"
	"unicode/utf8"
)

// Builder builds the messages applications send: plain text, HTML with a
// text alternative, inline images referenced by Content-ID, attachments
// and extra header fields. Its fields are the message; the zero value is
// an empty message. WriteTo produces it.
//
// The structure chosen is the one mail clients expect:
//
//	multipart/mixed                   (only with attachments)
//	  multipart/alternative           (only with both Text and HTML)
//	    text/plain
//	    multipart/related             (only with Inline parts)
//	      text/html
//	      image/png ...               (Inline)
//	  application/pdf ...             (Attachments)
//
// Each part gets 7bit, quoted-printable or base64 according to its
// content, so that lines stay within 78 characters where the content
// allows and within 998 always (RFC 5322 §2.1.1). Header text that is not
// ASCII is written as RFC 2047 encoded words and file names with RFC 2231.
// CR or LF in any header value is an error: a header line can never be
// injected.
type Builder struct {
	From    *Address   // required
	Sender  *Address   // optional (RFC 5322 §3.6.2)
	ReplyTo []*Address // optional
	To      []*Address
	Cc      []*Address
	// Bcc recipients are never written to the header (RFC 5322 §3.6.3);
	// Recipients includes them for the SMTP envelope.
	Bcc     []*Address
	Subject string
	// Date defaults to the time of WriteTo.
	Date time.Time
	// MessageID is the Message-ID without angle brackets; empty means a
	// random one at the From domain.
	MessageID  string
	InReplyTo  []string // message IDs, without angle brackets
	References []string // message IDs, without angle brackets

	// Header holds extra fields (List-Unsubscribe, X-Mailer, ...), written
	// after the standard ones. Values that are not ASCII are encoded.
	// Fields that the Builder writes itself (Content-*, MIME-Version and
	// the fields above) are an error here.
	Header Header

	// Text and HTML are the bodies, in UTF-8, read once by WriteTo.
	Text io.Reader
	HTML io.Reader
	// Inline parts are shown within the HTML (referenced as "cid:" +
	// ContentID) and Attachments are attached.
	Inline      []*Attachment
	Attachments []*Attachment
}

// Attachment is a file attached to a message, or an inline part.
type Attachment struct {
	// Filename is the name suggested to the recipient; it may hold any
	// Unicode and is written with RFC 2231 when it is not plain ASCII.
	Filename string
	// ContentType is the media type with any parameters; empty means one
	// guessed from the file name's extension, or application/octet-stream.
	ContentType string
	// ContentID identifies an inline part for "cid:" URLs (RFC 2392),
	// without angle brackets. Builder.AddInline and URL choose a random
	// one up front, so the HTML can reference it; one still empty at
	// WriteTo is chosen then and stored back here.
	ContentID string
	// Body is read once by WriteTo.
	Body io.Reader
	// Header holds extra fields for the part.
	Header Header
}

// AddInline adds an inline part (an image the HTML shows) and returns it
// with its ContentID already chosen, so that the HTML can reference it
// before the message is written: `<img src="` + a.URL() + `">`.
func (b *Builder) AddInline(filename string, body io.Reader) *Attachment {
	a := &Attachment{Filename: filename, Body: body, ContentID: newContentID()}
	b.Inline = append(b.Inline, a)
	return a
}

// AddAttachment attaches a file and returns it, for setting ContentType or
// Header.
func (b *Builder) AddAttachment(filename string, body io.Reader) *Attachment {
	a := &Attachment{Filename: filename, Body: body}
	b.Attachments = append(b.Attachments, a)
	return a
}

// URL returns the part's "cid:" URL (RFC 2392) for HTML to reference it.
// An empty ContentID is chosen here (and stored), so an Attachment made
// as a literal can be referenced too.
func (a *Attachment) URL() string {
	if a.ContentID == "" {
		a.ContentID = newContentID()
	}
	return "cid:" + a.ContentID
}

func newContentID() string { return strings.ToLower(rand.Text()) + "@posthorn" }

// BuildError reports a Builder field that cannot be written.
type BuildError struct {
	Field  string
	Reason string
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("mime: cannot build message: %s: %s", e.Field, e.Reason)
}

// Recipients returns the addr-specs of To, Cc and Bcc, in that order and
// without duplicates, group members included: the SMTP envelope.
func (b *Builder) Recipients() []string {
	var out []string
	seen := map[string]bool{}
	var add func([]*Address)
	add = func(list []*Address) {
		for _, a := range list {
			if a == nil {
				continue
			}
			if a.Group {
				add(a.Members)
				continue
			}
			s := a.Addr()
			if k := strings.ToLower(s); !seen[k] {
				seen[k] = true
				out = append(out, s)
			}
		}
	}
	add(b.To)
	add(b.Cc)
	add(b.Bcc)
	return out
}

// Bytes returns the message WriteTo writes.
func (b *Builder) Bytes() ([]byte, error) {
	var buf bytes.Buffer
	_, err := b.WriteTo(&buf)
	return buf.Bytes(), err
}

// WriteTo writes the message to w. It reads the bodies once, streaming:
// only the first 32 KiB of each body are held to choose its encoding.
func (b *Builder) WriteTo(w io.Writer) (int64, error) {
	cw := &builderCounter{w: w}
	err := b.write(cw)
	return cw.n, err
}

type builderCounter struct {
	w io.Writer
	n int64
}

func (c *builderCounter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// builderOwned are the fields the Builder writes itself.
// A trailing "-" matches every field name with that prefix.
var builderOwned = []string{"Date", "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Subject",
	"Message-ID", "In-Reply-To", "References", "MIME-Version", "Content-"}

func (b *Builder) write(w io.Writer) error {
	var h Header
	if b.From == nil || b.From.Group {
		return &BuildError{Field: "From", Reason: "a mailbox is required"}
	}
	date := b.Date
	if date.IsZero() {
		date = time.Now()
	}
	add := func(key, value string) error {
		if err := h.Add(key, value); err != nil {
			return &BuildError{Field: key, Reason: err.(*FieldError).Reason}
		}
		return nil
	}
	addAddrs := func(key string, list []*Address) error {
		if len(list) == 0 {
			return nil
		}
		for _, a := range list {
			if err := checkAddress(a); err != nil {
				return &BuildError{Field: key, Reason: err.Error()}
			}
		}
		return add(key, FormatAddressList(list))
	}
	if err := checkAddress(b.From); err != nil {
		return &BuildError{Field: "From", Reason: err.Error()}
	}
	msgID := b.MessageID
	if msgID == "" {
		msgID = strings.Trim(NewMessageID(b.From.Host), "<>")
	}
	steps := []func() error{
		func() error { return add("Date", FormatDate(date)) },
		func() error { return addAddrs("From", []*Address{b.From}) },
		func() error {
			if b.Sender == nil {
				return nil
			}
			return addAddrs("Sender", []*Address{b.Sender})
		},
		func() error { return addAddrs("Reply-To", b.ReplyTo) },
		func() error { return addAddrs("To", b.To) },
		func() error { return addAddrs("Cc", b.Cc) },
		func() error {
			if err := checkText("Subject", b.Subject); err != nil {
				return err
			}
			return add("Subject", encodeWords(b.Subject, foldLength-len("Subject: ")))
		},
		func() error { return addIDs(add, "Message-ID", []string{msgID}) },
		func() error { return addIDs(add, "In-Reply-To", b.InReplyTo) },
		func() error { return addIDs(add, "References", b.References) },
		func() error { return add("MIME-Version", "1.0") },
		func() error { return addExtra(&h, &b.Header, builderOwned) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	root, err := b.tree()
	if err != nil {
		return err
	}
	return root.write(w, &h)
}

// checkAddress rejects addresses whose parts hold CR, LF or NUL.
func checkAddress(a *Address) error {
	if a == nil {
		return errors.New("nil address")
	}
	for _, s := range []string{a.Name, a.Mailbox, a.Host} {
		if strings.ContainsAny(s, "\r\n\x00") {
			return errors.New("CR, LF or NUL in address")
		}
		if !utf8.ValidString(s) {
			return errors.New("address is not valid UTF-8")
		}
	}
	if !a.Group && (a.Mailbox == "" || a.Host == "") {
		return errors.New("address without local part or domain")
	}
	if !a.Group && !validHost(a.Host) {
		// A host like "x>, other@example.com" would add a recipient.
		return fmt.Errorf("invalid domain %q", a.Host)
	}
	if a.Group {
		for _, m := range a.Members {
			if err := checkAddress(m); err != nil {
				return err
			}
		}
	}
	return nil
}

// validHost reports whether h is a dot-atom domain (UTF-8 allowed,
// RFC 6532) or a domain literal (RFC 5322 §3.4.1).
func validHost(h string) bool {
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		inner := h[1 : len(h)-1]
		return !strings.ContainsAny(inner, "[]\\ \t")
	}
	return isDotAtom(h)
}

func checkText(field, s string) error {
	if strings.ContainsAny(s, "\r\n\x00") {
		return &BuildError{Field: field, Reason: "CR, LF or NUL in value"}
	}
	if !utf8.ValidString(s) {
		return &BuildError{Field: field, Reason: "not valid UTF-8"}
	}
	return nil
}

func addIDs(add func(k, v string) error, key string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	var parts []string
	for _, id := range ids {
		id = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(id), "<"), ">")
		if id == "" || strings.ContainsAny(id, "<> \t\r\n\x00") || !isASCII(id) {
			return &BuildError{Field: key, Reason: fmt.Sprintf("invalid message ID %q", id)}
		}
		parts = append(parts, "<"+id+">")
	}
	return add(key, strings.Join(parts, " "))
}

// addExtra copies the fields of extra into h, encoding non-ASCII values
// and refusing names in owned (a trailing "-" matches a prefix).
func addExtra(h, extra *Header, owned []string) error {
	for _, f := range extra.Fields() {
		if f.Key == "" {
			continue
		}
		for _, o := range owned {
			if strings.EqualFold(f.Key, o) || strings.HasSuffix(o, "-") && len(f.Key) >= len(o) && strings.EqualFold(f.Key[:len(o)], o) {
				return &BuildError{Field: f.Key, Reason: "set by the Builder; use its field"}
			}
		}
		v := f.Value()
		if err := checkText(f.Key, v); err != nil {
			return err
		}
		if !isASCII(v) {
			v = encodeWords(v, foldLength-len(f.Key)-2)
		}
		if err := h.Add(f.Key, v); err != nil {
			return &BuildError{Field: f.Key, Reason: err.Error()}
		}
	}
	return nil
}

// node is one entity of the message tree.
type node struct {
	contentType string
	params      map[string]string
	disposition string // "", "inline" or "attachment"
	filename    string
	contentID   string
	extra       *Header
	body        io.Reader // leaf
	children    []*node   // multipart
}

func (b *Builder) tree() (*node, error) {
	var text, html *node
	if b.Text != nil {
		text = &node{contentType: "text/plain", params: map[string]string{"charset": "utf-8"}, body: b.Text}
	}
	if b.HTML != nil {
		html = &node{contentType: "text/html", params: map[string]string{"charset": "utf-8"}, body: b.HTML}
	}
	if len(b.Inline) > 0 {
		if html == nil {
			return nil, &BuildError{Field: "Inline", Reason: "inline parts need an HTML body"}
		}
		rel := &node{contentType: "multipart/related", params: map[string]string{"type": "text/html"}, children: []*node{html}}
		for _, a := range b.Inline {
			if a.ContentID == "" {
				a.ContentID = newContentID()
			}
			n, err := attachmentNode(a, "inline")
			if err != nil {
				return nil, err
			}
			rel.children = append(rel.children, n)
		}
		html = rel
	}
	var body *node
	switch {
	case text != nil && html != nil:
		body = &node{contentType: "multipart/alternative", children: []*node{text, html}}
	case html != nil:
		body = html
	case text != nil:
		body = text
	case len(b.Attachments) == 0:
		body = &node{contentType: "text/plain", params: map[string]string{"charset": "utf-8"}, body: strings.NewReader("")}
	}
	if len(b.Attachments) == 0 {
		return body, nil
	}
	mixed := &node{contentType: "multipart/mixed"}
	if body != nil {
		mixed.children = append(mixed.children, body)
	}
	for _, a := range b.Attachments {
		n, err := attachmentNode(a, "attachment")
		if err != nil {
			return nil, err
		}
		mixed.children = append(mixed.children, n)
	}
	return mixed, nil
}

func attachmentNode(a *Attachment, disposition string) (*node, error) {
	if a == nil || a.Body == nil {
		return nil, &BuildError{Field: "Attachment", Reason: "no body"}
	}
	if err := checkText("Filename", a.Filename); err != nil {
		return nil, err
	}
	ct := a.ContentType
	if ct == "" {
		ct = stdmime.TypeByExtension(strings.ToLower(path.Ext(a.Filename)))
		if ct == "" {
			ct = "application/octet-stream"
		}
	}
	if err := checkText("ContentType", ct); err != nil {
		return nil, err
	}
	typ, params, err := ParseMediaType(ct)
	if err != nil || !strings.Contains(typ, "/") || strings.HasPrefix(typ, "multipart/") {
		return nil, &BuildError{Field: "ContentType", Reason: fmt.Sprintf("invalid media type %q", ct)}
	}
	for k := range params {
		if !isToken(k) || strings.ContainsAny(k, "*'%") {
			delete(params, k) // a broken parameter name in ContentType
		}
	}
	if strings.HasPrefix(typ, "text/") && params["charset"] == "" {
		params["charset"] = "utf-8"
	}
	if a.Filename != "" {
		params["name"] = a.Filename
	}
	if a.ContentID != "" && (strings.ContainsAny(a.ContentID, "<> \t\r\n\x00") || !isASCII(a.ContentID)) {
		return nil, &BuildError{Field: "ContentID", Reason: fmt.Sprintf("invalid %q", a.ContentID)}
	}
	return &node{contentType: typ, params: params, disposition: disposition, filename: a.Filename,
		contentID: a.ContentID, extra: &a.Header, body: a.Body}, nil
}

// write writes the entity: h (the message header for the root, nil
// otherwise) plus its own content fields, then the body.
func (n *node) write(w io.Writer, h *Header) error {
	if h == nil {
		h = &Header{}
	}
	if n.extra != nil {
		if err := addExtra(h, n.extra, []string{"Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "Content-ID", "MIME-Version"}); err != nil {
			return err
		}
	}
	if n.children != nil {
		mw := NewMultipartWriter(w)
		if err := h.Add("Content-Type", mw.ContentType(strings.TrimPrefix(n.contentType, "multipart/"), n.params)); err != nil {
			return err
		}
		if _, err := h.WriteTo(w); err != nil {
			return err
		}
		for _, c := range n.children {
			if err := mw.delimiter(); err != nil {
				return err
			}
			if err := c.write(w, nil); err != nil {
				return err
			}
		}
		return mw.Close()
	}
	isText := strings.HasPrefix(n.contentType, "text/")
	br := bufio.NewReaderSize(n.body, 32<<10)
	peek, err := br.Peek(32 << 10)
	complete := err != nil // the whole body is in peek
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return err
	}
	enc := chooseEncoding(peek, complete, isText)
	ct := FormatMediaType(n.contentType, n.params)
	if ct == "" {
		return &BuildError{Field: "ContentType", Reason: fmt.Sprintf("invalid media type %q", n.contentType)}
	}
	if err := h.Add("Content-Type", ct); err != nil {
		return err
	}
	if n.disposition != "" {
		dp := map[string]string{}
		if n.filename != "" {
			dp["filename"] = n.filename
		}
		if err := h.Add("Content-Disposition", FormatMediaType(n.disposition, dp)); err != nil {
			return err
		}
	}
	if n.contentID != "" {
		if err := h.Add("Content-ID", "<"+n.contentID+">"); err != nil {
			return err
		}
	}
	if err := h.Add("Content-Transfer-Encoding", enc); err != nil {
		return err
	}
	if _, err := h.WriteTo(w); err != nil {
		return err
	}
	ew := NewTransferEncoder(w, enc, isText)
	if _, err := br.WriteTo(ew); err != nil {
		return err
	}
	return ew.Close()
}

// chooseEncoding picks the transfer encoding for a body from its start
// (all of it if complete): 7bit for ASCII text whose lines fit in 78
// characters, quoted-printable for other text that is mostly ASCII, base64
// for the rest and for everything that is not text.
func chooseEncoding(peek []byte, complete, isText bool) string {
	if !isText {
		// Base64 keeps the bytes exactly, line ends included.
		return EncodingBase64
	}
	if complete && asciiShortLines(peek, foldLength) {
		return Encoding7Bit
	}
	high := 0
	for _, c := range peek {
		if c >= 0x80 || c < 0x20 && c != '\r' && c != '\n' && c != '\t' {
			high++
		}
		if c == 0 {
			return EncodingBase64
		}
	}
	if high*4 > len(peek) { // mostly non-ASCII: base64 is much smaller
		return EncodingBase64
	}
	return EncodingQuotedPrintable
}

// asciiShortLines reports whether b is printable ASCII text (with CR, LF,
// tab) whose lines are at most max characters.
func asciiShortLines(b []byte, max int) bool {
	col := 0
	for i, c := range b {
		switch {
		case c == '\n':
			col = 0
			continue
		case c == '\r':
			if i+1 < len(b) && b[i+1] != '\n' {
				return false
			}
			continue
		case c == '\t' || c >= 0x20 && c < 0x7f:
		default:
			return false
		}
		col++
		if col > max {
			return false
		}
	}
	// A final line starting with "From " or a lone "." is fine for 7bit;
	// transports escape them.
	return true
}
