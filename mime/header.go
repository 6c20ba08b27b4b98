package mime

// API for the other users of this package (mime-reader, IMAP, SMTP):
//
//   - Header keeps every field as the raw bytes read (Field.Raw, line
//     endings included) in order; WriteTo writes them back byte for byte,
//     followed by the blank line that ended the header.
//   - ReadHeader(br, lim) reads a header bounded by lim.MaxHeaderBytes and
//     lim.MaxHeaderFields (a *LimitError; the rest of the header is then
//     skipped up to its blank line, so the reader stays in step). A single
//     line is bounded by MaxHeaderBytes too (Limits has no line limit).
//     Lines that are not fields are kept (Key "") with a
//     *MalformedFieldError in Header.Errors.
//   - readHeader(br, lim, stopAtNonField) is the package-internal form: it
//     also returns the bytes consumed, and with stopAtNonField it stops
//     before the first line that is neither a field, a continuation nor
//     blank (not consumed; a first-line mbox "From " is still kept), for
//     readers that start the body there (DefectMissingHeaderSeparator).
//     h.end is then empty; it is also empty when input ended with no blank
//     line.
//   - CharsetDecoder(name) (charset.go) returns an *encoding.Decoder for any
//     IANA charset name or common alias, or *UnknownCharsetError.
//   - ParseMediaType (param.go) and DecodeWords (words.go) are the codecs.

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// Field is one header field exactly as it appeared in the message.
type Field struct {
	// Key is the field name as written (case kept), without the colon and
	// any white space before it. It is empty for a line that is not a
	// field (a malformed line, an mbox "From " line), which is kept only so
	// that the header writes back unchanged.
	Key string
	// Raw is the whole field: name, colon, value, folded continuation lines
	// and the line ending(s), exactly as read. Fields made by Add and Set
	// hold their folded, CRLF-terminated form.
	Raw []byte
}

// Value returns the unfolded value of the field (RFC 5322 §2.2.3): the text
// after the colon with line endings removed and surrounding white space
// trimmed. Encoded words are not decoded; see DecodeWords.
func (f Field) Value() string {
	if f.Key == "" {
		return ""
	}
	i := bytes.IndexByte(f.Raw, ':')
	if i < 0 {
		return ""
	}
	return unfold(f.Raw[i+1:])
}

// unfold removes CR and LF from b and trims surrounding white space.
func unfold(b []byte) string {
	b = trimWSP(b)
	if bytes.IndexByte(b, '\n') < 0 && bytes.IndexByte(b, '\r') < 0 {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		if c != '\r' && c != '\n' {
			sb.WriteByte(c)
		}
	}
	return strings.Trim(sb.String(), " \t")
}

func isWSP(c byte) bool { return c == ' ' || c == '\t' }

