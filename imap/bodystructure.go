package imap

// Param is one body parameter (attribute/value pair) of a BODYSTRUCTURE
// (RFC 9051 §9, body-fld-param). Order is kept as in the message.
type Param struct {
	Name, Value string
}

// BodyStructure describes one body part for FETCH BODY and BODYSTRUCTURE
// (RFC 9051 §7.5.2). A multipart part has Children and uses only
// MediaType, SubType and the extension fields; a single part uses the
// rest. Strings are as written in the message; an empty string is sent as
// NIL where the grammar allows NIL.
type BodyStructure struct {
	// MediaType and SubType are the content type, e.g. "TEXT" "PLAIN".
	// Servers conventionally send them in upper case for known types.
	MediaType, SubType string
	// Params are the Content-Type parameters (RFC 2231 continuations and
	// charsets already joined and decoded).
	Params []Param

	// Single part only.
	ID          string // Content-ID
	Description string // Content-Description
	Encoding    string // Content-Transfer-Encoding, "7BIT" when absent
	Size        int64  // body size in octets, as transferred (encoded)
	// Lines is the body size in text lines; sent for TEXT/* and
	// MESSAGE/RFC822 (and MESSAGE/GLOBAL) parts only.
	Lines int64
	// Envelope and Body describe the enclosed message of a MESSAGE/RFC822
	// or MESSAGE/GLOBAL part.
	Envelope *Envelope
	Body     *BodyStructure

	// Multipart only: the children, in order (section numbers 1..n).
	Children []*BodyStructure

	// Extension data (BODYSTRUCTURE only, not BODY).
	MD5               string // Content-MD5, single part only
	Disposition       string // Content-Disposition value, e.g. "attachment"
	DispositionParams []Param
	Language          []string // Content-Language
	Location          string   // Content-Location
}

// IsMultipart reports whether b is a multipart body.
func (b *BodyStructure) IsMultipart() bool { return len(b.Children) > 0 }

// Walk calls fn for b and every part inside it, depth first, with the
// part's section path (nil for b itself; 1-based numbers as in BODY[1.2]).
// The enclosed body of a MESSAGE/RFC822 part is visited right after the
// part, with the same path: its children continue the numbering below it
// (RFC 9051 §6.4.5). Walking stops when fn returns false.
func (b *BodyStructure) Walk(fn func(path []int, part *BodyStructure) bool) {
	b.walk(nil, fn)
}

func (b *BodyStructure) walk(path []int, fn func([]int, *BodyStructure) bool) bool {
	if !fn(path, b) {
		return false
	}
	for i, c := range b.Children {
		p := append(path[:len(path):len(path)], i+1)
		if !c.walk(p, fn) {
			return false
		}
	}
	if b.Body != nil {
		return b.Body.walk(path, fn)
	}
	return true
}
