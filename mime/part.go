package mime

import "strings"

// Part is one entity of a message's MIME tree (RFC 2045, RFC 2046) with
// the byte offsets of its header and body in the message, as computed by
// Index and, as far as known at the time, by Reader.
//
// Offsets are absolute in the message. [HeaderOffset, BodyOffset) is the
// header including the blank line that ends it (absent if the header ended
// otherwise); [BodyOffset, EndOffset) is the body. The line break before a
// boundary delimiter belongs to the delimiter (RFC 2046 §5.1.1), so it is
// not part of the body. These are exactly the octets of IMAP's
// BODY[n.MIME] and BODY[n] for part n (RFC 9051 §6.4.5).
type Part struct {
	HeaderOffset, BodyOffset, EndOffset int64

	// Header is the parsed header of this part.
	Header Header

	// MediaType and SubType are the lower-cased type and subtype of
	// Content-Type ("text" and "plain" when it is absent or unparsable,
	// RFC 2045 §5.2; "message" and "rfc822" in a multipart/digest).
	MediaType, SubType string
	// Params are the Content-Type parameters, keys lower-cased, RFC 2231
	// continuations and charsets resolved. May be nil.
	Params map[string]string

	// ID, Description, Location and MD5 are the unfolded values of
	// Content-ID, Content-Description, Content-Location and Content-MD5,
	// with surrounding white space removed; "" when absent.
	ID, Description string
	// Encoding is the lower-cased Content-Transfer-Encoding, "" when absent
	// (which means 7bit, RFC 2045 §6.1).
	Encoding string
	// Disposition is the lower-cased Content-Disposition type ("inline",
	// "attachment", ...), "" when absent; DispositionParams its parameters.
	Disposition       string
	DispositionParams map[string]string
	// Language lists the Content-Language tags (RFC 3282).
	Language      []string
	Location, MD5 string

	// BodyLines is the number of lines in the body: the number of line
	// feeds, plus one if the body does not end with one. Index computes it
	// for every part (IMAP reports it for text/* and message/rfc822 parts,
	// RFC 9051 §7.5.2); Reader leaves it 0.
	BodyLines int64

	// Children are the parts of a multipart, in order: child i has section
	// number i+1 below this part's.
	Children []*Part
	// Message is the root of the message enclosed in a message/rfc822 or
	// message/global part (nil otherwise).
	Message *Part

	// Depth is the nesting level: 0 for the root, 1 for its children, and
	// one more for the root of an enclosed message than for its container.
	Depth int
	// Defects lists what was wrong with this part and was tolerated. A
	// Reader appends decoding defects while the body is read, and a
	// container's defects (such as a missing final boundary) when it ends.
	Defects []*Defect

	container bool // parsed as a multipart or enclosed message (not a leaf)
}

// IsContainer reports whether the part was parsed as a container: a
// multipart whose parts are in Children, or a message/rfc822 or
// message/global part whose message is in Message. A multipart/* part
// without a usable boundary, or beyond MaxDepth, is a leaf.
func (p *Part) IsContainer() bool { return p.container }

// Size returns the body size in bytes (IMAP's body size, RFC 9051 §7.5.2).
func (p *Part) Size() int64 { return p.EndOffset - p.BodyOffset }

// IsMultipart reports whether p is a multipart container with a boundary.
func (p *Part) IsMultipart() bool {
	return p.MediaType == "multipart" && p.Params["boundary"] != ""
}

// IsMessage reports whether p encloses a message (message/rfc822 or
// message/global) that Index or Reader parsed into Message.
func (p *Part) IsMessage() bool {
	return p.MediaType == "message" && (p.SubType == "rfc822" || p.SubType == "global")
}

// ContentType returns "type/subtype".
func (p *Part) ContentType() string { return p.MediaType + "/" + p.SubType }

// Charset returns the charset parameter, lower-cased; for text/* parts
// without one it returns "us-ascii" (RFC 2045 §5.2).
func (p *Part) Charset() string {
	cs := strings.ToLower(strings.TrimSpace(p.Params["charset"]))
	if cs == "" && p.MediaType == "text" {
		return "us-ascii"
	}
	return cs
}

// Filename returns the file name from Content-Disposition's filename
// parameter, else from Content-Type's name parameter (RFC 2183 §2.3).
func (p *Part) Filename() string {
	if f := p.DispositionParams["filename"]; f != "" {
		return f
	}
	return p.Params["name"]
}

// Lookup returns the part with the given IMAP section number
// (RFC 9051 §6.4.5) below p, which is taken as a message: for a multipart
// message, section n is its n-th child; for a non-multipart message,
// section 1 is the message's own body (p itself is returned). Below a
// message/rfc822 part, numbers continue in the enclosed message. An empty
// section returns p. It returns nil when there is no such part.
func (p *Part) Lookup(section ...int) *Part {
	cur := p
	msg := true // cur is the root of a message
	for _, n := range section {
		if n < 1 {
			return nil
		}
		// A message/rfc822 part's subparts are those of its message. A
		// message whose own type is message/rfc822 is first a
		// non-multipart message: its section 1 is its body, the
		// encapsulated message, and numbering continues inside that
		// (RFC 9051 §6.4.5: "1.1" is then the inner message's body).
		if cur.Message != nil && !msg {
			cur, msg = cur.Message, true
		}
		if len(cur.Children) == 0 {
			// Section 1 of a non-multipart message is its body. A
			// multipart read as a leaf (its header cut short, or beyond
			// MaxDepth) is non-multipart here, as in its BODYSTRUCTURE.
			if n != 1 || !msg || (cur.IsContainer() && cur.MediaType == "multipart") {
				return nil
			}
			msg = false
			continue
		}
		if n > len(cur.Children) {
			return nil
		}
		cur, msg = cur.Children[n-1], false
	}
	return cur
}

// Walk calls fn for p and every part below it (children, enclosed
// messages) in the order they appear in the message; it stops early when
// fn returns false.
func (p *Part) Walk(fn func(part *Part) bool) bool {
	if !fn(p) {
		return false
	}
	if p.Message != nil && !p.Message.Walk(fn) {
		return false
	}
	for _, c := range p.Children {
		if !c.Walk(fn) {
			return false
		}
	}
	return true
}
