package imapwire

import (
	"strings"

	"github.com/posthorn/posthorn/imap"
)

// This file is the client side of structure.go: it reads ENVELOPE and
// BODY/BODYSTRUCTURE data as servers send them (RFC 9051 §9, envelope and
// body), tolerating what real servers do: NIL where a string is due,
// spaces between the addresses of a list or the parts of a multipart, and
// unknown extension data.

// readNStr reads an nstring, "" for NIL. An atom is accepted too.
func (d *Decoder) readNStr() (string, error) {
	c, err := d.peek()
	if err != nil {
		return "", unexpected(err)
	}
	switch c {
	case '"', '{', '~':
		if c == '~' {
			b, err := d.readLiteralBytes(true)
			return string(b), err
		}
		b, err := d.ReadStringBytes()
		if s, ok := structureWords[string(b)]; ok {
			return s, err
		}
		return string(b), err
	}
	b, err := d.readRun(astringClass)
	if err != nil {
		return "", err
	}
	if len(b) == 0 {
		return "", syntaxErr("expected string")
	}
	if len(b) == 3 && upperString(b) == "NIL" {
		return "", nil
	}
	return string(b), nil
}

// structureWords holds the media types, parameter names and values,
// encodings and dispositions that fill most body structures, as servers
// spell them, so that reading them allocates nothing.
var structureWords = func() map[string]string {
	m := map[string]string{}
	for _, w := range strings.Fields(`text plain html multipart alternative mixed related signed report
		application octet-stream pdf image jpeg png gif message rfc822 global delivery-status
		charset utf-8 us-ascii iso-8859-1 iso-8859-15 windows-1252 boundary name filename format flowed delsp yes
		7bit 8bit binary base64 quoted-printable attachment inline`) {
		m[w] = w
		u := strings.ToUpper(w)
		m[u] = u
	}
	return m
}()

// isNIL consumes NIL if it comes next.
func (d *Decoder) isNIL() (bool, error) {
	c, err := d.peek()
	if err != nil || (c != 'N' && c != 'n') {
		return false, unexpected(err)
	}
	return true, d.ReadNIL()
}

// ReadEnvelope reads an envelope (RFC 9051 §9).
func (d *Decoder) ReadEnvelope() (*imap.Envelope, error) {
	if err := d.Expect('('); err != nil {
		return nil, err
	}
	env := &imap.Envelope{}
	var err error
	if env.Date, err = d.readNStr(); err != nil {
		return nil, err
	}
	if err = d.SP(); err != nil {
		return nil, err
	}
	if env.Subject, err = d.readNStr(); err != nil {
		return nil, err
	}
	for _, l := range []*[]imap.Address{&env.From, &env.Sender, &env.ReplyTo, &env.To, &env.Cc, &env.Bcc} {
		if err = d.SP(); err != nil {
			return nil, err
		}
		if *l, err = d.readAddressList(); err != nil {
			return nil, err
		}
	}
	if err = d.SP(); err != nil {
		return nil, err
	}
	if env.InReplyTo, err = d.readNStr(); err != nil {
		return nil, err
	}
	if err = d.SP(); err != nil {
		return nil, err
	}
	if env.MessageID, err = d.readNStr(); err != nil {
		return nil, err
	}
	return env, d.Expect(')')
}

func (d *Decoder) readAddressList() ([]imap.Address, error) {
	if ok, err := d.isNIL(); ok || err != nil {
		return nil, err
	}
	if err := d.Expect('('); err != nil {
		return nil, err
	}
	var l []imap.Address
	for {
		c, err := d.peek()
		if err != nil {
			return nil, unexpected(err)
		}
		switch c {
		case ')':
			return l, d.consume(1)
		case ' ':
			if err := d.consume(1); err != nil {
				return nil, err
			}
			continue
		}
		if len(l) >= 10000 {
			return nil, syntaxErr("too many addresses")
		}
		if err := d.Expect('('); err != nil {
			return nil, err
		}
		var a imap.Address
		for i, f := range []*string{&a.Name, &a.ADL, &a.Mailbox, &a.Host} {
			if i > 0 {
				if err := d.SP(); err != nil {
					return nil, err
				}
			}
			if *f, err = d.readNStr(); err != nil {
				return nil, err
			}
		}
		if err := d.Expect(')'); err != nil {
			return nil, err
		}
		l = append(l, a)
	}
}

// ReadBodyStructure reads a body (RFC 9051 §9), with or without extension
// data. Unknown extension data is skipped.
func (d *Decoder) ReadBodyStructure() (*imap.BodyStructure, error) {
	if err := d.Expect('('); err != nil {
		return nil, err
	}
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > d.lim.MaxDepth {
		return nil, &Error{Kind: ErrTooDeep}
	}
	c, err := d.peek()
	if err != nil {
		return nil, unexpected(err)
	}
	bs := &imap.BodyStructure{}
	if c == '(' {
		return bs, d.readMultipart(bs)
	}
	return bs, d.readSinglePart(bs)
}

func (d *Decoder) readMultipart(bs *imap.BodyStructure) error {
	bs.MediaType = "MULTIPART"
	for {
		c, err := d.peek()
		if err != nil {
			return unexpected(err)
		}
		if c == ' ' {
			if err := d.consume(1); err != nil {
				return err
			}
			if c, err = d.peek(); err != nil {
				return unexpected(err)
			}
		}
		if c != '(' {
			break
		}
		child, err := d.ReadBodyStructure()
		if err != nil {
			return err
		}
		bs.Children = append(bs.Children, child)
	}
	var err error
	if bs.SubType, err = d.readNStr(); err != nil {
		return err
	}
	more, err := d.extSP()
	if err != nil || !more {
		return err
	}
	if bs.Params, err = d.readParams(); err != nil {
		return err
	}
	return d.readExtTail(bs)
}

