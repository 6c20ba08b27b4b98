package imapclient

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/posthorn/posthorn/imap"
)

func errNoData(cmd string) error {
	return fmt.Errorf("imapclient: %s completed without its data", cmd)
}

// Capability asks for the server's capabilities (RFC 9051 §6.1.1) and
// returns them upper-cased.
func (c *Client) Capability(ctx context.Context) ([]string, error) {
	if _, err := c.do(ctx, "CAPABILITY", newLine("CAPABILITY")); err != nil {
		return nil, err
	}
	return c.Caps(), nil
}

// Noop does nothing but gives the server a chance to send updates
// (RFC 9051 §6.1.2), which reach the Handler and the mailbox state.
func (c *Client) Noop(ctx context.Context) error {
	_, err := c.do(ctx, "NOOP", newLine("NOOP"))
	return err
}

// Logout ends the session (RFC 9051 §6.1.3) and closes the connection.
func (c *Client) Logout(ctx context.Context) error {
	_, err := c.do(ctx, "LOGOUT", newLine("LOGOUT"))
	var ie *imap.Error
	if errors.As(err, &ie) && ie.Type == imap.StatusBYE {
		err = nil // the BYE LOGOUT asks for
	}
	c.fail(ErrClosed)
	<-c.closedCh
	// RFC 9051 §6.1.3: the server answers LOGOUT with BYE and may close
	// the connection while our write is still finishing (under COMPRESS a
	// write is the command plus a flush), which then fails with "use of
	// closed network connection". A connection ended by the server's BYE
	// has logged out, whatever the write reported.
	var bye *imap.Error
	if err != nil && errors.As(c.Err(), &bye) && bye.Type == imap.StatusBYE {
		err = nil
	}
	return err
}

// afterAuth moves to the authenticated state; capabilities change after
// authentication, so unless the completion carried them they are
// forgotten and asked again when needed (RFC 9051 §6.2.3).
func (c *Client) afterAuth(cmd *command) {
	c.mu.Lock()
	c.state = StateAuthenticated
	if cmd.resp.code != imap.CodeCapability {
		c.caps = nil
	}
	c.mu.Unlock()
}

// Enable enables extensions (RFC 5161) and returns those the server
// enabled.
func (c *Client) Enable(ctx context.Context, caps ...string) ([]string, error) {
	b := newLine("ENABLE")
	for _, s := range caps {
		b.Bytes = append(b.Bytes, ' ')
		b.Bytes = append(b.Bytes, s...)
	}
	if _, err := c.do(ctx, "ENABLE", b); err != nil {
		return nil, err
	}
	var out []string
	c.mu.Lock()
	for _, s := range caps {
		if c.enabled[strings.ToUpper(s)] {
			out = append(out, strings.ToUpper(s))
		}
	}
	c.mu.Unlock()
	return out, nil
}

func (c *Client) mailboxCommand(ctx context.Context, name, mailbox string) error {
	b := newLine(name, " ")
	c.appendMailbox(b, mailbox)
	_, err := c.do(ctx, name, b)
	return err
}

// Create creates a mailbox (RFC 9051 §6.3.4). specialUse, when given,
// asks for special-use attributes (RFC 6154 §3, CREATE-SPECIAL-USE).
func (c *Client) Create(ctx context.Context, mailbox string, specialUse ...imap.MailboxAttr) error {
	if len(specialUse) == 0 {
		return c.mailboxCommand(ctx, "CREATE", mailbox)
	}
	b := newLine("CREATE ")
	c.appendMailbox(b, mailbox)
	b.Bytes = append(b.Bytes, " (USE ("...)
	for i, a := range specialUse {
		if i > 0 {
			b.Bytes = append(b.Bytes, ' ')
		}
		b.Bytes = append(b.Bytes, a...)
	}
	b.Bytes = append(b.Bytes, "))"...)
	_, err := c.do(ctx, "CREATE", b)
	return err
}

// Delete deletes a mailbox (RFC 9051 §6.3.5).
func (c *Client) Delete(ctx context.Context, mailbox string) error {
	return c.mailboxCommand(ctx, "DELETE", mailbox)
}

// Subscribe adds a mailbox to the subscriptions (RFC 9051 §6.3.7).
func (c *Client) Subscribe(ctx context.Context, mailbox string) error {
	return c.mailboxCommand(ctx, "SUBSCRIBE", mailbox)
}

// Unsubscribe removes a mailbox from the subscriptions (RFC 9051 §6.3.8).
func (c *Client) Unsubscribe(ctx context.Context, mailbox string) error {
	return c.mailboxCommand(ctx, "UNSUBSCRIBE", mailbox)
}

// Rename renames a mailbox (RFC 9051 §6.3.6).
func (c *Client) Rename(ctx context.Context, from, to string) error {
	b := newLine("RENAME ")
	c.appendMailbox(b, from)
	b.Bytes = append(b.Bytes, ' ')
	c.appendMailbox(b, to)
	_, err := c.do(ctx, "RENAME", b)
	return err
}

