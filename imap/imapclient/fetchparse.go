package imapclient

import (
	"bytes"
	"io"
	"strconv"
	"strings"

	"github.com/posthorn/posthorn/imap"
)

// readFetch reads "(" msg-att ")" CRLF of "* n FETCH" (RFC 9051 §7.5.2)
// and hands the items to whoever takes them: a streaming FETCH, a command
// that collects (STORE, SELECT), or the Handler.
func (c *Client) readFetch(seq uint32) error {
	target := c.route("FETCH")
	if target != nil && target.fetch != nil {
		return c.streamFetch(seq, target)
	}
	buf := &FetchMessageBuffer{SeqNum: seq}
	err := c.readFetchItems(func(it FetchItemData) error {
		if s, ok := it.(FetchItemBodySection); ok && !s.Nil {
			// Not streamed: read into memory, bounded by MaxString.
			if s.Size > c.lim.MaxString {
				return &LimitError{What: "unsolicited body section", Limit: c.lim.MaxString}
			}
		}
		return buf.add(it)
	})
	if err != nil {
		return err
	}
	if target != nil {
		target.data = append(target.data, buf)
		return nil
	}
	c.mu.Lock()
	m, current := c.mailboxTargetLocked()
	c.mu.Unlock()
	if h := c.handler(); (current || m == nil) && h.Fetch != nil {
		h.Fetch(buf)
	}
	return nil
}

// LimitError reports server data over one of the client's Limits; the
// connection is closed.
type LimitError struct {
	What  string
	Limit int64
}

// Error describes the limit that was exceeded.
func (e *LimitError) Error() string {
	return "imapclient: " + e.What + " exceeds the limit of " + strconv.FormatInt(e.Limit, 10) + " bytes"
}

// streamFetch delivers one message's items to a streaming FETCH. Items
// travel in batches up to and including the next body section; after a
// section the reader goroutine waits until the consumer moves on (it reads
// the literal off the socket meanwhile). Messages without sections go into
// the buffered events channel at once, so parsing runs ahead of the
// consumer. When the command is abandoned the rest is read and dropped.
func (c *Client) streamFetch(seq uint32, cmd *command) error {
	f := cmd.fetch
	msg := &FetchMessage{SeqNum: seq, f: f}
	live := true
	sent := false
	batch := msg.buf[:0]
	send := func(final bool) {
		sent = true
		select {
		case f.events <- fetchEvent{msg: msg, items: batch, final: final}:
		case <-cmd.abandoned:
			live = false
		}
	}
	err := c.readFetchItems(func(it FetchItemData) error {
		s, isSection := it.(FetchItemBodySection)
		if !live {
			if isSection {
				return discard(s.Literal)
			}
			return nil
		}
		if !isSection {
			batch = append(batch, it)
			return nil
		}
		sr := &msg.sr
		if sr.r != nil {
			sr = &sectionReader{}
		}
		sr.r = s.Literal
		s.Literal = sr
		batch = append(batch, s)
		send(false)
		batch = nil
		if live {
			select {
			case <-f.ack:
			case <-cmd.abandoned:
				live = false
			}
		}
		sr.kill()
		return discard(sr.r)
	})
	if err != nil {
		return err
	}
	if live && (len(batch) > 0 || !sent) {
		send(true)
	}
	return nil
}

// readFetchItems reads the parenthesised item list and its CRLF, calling
// sink for each item. Body section literals must be consumed (or
// left for discarding) before sink returns.
func (c *Client) readFetchItems(sink func(FetchItemData) error) error {
	d := c.dec
	if err := d.Expect('('); err != nil {
		return err
	}
	for {
		// Tolerate extra spaces (seen from real servers).
		b, err := d.PeekByte()
		if err != nil {
			return err
		}
		if b == ' ' {
			d.Byte(' ')
			continue
		}
		if b == ')' {
			d.Byte(')')
			break
		}
		if err := c.readFetchItem(sink); err != nil {
			return err
		}
	}
	// Tolerate trailing spaces before CRLF.
	for {
		ok, err := d.Byte(' ')
		if err != nil {
			return err
		}
		if !ok {
			break
		}
	}
	return d.ReadCRLF()
}

func (c *Client) readFetchItem(sink func(FetchItemData) error) error {
	d := c.dec
	raw, err := d.ReadAtomBytes()
	if err != nil {
		return err
	}
	// Upper-cased on the stack: the item names of every message are
	// matched without allocating.
	var ubuf [48]byte
	u := ubuf[:0]
	for _, ch := range raw {
		if 'a' <= ch && ch <= 'z' {
			ch -= 'a' - 'A'
		}
		u = append(u, ch)
	}
	if i := bytes.IndexByte(u, '['); i >= 0 {
		return c.readSectionItem(u[:i], u, sink)
	}
	name := string(u) // does not escape: compared below, or copied for FetchItemOther
	if err := d.SP(); err != nil {
		return err
	}
	switch name {
	case "UID":
		n, err := d.ReadNumber()
		if err != nil {
			return err
		}
		return sink(FetchItemUID{UID: n})
	case "FLAGS":
		flags, err := c.readFlagList()
		if err != nil {
			return err
		}
		return sink(FetchItemFlags{Flags: flags})
	case "RFC822.SIZE":
		n, err := d.ReadNumber64()
		if err != nil {
			return err
		}
		return sink(FetchItemRFC822Size{Size: int64(n)})
	case "INTERNALDATE":
		t, err := d.ReadDateTime()
		if err != nil {
			return err
		}
		return sink(FetchItemInternalDate{Time: t})
	case "ENVELOPE":
		env, err := d.ReadEnvelope()
		if err != nil {
			return err
		}
		return sink(FetchItemEnvelope{Envelope: env})
	case "BODYSTRUCTURE", "BODY":
		bs, err := d.ReadBodyStructure()
		if err != nil {
			return err
		}
		return sink(FetchItemBodyStructure{BodyStructure: bs, Extended: name == "BODYSTRUCTURE"})
	case "MODSEQ":
		if err := d.Expect('('); err != nil {
			return err
		}
		n, err := d.ReadNumber64()
		if err != nil {
			return err
		}
		if err := d.Expect(')'); err != nil {
			return err
		}
		return sink(FetchItemModSeq{ModSeq: n})
	case "RFC822", "RFC822.HEADER", "RFC822.TEXT":
		sec := &imap.FetchSection{}
		switch name {
		case "RFC822.HEADER":
			sec.Specifier = imap.PartHeader
		case "RFC822.TEXT":
			sec.Specifier = imap.PartText
		}
		return c.readSectionValue(sec, sink)
	}
	v, err := c.readValue()
	if err != nil {
		return err
	}
	return sink(FetchItemOther{Name: strings.Clone(name), Value: v})
}

