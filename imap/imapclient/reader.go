package imapclient

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/posthorn/posthorn/imap"
)

// readLoop is the reader goroutine: it parses every response until the
// connection ends, then fails whatever is still pending.
func (c *Client) readLoop() {
	err := c.readResponses()
	c.mu.Lock()
	if c.err == nil {
		if errors.Is(err, io.EOF) {
			err = ErrClosed
		}
		c.err = err
	}
	final := c.err
	pend := c.pending
	c.pending = nil
	greeted := c.greeted
	c.greeted = true
	conn := c.conn
	c.state = StateLogout
	c.mu.Unlock()
	conn.Close()
	cmdErr := wrapClosed(final)
	for _, cmd := range pend {
		cmd.err = cmdErr
		if cmd.release != nil {
			cmd.release()
		}
		close(cmd.done)
	}
	if !greeted {
		c.greetCh <- cmdErr
	}
	close(c.closedCh)
}

func (c *Client) readResponses() error {
	for {
		b, err := c.dec.PeekByte()
		if err != nil {
			return err
		}
		switch b {
		case '+':
			err = c.readContinuation()
		case '*':
			c.dec.Byte('*')
			if err = c.dec.SP(); err == nil {
				err = c.readUntagged()
			}
			if err != nil && recoverable(err) {
				// A garbled or over-long untagged response is skipped
				// up to its end; the connection goes on.
				perr := &ParseError{Err: err}
				c.log.Warn(perr.Error())
				if err = c.skipResponse(err); err == nil {
					if h := c.handler(); h.ParseError != nil {
						h.ParseError(perr)
					}
				}
			}
		default:
			var nb *bufio.Reader
			nb, err = c.readTagged()
			if err == nil && nb != nil {
				c.dec.Reset(nb)
			}
		}
		if err != nil {
			return err
		}
	}
}

// readContinuation reads "+ text" (RFC 9051 §7.5) and hands the text to
// the command waiting for it.
func (c *Client) readContinuation() error {
	c.dec.Byte('+')
	if _, err := c.dec.Byte(' '); err != nil {
		return err
	}
	text, err := c.dec.ReadText()
	if err != nil {
		return err
	}
	if err := c.dec.ReadCRLF(); err != nil {
		return err
	}
	c.mu.Lock()
	ch := c.contWaiter
	c.contWaiter = nil
	c.mu.Unlock()
	if ch == nil {
		c.log.Debug("imapclient: unexpected continuation request")
		return nil
	}
	ch <- text
	return nil
}

// readStatus reads a status response's type and resp-text after the tag
// or "* " (RFC 9051 §7.1).
func (c *Client) readStatus(typ string) (statusResp, error) {
	r := statusResp{typ: imap.StatusType(typ)}
	// Servers omit the SP before an empty text.
	if _, err := c.dec.Byte(' '); err != nil {
		return r, err
	}
	var err error
	r.code, r.arg, r.text, err = c.dec.ReadRespText()
	if err != nil {
		return r, err
	}
	return r, c.dec.ReadCRLF()
}

// readTagged reads a tagged completion and finishes its command. It
// returns a new reader when the command switched the stream (STARTTLS,
// COMPRESS).
func (c *Client) readTagged() (*bufio.Reader, error) {
	tag, err := c.dec.ReadTag()
	if err != nil {
		return nil, err
	}
	if err := c.dec.SP(); err != nil {
		return nil, err
	}
	typ, err := c.dec.ReadAtomUpper()
	if err != nil {
		return nil, err
	}
	switch typ {
	case "OK", "NO", "BAD":
	default:
		return nil, fmt.Errorf("imapclient: bad tagged response type %q", typ)
	}
	r, err := c.readStatus(typ)
	if err != nil {
		return nil, err
	}
	if r.code == imap.CodeCapability {
		c.setCaps(strings.Fields(r.arg))
	}
	c.mu.Lock()
	var cmd *command
	for i, p := range c.pending {
		if p.tag == tag {
			cmd = p
			c.pending = append(c.pending[:i:i], c.pending[i+1:]...)
			break
		}
	}
	c.mu.Unlock()
	if cmd == nil {
		c.log.Debug("imapclient: response with unknown tag", "tag", tag)
		return nil, nil
	}
	cmd.resp = r
	if cmd.fetch != nil {
		cmd.fetch.flush()
	}
	if r.typ == imap.StatusOK && cmd.onOK != nil {
		cmd.onOK()
	}
	pause := cmd.pause
	if cmd.release != nil {
		cmd.release()
	}
	close(cmd.done)
	if pause != nil && r.typ == imap.StatusOK {
		nb, ok := <-pause
		if !ok {
			return nil, ErrClosed
		}
		return nb, nil
	}
	return nil, nil
}

