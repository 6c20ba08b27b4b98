package imap

import (
	"strconv"
	"strings"
)

// FetchItem names a FETCH data item or macro (RFC 9051 §6.4.5).
type FetchItem string

// FETCH data items and macros. BODY[...] and BINARY[...] items are
// described by FetchSection.
const (
	FetchAll           FetchItem = "ALL"  // macro: FLAGS INTERNALDATE RFC822.SIZE ENVELOPE
	FetchFast          FetchItem = "FAST" // macro: FLAGS INTERNALDATE RFC822.SIZE
	FetchFull          FetchItem = "FULL" // macro: ALL + BODY
	FetchBody          FetchItem = "BODY" // non-extensible BODYSTRUCTURE
	FetchBodyStructure FetchItem = "BODYSTRUCTURE"
	FetchEnvelope      FetchItem = "ENVELOPE"
	FetchFlags         FetchItem = "FLAGS"
	FetchInternalDate  FetchItem = "INTERNALDATE"
	FetchRFC822        FetchItem = "RFC822"        // IMAP4rev1: BODY[]
	FetchRFC822Header  FetchItem = "RFC822.HEADER" // IMAP4rev1: BODY.PEEK[HEADER]
	FetchRFC822Size    FetchItem = "RFC822.SIZE"
	FetchRFC822Text    FetchItem = "RFC822.TEXT" // IMAP4rev1: BODY[TEXT]
	FetchUID           FetchItem = "UID"
	FetchModSeq        FetchItem = "MODSEQ"      // RFC 7162
	FetchBinarySize    FetchItem = "BINARY.SIZE" // RFC 3516, with a section
	// FetchBodySection and FetchBinarySection mark a FetchAtt that carries
	// a Section.
	FetchBodySection   FetchItem = "BODY[]"
	FetchBinarySection FetchItem = "BINARY[]"
)

// Macro expands ALL, FAST and FULL (RFC 9051 §6.4.5); other items are
// returned alone.
func (f FetchItem) Macro() []FetchItem {
	switch f {
	case FetchAll:
		return []FetchItem{FetchFlags, FetchInternalDate, FetchRFC822Size, FetchEnvelope}
	case FetchFast:
		return []FetchItem{FetchFlags, FetchInternalDate, FetchRFC822Size}
	case FetchFull:
		return []FetchItem{FetchFlags, FetchInternalDate, FetchRFC822Size, FetchEnvelope, FetchBody}
	}
	return []FetchItem{f}
}

// PartSpecifier is the text part of a BODY section (RFC 9051 §6.4.5).
type PartSpecifier string

// Section text specifiers.
const (
	PartEntire          PartSpecifier = ""
	PartHeader          PartSpecifier = "HEADER"
	PartHeaderFields    PartSpecifier = "HEADER.FIELDS"
	PartHeaderFieldsNot PartSpecifier = "HEADER.FIELDS.NOT"
	PartText            PartSpecifier = "TEXT"
	PartMIME            PartSpecifier = "MIME"
)

// Partial is a byte range <offset.count> of a section (RFC 9051 §6.4.5).
type Partial struct {
	Offset uint32
	Count  uint32
}

// FetchSection is a BODY[section]<partial>, BODY.PEEK[...], BINARY[...],
// BINARY.PEEK[...] or BINARY.SIZE[...] item.
type FetchSection struct {
	Binary bool // BINARY rather than BODY
	Size   bool // BINARY.SIZE
	Peek   bool // .PEEK: do not set \Seen
	// Part is the section's part path, e.g. [1 2] for "1.2"; empty for the
	// whole message.
	Part      []uint32
	Specifier PartSpecifier
	Fields    []string // HEADER.FIELDS (NOT) names, as written
	Partial   *Partial
}

// FetchAtt is one parsed FETCH attribute: a plain item, or a section.
type FetchAtt struct {
	Item    FetchItem     // FetchBodySection/FetchBinarySection/FetchBinarySize for sections
	Section *FetchSection // nil for plain items
}

// AppendSectionName appends the name under which the server returns the
// section in a FETCH response (RFC 9051 §7.5.2): ".PEEK" is dropped,
// field names are kept as requested, and a partial is written as
// "<offset>" only. For example BODY.PEEK[HEADER.FIELDS (From)]<0.10> is
// answered as BODY[HEADER.FIELDS (From)]<0>.
func (s *FetchSection) AppendSectionName(b []byte) []byte {
	switch {
	case s.Size:
		b = append(b, "BINARY.SIZE["...)
	case s.Binary:
		b = append(b, "BINARY["...)
	default:
		b = append(b, "BODY["...)
	}
	b = s.appendSpec(b)
	b = append(b, ']')
	if s.Partial != nil && !s.Size {
		b = append(b, '<')
		b = strconv.AppendUint(b, uint64(s.Partial.Offset), 10)
		b = append(b, '>')
	}
	return b
}

func (s *FetchSection) appendSpec(b []byte) []byte {
	for i, p := range s.Part {
		if i > 0 {
			b = append(b, '.')
		}
		b = strconv.AppendUint(b, uint64(p), 10)
	}
	if s.Specifier != PartEntire {
		if len(s.Part) > 0 {
			b = append(b, '.')
		}
		b = append(b, s.Specifier...)
	}
	if s.Specifier == PartHeaderFields || s.Specifier == PartHeaderFieldsNot {
		b = append(b, " ("...)
		for i, f := range s.Fields {
			if i > 0 {
				b = append(b, ' ')
			}
			b = appendAString(b, f)
		}
		b = append(b, ')')
	}
	return b
}

// String returns the section as a client writes it in a FETCH command,
// with .PEEK and the full partial.
func (s *FetchSection) String() string {
	var b []byte
	switch {
	case s.Size:
		b = append(b, "BINARY.SIZE["...)
	case s.Binary && s.Peek:
		b = append(b, "BINARY.PEEK["...)
	case s.Binary:
		b = append(b, "BINARY["...)
	case s.Peek:
		b = append(b, "BODY.PEEK["...)
	default:
		b = append(b, "BODY["...)
	}
	b = s.appendSpec(b)
	b = append(b, ']')
	if s.Partial != nil {
		b = append(b, '<')
		b = strconv.AppendUint(b, uint64(s.Partial.Offset), 10)
		b = append(b, '.')
		b = strconv.AppendUint(b, uint64(s.Partial.Count), 10)
		b = append(b, '>')
	}
	return string(b)
}

// appendAString writes s as an atom when it is one, else quoted (header
// field names never need a literal: they are printable ASCII).
func appendAString(b []byte, s string) []byte {
	atom := s != ""
	for i := 0; i < len(s) && atom; i++ {
		atom = IsAStringChar(s[i])
	}
	if atom {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// HeaderFieldMatch reports whether name is in fields (case-insensitive), as
// HEADER.FIELDS matching requires (RFC 9051 §6.4.5).
func HeaderFieldMatch(fields []string, name string) bool {
	for _, f := range fields {
		if strings.EqualFold(f, name) {
			return true
		}
	}
	return false
}