// readFlagList reads a flag list, tolerating the extra spaces some
// servers put inside it ("(\Seen )").
func (c *Client) readFlagList() ([]imap.Flag, error) {
	d := c.dec
	if err := d.Expect('('); err != nil {
		return nil, err
	}
	flags := []imap.Flag{}
	for {
		b, err := d.PeekByte()
		if err != nil {
			return nil, err
		}
		switch b {
		case ' ':
			d.Byte(' ')
			continue
		case ')':
			d.Byte(')')
			return flags, nil
		}
		f, err := d.ReadFlag(true)
		if err != nil {
			return nil, err
		}
		flags = append(flags, f)
	}
}

// readSectionItem reads the rest of BODY[spec ...]<origin> SP value,
// atom (upper-cased, "BODY[1.2.TEXT") having been read up to (not
// including) "]" or SP; kind is the part before "[".
func (c *Client) readSectionItem(kind, atom []byte, sink func(FetchItemData) error) error {
	d := c.dec
	next, err := d.PeekByte()
	if err != nil {
		return err
	}
	var sec *imap.FetchSection
	if next == ']' && string(atom) == c.secKey {
		// The same section as the previous message's: share it.
		sec = c.secVal
	} else {
		sec = &imap.FetchSection{}
		switch string(kind) {
		case "BODY":
		case "BINARY":
			sec.Binary = true
		case "BINARY.SIZE":
			sec.Binary, sec.Size = true, true
		default:
			return &syntaxError{"unknown fetch item " + string(kind)}
		}
		parseSectionSpec(sec, string(atom[len(kind)+1:]))
		if next == ']' {
			c.secKey, c.secVal = string(atom), sec
		}
	}
	if ok, err := d.Byte(' '); err != nil {
		return err
	} else if ok {
		err := d.ReadList(true, func() error {
			s, err := d.ReadAString()
			sec.Fields = append(sec.Fields, s)
			return err
		})
		if err != nil {
			return err
		}
	}
	if err := d.Expect(']'); err != nil {
		return err
	}
	if ok, err := d.Byte('<'); err != nil {
		return err
	} else if ok {
		n, err := d.ReadNumber()
		if err != nil {
			return err
		}
		if err := d.Expect('>'); err != nil {
			return err
		}
		if sec == c.secVal {
			cp := *sec
			sec = &cp
		}
		sec.Partial = &imap.Partial{Offset: n}
	}
	if err := d.SP(); err != nil {
		return err
	}
	if sec.Size {
		n, err := d.ReadNumber64()
		if err != nil {
			return err
		}
		return sink(FetchItemBinarySize{Section: sec, Size: int64(n)})
	}
	return c.readSectionValue(sec, sink)
}

// readSectionValue reads the nstring (or literal8) of a body section.
func (c *Client) readSectionValue(sec *imap.FetchSection, sink func(FetchItemData) error) error {
	d := c.dec
	b, err := d.PeekByte()
	if err != nil {
		return err
	}
	if b == '{' || b == '~' {
		r, info, err := d.ReadLiteralReader(c.lim.MaxSection, true)
		if err != nil {
			return err
		}
		if err := sink(FetchItemBodySection{Section: sec, Literal: r, Size: info.Size}); err != nil {
			return err
		}
		return discard(r)
	}
	s, isNil, err := d.ReadNString()
	if err != nil {
		return err
	}
	return sink(FetchItemBodySection{Section: sec, Literal: strings.NewReader(s), Size: int64(len(s)), Nil: isNil})
}

// parseSectionSpec fills Part and Specifier from "1.2.HEADER.FIELDS".
func parseSectionSpec(sec *imap.FetchSection, spec string) {
	for spec != "" {
		i := strings.IndexByte(spec, '.')
		head := spec
		if i >= 0 {
			head = spec[:i]
		}
		n, err := strconv.ParseUint(head, 10, 32)
		if err != nil {
			break
		}
		sec.Part = append(sec.Part, uint32(n))
		if i < 0 {
			spec = ""
		} else {
			spec = spec[i+1:]
		}
	}
	sec.Specifier = imap.PartSpecifier(spec)
}

type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return "imapclient: " + e.msg }

var _ io.Reader = (*sectionReader)(nil)