func (c *Client) handler() *Handler {
	if c.opts.Handler == nil {
		return &Handler{}
	}
	return c.opts.Handler
}

// readUntagged reads one untagged response after "* " (RFC 9051 §7).
func (c *Client) readUntagged() error {
	b, err := c.dec.PeekByte()
	if err != nil {
		return err
	}
	if b >= '0' && b <= '9' {
		return c.readNumbered()
	}
	name, err := c.dec.ReadAtomUpper()
	if err != nil {
		return err
	}
	switch name {
	case "OK", "NO", "BAD", "BYE", "PREAUTH":
		r, err := c.readStatus(name)
		if err != nil {
			return err
		}
		return c.untaggedStatus(r)
	case "CAPABILITY":
		caps, err := c.readAtomsToEOL()
		if err != nil {
			return err
		}
		c.setCaps(caps)
		return nil
	case "ENABLED":
		caps, err := c.readAtomsToEOL()
		if err != nil {
			return err
		}
		c.mu.Lock()
		if c.enabled == nil {
			c.enabled = map[string]bool{}
		}
		for _, s := range caps {
			c.enabled[strings.ToUpper(s)] = true
		}
		c.mu.Unlock()
		return nil
	case "FLAGS":
		if err := c.dec.SP(); err != nil {
			return err
		}
		flags, err := c.dec.ReadFlagList()
		if err != nil {
			return err
		}
		c.mu.Lock()
		if m, _ := c.mailboxTargetLocked(); m != nil {
			m.Flags = flags
		}
		c.mu.Unlock()
		return c.dec.ReadCRLF()
	case "LIST", "LSUB":
		d, err := c.readList()
		if err != nil {
			return err
		}
		c.deliver("LIST", d)
		return nil
	case "STATUS":
		d, err := c.readStatusData()
		if err != nil {
			return err
		}
		if cmd := c.routeKey("STATUS", imap.CanonicalMailboxName(d.Mailbox, 0)); cmd != nil {
			cmd.data = append(cmd.data, d)
		}
		return nil
	case "SEARCH", "SORT":
		d, err := c.readSearch()
		if err != nil {
			return err
		}
		c.deliver(name, d)
		return nil
	case "ESEARCH":
		d, err := c.readESearch()
		if err != nil {
			return err
		}
		c.deliver("ESEARCH", d)
		return nil
	case "NAMESPACE":
		d, err := c.readNamespace()
		if err != nil {
			return err
		}
		c.deliver("NAMESPACE", d)
		return nil
	case "ID":
		d, err := c.readID()
		if err != nil {
			return err
		}
		c.deliver("ID", d)
		return nil
	case "VANISHED":
		return c.readVanished()
	case "QUOTA", "QUOTAROOT", "THREAD", "METADATA":
		v, err := c.readValuesToEOL()
		if err != nil {
			return err
		}
		c.deliver(name, taggedValues{name, v})
		return nil
	}
	c.log.Debug("imapclient: skipping unknown response", "name", name)
	_, err = c.readValuesToEOL()
	return err
}

// deliver routes untagged data to the oldest command that wants it.
func (c *Client) deliver(name string, v any) {
	if cmd := c.route(name); cmd != nil {
		cmd.data = append(cmd.data, v)
	}
}

