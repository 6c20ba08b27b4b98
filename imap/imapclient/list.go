package imapclient

import (
	"context"
	"strings"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/internal/imapwire"
)

// ListData is one LIST response (RFC 9051 §7.3.1, RFC 5258 §3.4).
type ListData struct {
	Attrs []imap.MailboxAttr
	// Delim is the hierarchy delimiter, 0 when the server sent NIL (a flat
	// namespace).
	Delim rune
	// Mailbox is the name in UTF-8 (decoded from modified UTF-7 unless the
	// session enabled UTF-8).
	Mailbox string
	// ChildInfo holds the CHILDINFO extended data (RFC 5258 §4),
	// e.g. "SUBSCRIBED".
	ChildInfo []string
	// OldName is the OLDNAME extended data (RFC 9051 §6.3.9.7).
	OldName string
	// Status holds the STATUS response that followed, when LIST-STATUS was
	// used (RFC 5819).
	Status *imap.StatusData
}

// ListOptions are the selection and return options of an extended LIST
// (RFC 5258 §3, RFC 5819, RFC 6154 §5). The zero value is a plain LIST.
type ListOptions struct {
	SelectSubscribed     bool
	SelectRemote         bool
	SelectRecursiveMatch bool
	SelectSpecialUse     bool

	ReturnSubscribed bool
	ReturnChildren   bool
	ReturnSpecialUse bool
	// ReturnStatus asks for STATUS of each listed mailbox (LIST-STATUS).
	ReturnStatus []imap.StatusItem
}

// List lists mailboxes matching pattern under reference (RFC 9051 §6.3.9).
// Pattern may use "*" and "%". Names are given and returned in UTF-8.
func (c *Client) List(ctx context.Context, reference, pattern string, opts *ListOptions) ([]*ListData, error) {
	b := newLine("LIST ")
	if opts != nil {
		var sel []string
		if opts.SelectSubscribed {
			sel = append(sel, "SUBSCRIBED")
		}
		if opts.SelectRemote {
			sel = append(sel, "REMOTE")
		}
		if opts.SelectRecursiveMatch {
			sel = append(sel, "RECURSIVEMATCH")
		}
		if opts.SelectSpecialUse {
			sel = append(sel, "SPECIAL-USE")
		}
		if len(sel) > 0 {
			b.Bytes = append(b.Bytes, '(')
			b.Bytes = append(b.Bytes, strings.Join(sel, " ")...)
			b.Bytes = append(b.Bytes, ") "...)
		}
	}
	c.appendMailbox(b, reference)
	b.Bytes = append(b.Bytes, ' ')
	u := c.utf8()
	if !u {
		pattern = imap.EncodeMailboxName(pattern)
	}
	appendListMailbox(b, pattern, u)
	if opts != nil {
		var ret []string
		if opts.ReturnSubscribed {
			ret = append(ret, "SUBSCRIBED")
		}
		if opts.ReturnChildren {
			ret = append(ret, "CHILDREN")
		}
		if opts.ReturnSpecialUse {
			ret = append(ret, "SPECIAL-USE")
		}
		if len(opts.ReturnStatus) > 0 {
			items := make([]string, len(opts.ReturnStatus))
			for i, it := range opts.ReturnStatus {
				items[i] = string(it)
			}
			ret = append(ret, "STATUS ("+strings.Join(items, " ")+")")
		}
		if len(ret) > 0 {
			b.Bytes = append(b.Bytes, " RETURN ("...)
			b.Bytes = append(b.Bytes, strings.Join(ret, " ")...)
			b.Bytes = append(b.Bytes, ')')
		}
	}
	cmd, err := c.do(ctx, "LIST", b, "LIST", "STATUS")
	if err != nil {
		return nil, err
	}
	var out []*ListData
	byName := map[string]*ListData{}
	for _, v := range cmd.data {
		switch d := v.(type) {
		case *ListData:
			out = append(out, d)
			byName[d.Mailbox] = d
		case *imap.StatusData:
			if l := byName[d.Mailbox]; l != nil {
				l.Status = d
			}
		}
	}
	return out, nil
}

// appendListMailbox writes a list-mailbox: an atom-like run when it is
// one (wildcards allowed), else a string.
func appendListMailbox(b *imapwire.Command, s string, utf8 bool) {
	ok := s != ""
	for i := 0; i < len(s) && ok; i++ {
		ok = imap.IsAStringChar(s[i]) || s[i] == '%' || s[i] == '*'
	}
	if ok {
		b.Raw(s)
		return
	}
	b.String(s, utf8)
}

