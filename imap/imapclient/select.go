package imapclient

import (
	"context"
	"strconv"

	"github.com/posthorn/posthorn/imap"
)

// SelectOptions adjust SELECT and EXAMINE.
type SelectOptions struct {
	// ReadOnly sends EXAMINE instead of SELECT (RFC 9051 §6.3.3).
	ReadOnly bool
	// CondStore adds the CONDSTORE parameter (RFC 7162 §3.1.8), so that
	// the server reports HIGHESTMODSEQ.
	CondStore bool
	// QResync adds the QRESYNC parameter (RFC 7162 §3.2.5); the client
	// must have enabled QRESYNC.
	QResync *QResyncParams
}

// QResyncParams describe what the client last knew of a mailbox
// (RFC 7162 §3.2.5).
type QResyncParams struct {
	UIDValidity uint32
	ModSeq      uint64
	// KnownUIDs optionally restricts the report to these UIDs.
	KnownUIDs imap.UIDSet
}

// SelectData is what SELECT or EXAMINE returned: the mailbox state, and
// with QRESYNC the messages that changed and the UIDs that vanished since
// the given mod-sequence.
type SelectData struct {
	MailboxState
	// Vanished holds the UIDs reported by VANISHED (EARLIER).
	Vanished imap.UIDSet
	// Changed holds the FETCH responses sent during the command.
	Changed []*FetchMessageBuffer
}

// Select opens a mailbox (RFC 9051 §6.3.2, §6.3.3). On success it becomes
// the tracked mailbox (see Mailbox).
func (c *Client) Select(ctx context.Context, mailbox string, opts *SelectOptions) (*SelectData, error) {
	name := "SELECT"
	if opts != nil && opts.ReadOnly {
		name = "EXAMINE"
	}
	b := newLine(name, " ")
	c.appendMailbox(b, mailbox)
	if opts != nil && opts.QResync != nil {
		q := opts.QResync
		b.Bytes = append(b.Bytes, " (QRESYNC ("...)
		b.Bytes = strconv.AppendUint(b.Bytes, uint64(q.UIDValidity), 10)
		b.Bytes = append(b.Bytes, ' ')
		b.Bytes = strconv.AppendUint(b.Bytes, q.ModSeq, 10)
		if !q.KnownUIDs.IsZero() {
			b.Bytes = append(b.Bytes, ' ')
			b.Bytes = q.KnownUIDs.AppendTo(b.Bytes)
		}
		b.Bytes = append(b.Bytes, "))"...)
	} else if opts != nil && opts.CondStore {
		b.Bytes = append(b.Bytes, " (CONDSTORE)"...)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	release, err := c.acquire(ctx, name)
	if err != nil {
		return nil, err
	}
	c.wmu.Lock()
	cmd, err := c.newCommand(name, release, "FETCH", "VANISHED")
	if err != nil {
		c.wmu.Unlock()
		return nil, err
	}
	st := &MailboxState{Name: mailbox, ReadOnly: name == "EXAMINE"}
	cmd.fetchCollect = true
	c.mu.Lock()
	cmd.selecting = st
	c.mu.Unlock()
	undo := c.writeCtx(ctx)
	err = c.sendLine(ctx, cmd, b)
	undo()
	c.wmu.Unlock()
	if err != nil && !isImapError(err) {
		return nil, c.writeFailed(ctx, err)
	}
	if err == nil {
		err = c.wait(ctx, cmd)
	}
	if err != nil {
		// RFC 9051 §6.3.2: a failed SELECT leaves no mailbox selected.
		if isImapError(err) {
			c.setState(StateAuthenticated)
		}
		return nil, err
	}
	c.mu.Lock()
	applyCode(st, &cmd.resp)
	c.mbox = st.clone()
	c.state = StateSelected
	c.mu.Unlock()
	d := &SelectData{MailboxState: *st}
	for _, v := range cmd.data {
		switch x := v.(type) {
		case *Vanished:
			d.Vanished.AddSet(x.UIDs.NumSet)
		case *FetchMessageBuffer:
			d.Changed = append(d.Changed, x)
		}
	}
	return d, nil
}