func (c *Client) untaggedStatus(r statusResp) error {
	c.mu.Lock()
	greeting := !c.greeted
	c.greeted = true
	c.mu.Unlock()
	if r.code == imap.CodeCapability {
		c.setCaps(strings.Fields(r.arg))
	}
	if greeting {
		// RFC 9051 §7.1.1, §7.1.4, §7.1.5: the greeting is OK, PREAUTH or
		// BYE.
		switch r.typ {
		case imap.StatusBYE:
			err := r.err()
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			c.greetCh <- err
			return err
		case imap.StatusPREAUTH:
			c.mu.Lock()
			c.state = StateAuthenticated
			c.preauth = true
			c.mu.Unlock()
		}
		c.greetCh <- nil
		return nil
	}
	h := c.handler()
	switch r.typ {
	case imap.StatusBYE:
		err := r.err().(*imap.Error)
		c.mu.Lock()
		if c.err == nil {
			c.err = err
		}
		c.mu.Unlock()
		if h.Bye != nil {
			h.Bye(err)
		}
		return nil
	}
	if r.code == imap.CodeAlert && h.Alert != nil {
		h.Alert(r.text)
	}
	if cmd := c.route("OK"); cmd != nil {
		cmd.data = append(cmd.data, r)
	}
	c.mu.Lock()
	if m, _ := c.mailboxTargetLocked(); m != nil {
		applyCode(m, &r)
	}
	c.mu.Unlock()
	return nil
}

// readNumbered reads "* n EXISTS|EXPUNGE|RECENT|FETCH".
func (c *Client) readNumbered() error {
	n, err := c.dec.ReadNumber()
	if err != nil {
		return err
	}
	if err := c.dec.SP(); err != nil {
		return err
	}
	name, err := c.dec.ReadAtomUpper()
	if err != nil {
		return err
	}
	switch name {
	case "FETCH":
		if err := c.dec.SP(); err != nil {
			return err
		}
		return c.readFetch(n)
	case "EXISTS", "RECENT", "EXPUNGE":
		if err := c.dec.ReadCRLF(); err != nil {
			return err
		}
	default:
		_, err := c.readValuesToEOL()
		return err
	}
	c.mu.Lock()
	m, current := c.mailboxTargetLocked()
	if m != nil {
		switch name {
		case "EXISTS":
			m.NumMessages = n
		case "RECENT":
			m.Recent = n
		case "EXPUNGE":
			if m.NumMessages > 0 {
				m.NumMessages--
			}
		}
	}
	c.mu.Unlock()
	h := c.handler()
	switch name {
	case "EXISTS":
		if current && h.Exists != nil {
			h.Exists(n)
		}
	case "EXPUNGE":
		c.deliver("EXPUNGE", n)
		if h.Expunge != nil {
			h.Expunge(n)
		}
	}
	return nil
}

// readVanished reads "VANISHED [(EARLIER)] uid-set" (RFC 7162 §3.2.10).
func (c *Client) readVanished() error {
	if err := c.dec.SP(); err != nil {
		return err
	}
	earlier := false
	if ok, err := c.dec.Byte('('); err != nil {
		return err
	} else if ok {
		a, err := c.dec.ReadAtomUpper()
		if err != nil {
			return err
		}
		earlier = a == "EARLIER"
		if err := c.dec.Expect(')'); err != nil {
			return err
		}
		if err := c.dec.SP(); err != nil {
			return err
		}
	}
	set, err := c.dec.ReadNumSet()
	if err != nil {
		return err
	}
	if err := c.dec.ReadCRLF(); err != nil {
		return err
	}
	uids := imap.UIDSet{NumSet: set}
	c.mu.Lock()
	m, current := c.mailboxTargetLocked()
	if m != nil && !earlier {
		n := set.Count(0)
		if uint64(m.NumMessages) >= n {
			m.NumMessages -= uint32(n)
		} else {
			m.NumMessages = 0
		}
	}
	c.mu.Unlock()
	c.deliver("VANISHED", &Vanished{UIDs: uids, Earlier: earlier})
	if h := c.handler(); (current || m == nil) && h.Vanished != nil {
		h.Vanished(uids, earlier)
	}
	return nil
}

