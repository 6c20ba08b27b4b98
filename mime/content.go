package mime

import (
	"errors"
	"io"
	"strconv"
	"strings"
)

// DefaultMaxContentBytes bounds the decoded bytes ReadContent keeps when
// its maxBytes argument is zero.
const DefaultMaxContentBytes = 64 << 20

// Content is a message as a mail program shows it: the header, the
// decoded Subject and addresses, the first text/plain and text/html
// bodies, and every part of the tree with its IMAP section number and,
// for leaves that are neither of those two bodies, its decoded bytes.
// ReadContent builds it.
type Content struct {
	// Header is the message header.
	Header Header
	// Subject is the decoded Subject (RFC 2047 words decoded).
	Subject string
	// From, To and Cc are the header's addresses; nil when absent or
	// unparsable.
	From, To, Cc []*Address
	// Text and HTML are the first text/plain and text/html leaves that
	// are not attachments, decoded and converted to UTF-8.
	Text, HTML string
	// Parts lists every part in message order: containers, the text and
	// HTML bodies and the other leaves.
	Parts []ContentPart
	// Defects lists what the parser tolerated (a missing boundary, bad
	// base64, an unknown charset, a body cut at the byte bound), in order.
	Defects []string
}

// ContentPart is one part of a Content.
type ContentPart struct {
	// Section is the IMAP part specifier (RFC 9051 §6.4.5): "" for a
	// multipart message itself, "1" for the body of a single-part
	// message, "2.1" for the first part inside part 2. A message/rfc822
	// part's enclosed multipart has its container's number.
	Section string
	// Depth is the nesting level (Part.Depth).
	Depth int
	// ContentType is "type/subtype", lower-cased.
	ContentType string
	// Container is true for multiparts and enclosed messages, whose
	// contents follow as parts of their own.
	Container bool
	// Body is true for the leaves that are Content.Text and Content.HTML.
	Body bool
	// Filename is the decoded file name (RFC 2183, RFC 2231), ContentID
	// the Content-ID without angle brackets, and Disposition the
	// lower-cased disposition type ("inline", "attachment" or "").
	Filename, ContentID, Disposition string
	// Size is the decoded size of a leaf's body.
	Size int
	// Data is the decoded body of a leaf other than the text and HTML
	// bodies (an attachment or an inline image); nil otherwise.
	Data []byte
}

// IsAttachment reports whether p is a leaf other than the message's text
// and HTML bodies: an attachment, an inline image, a calendar part.
func (p *ContentPart) IsAttachment() bool { return !p.Container && !p.Body }

// ReadContent reads a message and returns its Content. Parsing tolerates
// broken mail the way Reader does and says what it tolerated in
// Content.Defects; the error is non-nil only when r fails or lim's
// MaxParts is exceeded, and the Content returned with it holds what was
// read before.
//
// maxBytes bounds the decoded bytes kept in memory across all parts
// (DefaultMaxContentBytes when zero, no bound when negative): past it,
// bodies are cut, and the cut is recorded as a defect.
func ReadContent(r io.Reader, lim Limits, maxBytes int64) (*Content, error) {
	switch {
	case maxBytes == 0:
		maxBytes = DefaultMaxContentBytes
	case maxBytes < 0:
		maxBytes = 1<<63 - 1
	}
	c := &Content{}
	mr := NewReader(r, lim)
	type frame struct {
		depth     int
		section   string
		multipart bool
		n         int
	}
	var stack []frame
	// A container's defects (a missing final boundary) are known only
	// when it ends, so every part's are gathered at the end.
	var seen []*Part
	var notes []string
	done := func(err error) (*Content, error) {
		for _, p := range seen {
			for _, d := range p.Defects {
				c.Defects = append(c.Defects, d.Error())
			}
		}
		c.Defects = append(c.Defects, notes...)
		if err != nil {
			c.Defects = append(c.Defects, err.Error())
		}
		return c, err
	}
	for {
		p, err := mr.NextPart()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return done(nil)
			}
			return done(err)
		}
		seen = append(seen, p)
		for len(stack) > 0 && stack[len(stack)-1].depth >= p.Depth {
			stack = stack[:len(stack)-1]
		}
		multipart := p.IsContainer() && p.MediaType == "multipart"
		// RFC 9051 §6.4.5: parts of a multipart are numbered 1, 2, ...
		// below it; a non-multipart message (the top one or one enclosed
		// in a message/rfc822 part) has its body as part 1; an enclosed
		// multipart's parts continue below its container's number.
		var section string
		switch {
		case len(stack) == 0:
			if !multipart {
				section = "1"
			}
		case stack[len(stack)-1].multipart:
			top := &stack[len(stack)-1]
			top.n++
			section = joinSection(top.section, top.n)
		default: // the root of an enclosed message
			section = stack[len(stack)-1].section
			if !multipart {
				section = joinSection(section, 1)
			}
		}
		if p.IsContainer() {
			stack = append(stack, frame{depth: p.Depth, section: section, multipart: multipart})
		}
		if p.Depth == 0 {
			c.Header = p.Header
			c.Subject, _ = DecodeWords(p.Header.Get("Subject"))
			c.From, _ = ParseAddressList(p.Header.Get("From"))
			c.To, _ = ParseAddressList(p.Header.Get("To"))
			c.Cc, _ = ParseAddressList(p.Header.Get("Cc"))
		}
		part := ContentPart{
			Section:     section,
			Depth:       p.Depth,
			ContentType: p.ContentType(),
			Container:   p.IsContainer(),
			Filename:    p.Filename(),
			ContentID:   strings.Trim(p.ID, "<>"),
			Disposition: p.Disposition,
		}
		if !part.Container {
			body, cut, rerr := readBounded(mr.Text(), maxBytes)
			maxBytes -= int64(len(body))
			part.Size = len(body)
			if cut {
				notes = append(notes, "mime: part "+section+" cut at the content byte bound")
			}
			if rerr != nil {
				c.Parts = append(c.Parts, part)
				return done(rerr)
			}
			attached := p.Disposition == "attachment"
			switch ct := part.ContentType; {
			case ct == "text/plain" && c.Text == "" && !attached:
				c.Text, part.Body = string(body), true
			case ct == "text/html" && c.HTML == "" && !attached:
				c.HTML, part.Body = string(body), true
			default:
				part.Data = body
			}
		}
		c.Parts = append(c.Parts, part)
	}
}

func joinSection(parent string, n int) string {
	if parent == "" {
		return strconv.Itoa(n)
	}
	return parent + "." + strconv.Itoa(n)
}

// readBounded reads r to its end, keeping at most max bytes; cut reports
// whether there was more.
func readBounded(r io.Reader, max int64) (b []byte, cut bool, err error) {
	if max < 0 {
		max = 0
	}
	b, err = io.ReadAll(io.LimitReader(r, max))
	if err != nil {
		return b, false, err
	}
	n, err := io.Copy(io.Discard, r)
	return b, n > 0, err
}
