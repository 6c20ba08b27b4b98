package imapwire

import (
	"github.com/posthorn/posthorn/imap"
)

// fetchNameClass: atom characters other than "[" and "<", so that
// "BODY.PEEK[HEADER]<0.10>" splits into name, section and partial.
var fetchNameClass = makeClass(func(c byte) bool { return imap.IsAtomChar(c) && c != '[' && c != '<' })

// sectionSpecClass: section-part digits and dots and section-text names.
var sectionSpecClass = makeClass(func(c byte) bool {
	return c >= '0' && c <= '9' || c == '.' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
})

// ReadFetchAtts reads the fetch items of a FETCH command (RFC 9051 §6.4.5,
// §9): a macro (ALL, FAST, FULL), a single fetch-att, or a parenthesised
// list of them. Macros come back as one FetchAtt whose Item is the macro.
func (d *Decoder) ReadFetchAtts() ([]imap.FetchAtt, error) {
	c, err := d.peek()
	if err != nil {
		return nil, unexpected(err)
	}
	if c == '(' {
		atts := make([]imap.FetchAtt, 0, 8)
		err := d.ReadList(false, func() error {
			a, err := d.readFetchAtt(false)
			atts = append(atts, a)
			return err
		})
		return atts, err
	}
	a, err := d.readFetchAtt(true)
	if err != nil {
		return nil, err
	}
	return []imap.FetchAtt{a}, nil
}

func (d *Decoder) readFetchAtt(macros bool) (imap.FetchAtt, error) {
	b, err := d.readRun(fetchNameClass)
	if err != nil {
		return imap.FetchAtt{}, err
	}
	if len(b) == 0 {
		return imap.FetchAtt{}, syntaxErr("expected fetch item")
	}
	name := upperString(b)
	switch imap.FetchItem(name) {
	case imap.FetchAll, imap.FetchFast, imap.FetchFull:
		if !macros {
			return imap.FetchAtt{}, syntaxErr("fetch macro inside a list")
		}
		return imap.FetchAtt{Item: imap.FetchItem(name)}, nil
	case imap.FetchBodyStructure, imap.FetchEnvelope, imap.FetchFlags, imap.FetchInternalDate,
		imap.FetchRFC822, imap.FetchRFC822Header, imap.FetchRFC822Size, imap.FetchRFC822Text,
		imap.FetchUID, imap.FetchModSeq:
		return imap.FetchAtt{Item: imap.FetchItem(name)}, nil
	}
	sec := &imap.FetchSection{}
	switch name {
	case "BODY":
		if c, err := d.peek(); err != nil || c != '[' {
			return imap.FetchAtt{Item: imap.FetchBody}, nil // BODY without section
		}
	case "BODY.PEEK":
		sec.Peek = true
	case "BINARY":
		sec.Binary = true
	case "BINARY.PEEK":
		sec.Binary, sec.Peek = true, true
	case "BINARY.SIZE":
		sec.Binary, sec.Size = true, true
	default:
		return imap.FetchAtt{}, syntaxErr("unknown fetch item " + name)
	}
	if err := d.readSection(sec); err != nil {
		return imap.FetchAtt{}, err
	}
	att := imap.FetchAtt{Item: imap.FetchBodySection, Section: sec}
	switch {
	case sec.Size:
		att.Item = imap.FetchBinarySize
		return att, nil // section-binary, no partial
	case sec.Binary:
		att.Item = imap.FetchBinarySection
	}
	if ok, err := d.Byte('<'); err != nil {
		return att, unexpected(err)
	} else if ok {
		off, err := d.ReadNumber()
		if err != nil {
			return att, err
		}
		if err := d.Expect('.'); err != nil {
			return att, err
		}
		n, err := d.ReadNZNumber()
		if err != nil {
			return att, err
		}
		if err := d.Expect('>'); err != nil {
			return att, err
		}
		sec.Partial = &imap.Partial{Offset: off, Count: n}
	}
	return att, nil
}

// readSection reads "[" section-spec "]" (or section-binary for BINARY).
func (d *Decoder) readSection(sec *imap.FetchSection) error {
	if err := d.Expect('['); err != nil {
		return err
	}
	b, err := d.readRun(sectionSpecClass)
	if err != nil {
		return err
	}
	// section-part: nz-number *("." nz-number)
	for len(b) > 0 && b[0] >= '0' && b[0] <= '9' {
		var n uint64
		i := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			n = n*10 + uint64(b[i]-'0')
			if n > 0xffffffff {
				return syntaxErr("section number out of range")
			}
			i++
		}
		if n == 0 || len(sec.Part) >= 100 {
			return syntaxErr("bad section number")
		}
		sec.Part = append(sec.Part, uint32(n))
		b = b[i:]
		if len(b) == 0 {
			break
		}
		if b[0] != '.' || len(b) == 1 {
			return syntaxErr("bad section part")
		}
		b = b[1:]
	}
	if len(b) > 0 {
		if sec.Binary {
			return syntaxErr("BINARY takes a part number only")
		}
		switch spec := imap.PartSpecifier(upperString(b)); spec {
		case imap.PartHeader, imap.PartText:
			sec.Specifier = spec
		case imap.PartMIME:
			if len(sec.Part) == 0 {
				return syntaxErr("MIME needs a part number")
			}
			sec.Specifier = spec
		case imap.PartHeaderFields, imap.PartHeaderFieldsNot:
			sec.Specifier = spec
			if err := d.SP(); err != nil {
				return err
			}
			err := d.ReadList(false, func() error {
				f, err := d.ReadAString()
				sec.Fields = append(sec.Fields, f)
				return err
			})
			if err != nil {
				return err
			}
		default:
			return syntaxErr("bad section text")
		}
	}
	return d.Expect(']')
}