// trimWSP trims space, tab, CR and LF on both ends.
func trimWSP(b []byte) []byte {
	for len(b) > 0 && (isWSP(b[0]) || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	for len(b) > 0 && (isWSP(b[len(b)-1]) || b[len(b)-1] == '\r' || b[len(b)-1] == '\n') {
		b = b[:len(b)-1]
	}
	return b
}

// Header is an ordered message or MIME part header. It keeps the raw bytes
// of every field, so a header that is read and not changed writes back byte
// for byte (DKIM signatures depend on it); Add, Set and Del change only the
// fields they touch. Lookups are case-insensitive (RFC 5322 §1.2.2).
//
// The zero Header is empty and ready to use. A copy of a Header shares its
// fields with the original: use Clone before changing a copy.
type Header struct {
	fields []Field
	// end is the blank line that ended the header as read ("\r\n" or
	// "\n"), or empty when the input ended without one. nil means CRLF.
	end  []byte
	errs []error
	// raw holds all fields as read, contiguous, while the header is
	// unchanged; nil after any change.
	raw []byte
}

// Len returns the number of fields, malformed lines included.
func (h *Header) Len() int { return len(h.fields) }

// Fields returns the fields in order, including malformed lines (Key "").
// The slice is the header's own; callers must not modify it.
func (h *Header) Fields() []Field { return h.fields }

// Errors returns the soft errors met while reading the header (such as
// *MalformedFieldError): lines that were kept but are not fields.
func (h *Header) Errors() []error { return h.errs }

// Has reports whether a field named key exists.
func (h *Header) Has(key string) bool {
	for i := range h.fields {
		if strings.EqualFold(h.fields[i].Key, key) {
			return true
		}
	}
	return false
}

// Get returns the unfolded value of the first field named key, or "".
func (h *Header) Get(key string) string {
	for i := range h.fields {
		if strings.EqualFold(h.fields[i].Key, key) {
			return h.fields[i].Value()
		}
	}
	return ""
}

// Values returns the unfolded values of all fields named key, in order.
func (h *Header) Values(key string) []string {
	var vs []string
	for i := range h.fields {
		if strings.EqualFold(h.fields[i].Key, key) {
			vs = append(vs, h.fields[i].Value())
		}
	}
	return vs
}

// Add appends a field. The value is folded at white space to keep lines
// within 78 characters where possible (RFC 5322 §2.1.1). It is an error
// (*FieldError) if key is not a valid field name or value contains CR, LF
// or NUL: a value can never inject a header line. Values are written as
// given; use EncodeWords for non-ASCII text in a 7-bit header.
func (h *Header) Add(key, value string) error {
	raw, err := formatField(key, value)
	if err != nil {
		return err
	}
	h.raw = nil
	h.fields = append(h.fields, Field{Key: key, Raw: raw})
	return nil
}

// Prepend inserts a field before all others, as a mail server adds trace
// fields (Received, RFC 5321 §4.4) and a signer adds DKIM-Signature.
// Errors are as for Add.
func (h *Header) Prepend(key, value string) error {
	raw, err := formatField(key, value)
	if err != nil {
		return err
	}
	h.raw = nil
	h.fields = append(h.fields, Field{})
	copy(h.fields[1:], h.fields)
	h.fields[0] = Field{Key: key, Raw: raw}
	return nil
}

// Set replaces the first field named key with one holding value, in place,
// and deletes any other fields of that name; without such a field it
// appends one. Errors are as for Add.
func (h *Header) Set(key, value string) error {
	raw, err := formatField(key, value)
	if err != nil {
		return err
	}
	h.raw = nil
	set := false
	out := h.fields[:0]
	for _, f := range h.fields {
		if strings.EqualFold(f.Key, key) {
			if set {
				continue
			}
			f = Field{Key: key, Raw: raw}
			set = true
		}
		out = append(out, f)
	}
	clear(h.fields[len(out):])
	h.fields = out
	if !set {
		h.fields = append(h.fields, Field{Key: key, Raw: raw})
	}
	return nil
}

// Del deletes all fields named key.
func (h *Header) Del(key string) {
	h.raw = nil
	out := h.fields[:0]
	for _, f := range h.fields {
		if !strings.EqualFold(f.Key, key) {
			out = append(out, f)
		}
	}
	clear(h.fields[len(out):])
	h.fields = out
}

// AddRaw appends a field given as raw bytes, which must be a single,
// possibly folded field ("Name: value" with CRLF line ends, the last CRLF
// optional). It is used to copy fields between headers unchanged.
func (h *Header) AddRaw(raw []byte) error {
	i := bytes.IndexByte(raw, ':')
	if i <= 0 {
		return &FieldError{Reason: "no colon"}
	}
	key := string(bytes.TrimRight(raw[:i], " \t"))
	if !validFieldName(key) {
		return &FieldError{Key: key, Reason: "invalid field name"}
	}
	body := raw
	if bytes.HasSuffix(body, []byte("\r\n")) {
		body = body[:len(body)-2]
	}
	// Every line break must be CRLF followed by white space.
	for j := 0; j < len(body); j++ {
		switch body[j] {
		case '\r':
			if j+2 >= len(body) || body[j+1] != '\n' || !isWSP(body[j+2]) {
				return &FieldError{Key: key, Reason: "bare CR or line break not followed by white space"}
			}
			j++
		case '\n', 0:
			return &FieldError{Key: key, Reason: "bare LF or NUL"}
		}
	}
	b := make([]byte, 0, len(body)+2)
	b = append(append(b, body...), '\r', '\n')
	h.raw = nil
	h.fields = append(h.fields, Field{Key: key, Raw: b})
	return nil
}

// Clone returns a deep copy of h.
func (h *Header) Clone() Header {
	c := Header{fields: make([]Field, len(h.fields)), end: bytes.Clone(h.end), errs: h.errs}
	for i, f := range h.fields {
		c.fields[i] = Field{Key: f.Key, Raw: bytes.Clone(f.Raw)}
	}
	return c
}

// WriteTo writes the fields as stored followed by the blank line that ends
// a header: the one read (CRLF or LF), none if the input ended without it,
// CRLF for a header built with Add and Set.
func (h *Header) WriteTo(w io.Writer) (int64, error) {
	var n int64
	if h.raw != nil {
		// Unchanged since ReadHeader: one write.
		m, err := w.Write(h.raw)
		n += int64(m)
		if err != nil {
			return n, err
		}
	} else {
		for i := range h.fields {
			m, err := w.Write(h.fields[i].Raw)
			n += int64(m)
			if err != nil {
				return n, err
			}
		}
	}
	end := h.end
	if end == nil {
		end = crlf
	}
	m, err := w.Write(end)
	return n + int64(m), err
}

var crlf = []byte("\r\n")

// FieldError reports an invalid field name or value given to Add or Set.
type FieldError struct {
	Key    string
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("mime: header field %q: %s", e.Key, e.Reason)
}

// MalformedFieldError is a soft error: a header line that is not a field
// (no colon, an invalid name, or a continuation line with no field before
// it). The line is kept in the header (Key "") and written back unchanged.
type MalformedFieldError struct {
	Line int    // 1-based line number within the header
	Text string // the line, without its line ending, at most 200 bytes
}

func (e *MalformedFieldError) Error() string {
	return fmt.Sprintf("mime: header line %d is not a field: %q", e.Line, e.Text)
}

func validFieldName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		// RFC 5322 §3.6.8: ftext is printable US-ASCII except colon.
		if c := k[i]; c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}