func (d *Decoder) readSinglePart(bs *imap.BodyStructure) error {
	var err error
	if bs.MediaType, err = d.readNStr(); err != nil {
		return err
	}
	if err = d.SP(); err != nil {
		return err
	}
	if bs.SubType, err = d.readNStr(); err != nil {
		return err
	}
	if err = d.SP(); err != nil {
		return err
	}
	if bs.Params, err = d.readParams(); err != nil {
		return err
	}
	for _, f := range []*string{&bs.ID, &bs.Description, &bs.Encoding} {
		if err = d.SP(); err != nil {
			return err
		}
		if *f, err = d.readNStr(); err != nil {
			return err
		}
	}
	if err = d.SP(); err != nil {
		return err
	}
	size, err := d.ReadNumber64()
	if err != nil {
		return err
	}
	bs.Size = int64(size)
	mt, st := strings.ToUpper(bs.MediaType), strings.ToUpper(bs.SubType)
	if mt == "MESSAGE" && (st == "RFC822" || st == "GLOBAL") {
		// body-type-msg; some servers omit the rest for message/global
		if c, err := d.peek(); err == nil && c == ' ' {
			_ = d.consume(1)
			if c, err := d.peek(); err == nil && c == '(' {
				if bs.Envelope, err = d.ReadEnvelope(); err != nil {
					return err
				}
				if err = d.SP(); err != nil {
					return err
				}
				if bs.Body, err = d.ReadBodyStructure(); err != nil {
					return err
				}
				if err = d.SP(); err != nil {
					return err
				}
				n, err := d.ReadNumber64()
				if err != nil {
					return err
				}
				bs.Lines = int64(n)
			} else {
				return d.readSingleExt(bs, true)
			}
		}
	} else if mt == "TEXT" {
		if err = d.SP(); err != nil {
			return err
		}
		n, err := d.ReadNumber64()
		if err != nil {
			return err
		}
		bs.Lines = int64(n)
	}
	return d.readSingleExt(bs, false)
}

// readSingleExt reads [SP body-fld-md5 [SP dsp [SP lang [SP loc ...]]]] ")".
// afterSP is true when the space before the MD5 was already consumed.
func (d *Decoder) readSingleExt(bs *imap.BodyStructure, afterSP bool) error {
	if !afterSP {
		more, err := d.extSP()
		if err != nil || !more {
			return err
		}
	}
	var err error
	if bs.MD5, err = d.readNStr(); err != nil {
		return err
	}
	return d.readExtTail(bs)
}

// extSP consumes the SP before optional extension data, or the closing
// ")" (reporting false).
func (d *Decoder) extSP() (bool, error) {
	c, err := d.peek()
	if err != nil {
		return false, unexpected(err)
	}
	if c == ')' {
		return false, d.consume(1)
	}
	return true, d.SP()
}

// readExtTail reads [SP dsp [SP lang [SP loc *(SP ext)]]] ")".
func (d *Decoder) readExtTail(bs *imap.BodyStructure) error {
	more, err := d.extSP()
	if err != nil || !more {
		return err
	}
	if none, err := d.isNIL(); err != nil {
		return err
	} else if !none {
		if err := d.Expect('('); err != nil {
			return err
		}
		if bs.Disposition, err = d.readNStr(); err != nil {
			return err
		}
		if err := d.SP(); err != nil {
			return err
		}
		if bs.DispositionParams, err = d.readParams(); err != nil {
			return err
		}
		if err := d.Expect(')'); err != nil {
			return err
		}
	}
	if more, err = d.extSP(); err != nil || !more {
		return err
	}
	if c, err := d.peek(); err != nil {
		return unexpected(err)
	} else if c == '(' {
		err := d.ReadList(true, func() error {
			s, err := d.readNStr()
			bs.Language = append(bs.Language, s)
			return err
		})
		if err != nil {
			return err
		}
	} else {
		s, err := d.readNStr()
		if err != nil {
			return err
		}
		if s != "" {
			bs.Language = []string{s}
		}
	}
	if more, err = d.extSP(); err != nil || !more {
		return err
	}
	if bs.Location, err = d.readNStr(); err != nil {
		return err
	}
	for {
		if more, err = d.extSP(); err != nil || !more {
			return err
		}
		if err := d.skipValue(); err != nil {
			return err
		}
	}
}

// readParams reads body-fld-param: a list of name/value pairs or NIL.
func (d *Decoder) readParams() ([]imap.Param, error) {
	if ok, err := d.isNIL(); ok || err != nil {
		return nil, err
	}
	var ps []imap.Param
	var name string
	n := 0
	err := d.ReadList(true, func() error {
		s, err := d.readNStr()
		if n%2 == 0 {
			name = s
		} else {
			ps = append(ps, imap.Param{Name: name, Value: s})
		}
		n++
		return err
	})
	// Servers send parameters as the message has them; the caller gets
	// RFC 2231 pieces joined and decoded (imap.BodyStructure.Params).
	return imap.DecodeParams(ps), err
}

// skipValue skips one value: an nstring, number, atom or list.
func (d *Decoder) skipValue() error {
	c, err := d.peek()
	if err != nil {
		return unexpected(err)
	}
	if c == '(' {
		return d.ReadList(true, d.skipValue)
	}
	_, err = d.readNStr()
	return err
}
