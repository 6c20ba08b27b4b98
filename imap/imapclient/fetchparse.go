package imapclient

import (
	"bytes"
	"errors"
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
		err := c.streamFetch(seq, target)
		if err == errHandedBack {
			// The caller parsed on and stopped at a response start.
			return nil
		}
		return err
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
// travel in batches up to and including the next body section. Messages
// without sections go into the buffered events channel at once, so
// parsing runs ahead of the consumer. After a section the consumer owns
// the decoder (FetchCommand.owned): it reads the literal off the socket
// and then parses on by itself (parseOn) while this goroutine waits, until
// it hands the decoder back at the start of a response (errHandedBack)
// or the command is abandoned, when this goroutine takes the decoder back
// wherever the consumer left it and reads the rest of that message,
// dropping it.
func (c *Client) streamFetch(seq uint32, cmd *command) error {
	f := cmd.fetch
	msg := &FetchMessage{SeqNum: seq, f: f}
	live := true
	sent := false
	batch := msg.buf[:0]
	send := func(final bool) {
		sent = true
		f.pend = append(f.pend, fetchEvent{msg: msg, items: batch, final: final})
		// A section is handed over at once: this goroutine waits for
		// the consumer next.
		if !final || len(f.pend) >= fetchBatch || c.br.Buffered() == 0 {
			live = f.flush() && live
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
		sr := msg.newSectionReader(s.Literal)
		s.Literal = sr
		batch = append(batch, s)
		f.pmu.Lock()
		f.owned, f.cur = true, sr
		f.pmu.Unlock()
		send(false)
		batch = nil
		if live {
			select {
			case <-f.ack:
			case <-cmd.abandoned:
			}
		}
		f.pmu.Lock()
		owned, cur, ierr := f.owned, f.cur, f.inlineErr
		f.owned, f.inlineErr = false, nil
		f.pmu.Unlock()
		if !owned {
			if ierr != nil {
				return ierr
			}
			return errHandedBack
		}
		// Abandoned while the consumer held a section, of this message
		// or of a later one it parsed: drop it and the rest of its
		// message (readFetchItems reads on from where the decoder is).
		live = false
		cur.kill()
		return discard(cur.r)
	})
	if err != nil {
		return err
	}
	if live && (len(batch) > 0 || !sent) {
		send(true)
	}
	return nil
}

// flush hands the gathered events to the consumer; it reports false when
// the command was abandoned instead. Reader goroutine only.
func (f *FetchCommand) flush() bool {
	if len(f.pend) == 0 {
		return true
	}
	select {
	case f.events <- f.pend:
		select {
		case f.pend = <-f.free:
		default:
			f.pend = make([]fetchEvent, 0, fetchBatch)
		}
		return true
	case <-f.cmd.abandoned:
		f.pend = f.pend[:0]
		return false
	}
}

// errHandedBack ends the reader goroutine's parsing of a FETCH response
// when the consumer parsed on and handed the decoder back at the start of
// a later response.
var errHandedBack = errors.New("imapclient: decoder handed back")

// errSectionPending stops the consumer's parsing at a body section, whose
// literal the caller then reads.
var errSectionPending = errors.New("imapclient: body section pending")

// newSectionReader wraps a section's literal, using the message's own
// sectionReader for its first section.
func (m *FetchMessage) newSectionReader(r io.Reader) *sectionReader {
	sr := &m.sr
	if sr.r != nil {
		sr = &sectionReader{}
	}
	sr.r = r
	return sr
}

// parseOn runs in the consumer when it moves past a body section of m:
// it drops what is left of the section, parses the rest of m into its
// queue, and, when m ends, parses the next response too if it is a FETCH
// for this command (stashing it for FetchCommand.Next). It hands the
// decoder back to the reader goroutine at the start of any other
// response, or when parsing fails.
func (f *FetchCommand) parseOn(m *FetchMessage) {
	f.pmu.Lock()
	defer f.pmu.Unlock()
	if f.ctx.Err() != nil {
		// context.AfterFunc abandons the command from its own
		// goroutine, maybe not yet: do it now, so nothing more is
		// parsed here.
		f.cmd.abandon()
	}
	if !f.owned || f.abandoned() {
		// The reader goroutine takes (or took) the decoder back and
		// drops the rest.
		m.queue, m.final = nil, true
		return
	}
	c := f.c
	f.cur.kill()
	if err := discard(f.cur.r); err != nil {
		m.queue, m.final = nil, true
		f.handBack(err)
		return
	}
	items, ended, err := c.parseItems(m)
	m.queue, m.final = items, ended
	if err != nil {
		m.queue, m.final = nil, true
		f.handBack(err)
		return
	}
	if !ended {
		return // stopped at the next section of m
	}
	next, err := c.peekFetch(f.cmd)
	if err != nil || next == nil {
		f.handBack(err)
		return
	}
	items, ended, err = c.parseItems(next)
	if err != nil {
		f.handBack(err)
		return
	}
	f.stash = &fetchEvent{msg: next, items: items, final: ended}
	if ended {
		f.handBack(nil)
	}
}

// handBack gives the decoder back to the reader goroutine; f.pmu is held.
func (f *FetchCommand) handBack(err error) {
	f.owned, f.inlineErr = false, err
	select {
	case f.ack <- struct{}{}:
	default:
	}
}

// parseItems parses a message's items, in the consumer, up to the next
// body section (which it wraps and makes f.cur) or the end of the message
// (ended).
func (c *Client) parseItems(m *FetchMessage) (items []FetchItemData, ended bool, err error) {
	d := c.dec
	items = m.buf[:0]
	f := m.f
	for {
		b, err := d.PeekByte()
		if err != nil {
			return items, false, err
		}
		switch b {
		case ' ':
			d.Byte(' ')
			continue
		case ')':
			d.Byte(')')
			for {
				ok, err := d.Byte(' ')
				if err != nil {
					return items, false, err
				}
				if !ok {
					break
				}
			}
			return items, true, d.ReadCRLF()
		}
		err = c.readFetchItem(func(it FetchItemData) error {
			if s, ok := it.(FetchItemBodySection); ok {
				sr := m.newSectionReader(s.Literal)
				s.Literal = sr
				f.cur = sr
				items = append(items, s)
				return errSectionPending
			}
			items = append(items, it)
			return nil
		})
		if err == errSectionPending {
			return items, false, nil
		}
		if err != nil {
			return items, false, err
		}
	}
}

// peekFetch looks at the next response without consuming it unless it is
// "* n FETCH (" for cmd; then it reads that far and returns the new
// message. Only bytes of the response's own line are peeked at, which the
// server sends whole, so the peek never waits for more than is coming.
func (c *Client) peekFetch(cmd *command) (*FetchMessage, error) {
	br := c.br
	const prefix = "* "
	i := 0
	state := 0 // 0 "* ", 1 digits, 2 "FETCH (" after SP
	ndigits := 0
	const word = " FETCH ("
	w := 0
	for {
		b, err := br.Peek(i + 1)
		if err != nil {
			return nil, err
		}
		ch := b[i]
		switch state {
		case 0:
			if ch != prefix[i] {
				return nil, nil
			}
			if i == 1 {
				state = 1
			}
		case 1:
			if ch >= '0' && ch <= '9' && ndigits < 10 {
				ndigits++
				break
			}
			if ndigits == 0 {
				return nil, nil
			}
			state = 2
			fallthrough
		case 2:
			if ch|0x20 != word[w]|0x20 {
				return nil, nil
			}
			w++
		}
		i++
		if w == len(word) {
			break
		}
	}
	if c.route("FETCH") != cmd {
		return nil, nil
	}
	d := c.dec
	d.Byte('*')
	d.SP()
	seq, err := d.ReadNumber()
	if err != nil {
		return nil, err
	}
	if err := d.SP(); err != nil {
		return nil, err
	}
	if _, err := d.ReadAtomBytes(); err != nil {
		return nil, err
	}
	if err := d.SP(); err != nil {
		return nil, err
	}
	if err := d.Expect('('); err != nil {
		return nil, err
	}
	return &FetchMessage{SeqNum: seq, f: cmd.fetch}, nil
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