// NamespaceDesc is one namespace (RFC 2342 §5, RFC 9051 §6.3.10).
type NamespaceDesc struct {
	Prefix string
	Delim  rune
}

// NamespaceData is the answer to NAMESPACE.
type NamespaceData struct {
	Personal, Other, Shared []NamespaceDesc
}

func (c *Client) readNamespace() (*NamespaceData, error) {
	vs, err := c.readValuesToEOL()
	if err != nil {
		return nil, err
	}
	d := &NamespaceData{}
	for i, dst := range []*[]NamespaceDesc{&d.Personal, &d.Other, &d.Shared} {
		if i >= len(vs) {
			break
		}
		l, _ := vs[i].([]Value)
		for _, e := range l {
			el, _ := e.([]Value)
			if len(el) < 2 {
				continue
			}
			var nd NamespaceDesc
			p, _ := el[0].(string)
			nd.Prefix = c.decodeMailbox(p)
			if s, ok := el[1].(string); ok && s != "" {
				nd.Delim = []rune(s)[0]
			}
			*dst = append(*dst, nd)
		}
	}
	return d, nil
}

// Namespace asks for the server's namespaces (RFC 9051 §6.3.10).
func (c *Client) Namespace(ctx context.Context) (*NamespaceData, error) {
	cmd, err := c.do(ctx, "NAMESPACE", newLine("NAMESPACE"), "NAMESPACE")
	if err != nil {
		return nil, err
	}
	for _, v := range cmd.data {
		if d, ok := v.(*NamespaceData); ok {
			return d, nil
		}
	}
	return nil, errNoData("NAMESPACE")
}

func (c *Client) readID() (map[string]string, error) {
	vs, err := c.readValuesToEOL()
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	if len(vs) == 1 {
		l, _ := vs[0].([]Value)
		for i := 0; i+1 < len(l); i += 2 {
			k, _ := l[i].(string)
			v, _ := l[i+1].(string)
			m[k] = v
		}
	}
	return m, nil
}

// ID exchanges implementation information (RFC 2971). A nil map sends NIL.
func (c *Client) ID(ctx context.Context, params map[string]string) (map[string]string, error) {
	b := newLine("ID ")
	if len(params) == 0 {
		b.Bytes = append(b.Bytes, "NIL"...)
	} else {
		b.Bytes = append(b.Bytes, '(')
		first := true
		for k, v := range params {
			if !first {
				b.Bytes = append(b.Bytes, ' ')
			}
			first = false
			b.String(k, false)
			b.Bytes = append(b.Bytes, ' ')
			b.NString(v, false)
		}
		b.Bytes = append(b.Bytes, ')')
	}
	cmd, err := c.do(ctx, "ID", b, "ID")
	if err != nil {
		return nil, err
	}
	for _, v := range cmd.data {
		if d, ok := v.(map[string]string); ok {
			return d, nil
		}
	}
	return map[string]string{}, nil
}

// CloseMailbox sends CLOSE: it closes the selected mailbox, expunging messages marked \Deleted
// (RFC 9051 §6.4.1). See Unselect for closing without expunging.
func (c *Client) CloseMailbox(ctx context.Context) error {
	_, err := c.do(ctx, "CLOSE", newLine("CLOSE"))
	if err == nil {
		c.setState(StateAuthenticated)
	}
	return err
}

// Unselect closes the selected mailbox without expunging (RFC 3691,
// RFC 9051 §6.4.2).
func (c *Client) Unselect(ctx context.Context) error {
	_, err := c.do(ctx, "UNSELECT", newLine("UNSELECT"))
	if err == nil {
		c.setState(StateAuthenticated)
	}
	return err
}

// ExpungeData lists what an EXPUNGE removed: sequence numbers, in the
// order the server sent them (each relative to the mailbox after the
// previous removal), or UIDs when the server sent VANISHED (QRESYNC).
type ExpungeData struct {
	SeqNums []uint32
	UIDs    imap.UIDSet
}

// Expunge removes every message marked \Deleted (RFC 9051 §6.4.3).
func (c *Client) Expunge(ctx context.Context) (*ExpungeData, error) {
	cmd, err := c.do(ctx, "EXPUNGE", newLine("EXPUNGE"), "EXPUNGE", "VANISHED")
	return expungeData(cmd), err
}

// UIDExpunge removes the messages marked \Deleted among uids only
// (RFC 4315 §2.1, UIDPLUS; part of IMAP4rev2).
func (c *Client) UIDExpunge(ctx context.Context, uids imap.UIDSet) (*ExpungeData, error) {
	b := newLine("UID EXPUNGE ", uids.String())
	cmd, err := c.do(ctx, "UID EXPUNGE", b, "EXPUNGE", "VANISHED")
	return expungeData(cmd), err
}

func expungeData(cmd *command) *ExpungeData {
	d := &ExpungeData{}
	if cmd == nil {
		return d
	}
	for _, v := range cmd.data {
		switch x := v.(type) {
		case uint32:
			d.SeqNums = append(d.SeqNums, x)
		case *Vanished:
			d.UIDs.AddSet(x.UIDs.NumSet)
		}
	}
	return d
}