// readList reads a LIST response after "LIST": SP mbx-list-flags SP
// (quoted-char / NIL) SP mailbox [SP mbox-list-extended].
func (c *Client) readList() (*ListData, error) {
	d := &ListData{}
	if err := c.dec.SP(); err != nil {
		return nil, err
	}
	err := c.dec.ReadList(true, func() error {
		f, err := c.dec.ReadFlag(false)
		d.Attrs = append(d.Attrs, imap.MailboxAttr(f).Canonical())
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := c.dec.SP(); err != nil {
		return nil, err
	}
	delim, isNil, err := c.dec.ReadNString()
	if err != nil {
		return nil, err
	}
	if !isNil && delim != "" {
		d.Delim = []rune(delim)[0]
	}
	if err := c.dec.SP(); err != nil {
		return nil, err
	}
	name, err := c.dec.ReadMailbox()
	if err != nil {
		return nil, err
	}
	d.Mailbox = c.decodeMailbox(name)
	rest, err := c.readValuesToEOL()
	if err != nil {
		return nil, err
	}
	// mbox-list-extended: (tag value tag value ...)
	if len(rest) == 1 {
		if l, ok := rest[0].([]Value); ok {
			for i := 0; i+1 < len(l); i += 2 {
				tag, _ := l[i].(string)
				switch strings.ToUpper(tag) {
				case "CHILDINFO":
					if vl, ok := l[i+1].([]Value); ok {
						for _, v := range vl {
							if s, ok := v.(string); ok {
								d.ChildInfo = append(d.ChildInfo, strings.ToUpper(s))
							}
						}
					}
				case "OLDNAME":
					if vl, ok := l[i+1].([]Value); ok && len(vl) == 1 {
						if s, ok := vl[0].(string); ok {
							d.OldName = c.decodeMailbox(s)
						}
					}
				}
			}
		}
	}
	return d, nil
}

// readStatusData reads a STATUS response after "STATUS" (RFC 9051 §7.3.5).
func (c *Client) readStatusData() (*imap.StatusData, error) {
	if err := c.dec.SP(); err != nil {
		return nil, err
	}
	name, err := c.dec.ReadMailbox()
	if err != nil {
		return nil, err
	}
	d := &imap.StatusData{Mailbox: c.decodeMailbox(name)}
	if err := c.dec.SP(); err != nil {
		return nil, err
	}
	err = c.dec.ReadList(true, func() error {
		item, err := c.dec.ReadAtomUpper()
		if err != nil {
			return err
		}
		if err := c.dec.SP(); err != nil {
			return err
		}
		if ok, err := c.dec.AtEOL(); err != nil || ok {
			return err
		}
		if b, err := c.dec.PeekByte(); err == nil && (b == 'N' || b == 'n') {
			return c.dec.ReadNIL() // APPENDLIMIT NIL
		}
		n, err := c.dec.ReadNumber64()
		if err != nil {
			return err
		}
		u32 := func() *uint32 { v := uint32(n); return &v }
		switch imap.StatusItem(item) {
		case imap.StatusMessages:
			d.Messages = u32()
		case imap.StatusUIDNext:
			d.UIDNext = u32()
		case imap.StatusUIDValidity:
			d.UIDValidity = u32()
		case imap.StatusUnseen:
			d.Unseen = u32()
		case imap.StatusDeleted:
			d.Deleted = u32()
		case imap.StatusRecent:
			d.Recent = u32()
		case imap.StatusSize:
			v := int64(n)
			d.Size = &v
		case imap.StatusHighestModSeq:
			d.HighestModSeq = &n
		case imap.StatusAppendLimit:
			d.AppendLimit = &n
		case imap.StatusDeletedStorage:
			v := int64(n)
			d.DeletedStorage = &v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, c.dec.ReadCRLF()
}

// Status asks for the status of a mailbox (RFC 9051 §6.3.11).
func (c *Client) Status(ctx context.Context, mailbox string, items []imap.StatusItem) (*imap.StatusData, error) {
	b := newLine("STATUS ")
	c.appendMailbox(b, mailbox)
	b.Bytes = append(b.Bytes, " ("...)
	for i, it := range items {
		if i > 0 {
			b.Bytes = append(b.Bytes, ' ')
		}
		b.Bytes = append(b.Bytes, it...)
	}
	b.Bytes = append(b.Bytes, ')')
	cmd, err := c.startKey(ctx, "STATUS", imap.CanonicalMailboxName(mailbox, 0), b, "STATUS")
	if err != nil {
		return nil, err
	}
	if err := c.wait(ctx, cmd); err != nil {
		return nil, err
	}
	for _, v := range cmd.data {
		if d, ok := v.(*imap.StatusData); ok {
			return d, nil
		}
	}
	return nil, errNoData("STATUS")
}