// Vanished is a VANISHED response (RFC 7162 §3.2.10).
type Vanished struct {
	UIDs    imap.UIDSet
	Earlier bool
}

// readAtomsToEOL reads " atom atom ..." up to CRLF.
func (c *Client) readAtomsToEOL() ([]string, error) {
	var l []string
	for {
		eol, err := c.dec.AtEOL()
		if err != nil {
			return nil, err
		}
		if eol {
			return l, c.dec.ReadCRLF()
		}
		if _, err := c.dec.Byte(' '); err != nil {
			return nil, err
		}
		if eol, err := c.dec.AtEOL(); err != nil || eol {
			continue
		}
		a, err := c.dec.ReadAtom()
		if err != nil {
			return nil, err
		}
		l = append(l, a)
	}
}

// Value is a generic IMAP value read from a response this package does
// not model: a string (atom, number, quoted or literal), nil for NIL, or
// a []Value list.
type Value = any

// readValuesToEOL reads generic values up to CRLF.
func (c *Client) readValuesToEOL() ([]Value, error) {
	var vs []Value
	for {
		eol, err := c.dec.AtEOL()
		if err != nil {
			return nil, err
		}
		if eol {
			return vs, c.dec.ReadCRLF()
		}
		if ok, err := c.dec.Byte(' '); err != nil {
			return nil, err
		} else if ok {
			continue
		}
		v, err := c.readValue()
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
}

// readValueList reads "(" values ")" with nesting bounded by MaxDepth.
func (c *Client) readValueList(depth int) (Value, error) {
	if depth >= c.lim.MaxDepth {
		return nil, &LimitError{What: "list nesting", Limit: int64(c.lim.MaxDepth)}
	}
	if err := c.dec.Expect('('); err != nil {
		return nil, err
	}
	l := []Value{}
	for {
		b, err := c.dec.PeekByte()
		if err != nil {
			return nil, err
		}
		switch b {
		case ')':
			c.dec.Byte(')')
			return l, nil
		case ' ':
			c.dec.Byte(' ')
			continue
		case '\r', '\n':
			return nil, &syntaxError{"unterminated list"}
		}
		var v Value
		if b == '(' {
			v, err = c.readValueList(depth + 1)
		} else {
			v, err = c.readValue()
		}
		if err != nil {
			return nil, err
		}
		l = append(l, v)
	}
}

// readValue reads one generic value. Bytes that fit no rule (stray
// brackets, backslashes) are returned as one-byte strings, so unknown
// responses from real servers are skipped rather than fatal.
func (c *Client) readValue() (Value, error) {
	b, err := c.dec.PeekByte()
	if err != nil {
		return nil, err
	}
	switch {
	case b == '(':
		// Lists are read here rather than with Decoder.ReadList so that
		// adjacent lists without a space, as THREAD sends them
		// ("(4 23)(44 7 96)"), and doubled spaces are accepted.
		return c.readValueList(0)
	case b == '"':
		q, err := c.dec.ReadQuotedBytes()
		return string(q), err
	case b == '{':
		s, err := c.dec.ReadString()
		return s, err
	case b == '~':
		r, _, err := c.dec.ReadLiteralReader(c.lim.MaxString, true)
		if err != nil {
			// "~" starting an atom.
			return nil, err
		}
		var sb strings.Builder
		_, err = io.Copy(&sb, r)
		return sb.String(), err
	case b == '\\':
		c.dec.Byte('\\')
		a, err := c.dec.ReadAtom()
		return `\` + a, err
	case imap.IsAtomChar(b):
		a, err := c.dec.ReadAtom()
		if err != nil {
			return nil, err
		}
		if strings.EqualFold(a, "NIL") {
			return nil, nil
		}
		return a, nil
	}
	c.dec.Byte(b)
	return string([]byte{b}), nil
}
