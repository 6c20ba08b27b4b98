package imapclient

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/internal/imapwire"
)

// StoreOp is how STORE changes flags (RFC 9051 §6.4.6).
type StoreOp int

// Store operations.
const (
	StoreSet    StoreOp = iota // FLAGS: replace
	StoreAdd                   // +FLAGS
	StoreRemove                // -FLAGS
)

// StoreFlags describes a STORE.
type StoreFlags struct {
	Op    StoreOp
	Flags []imap.Flag
	// Silent suppresses the FETCH responses with the new flags (.SILENT).
	Silent bool
	// UnchangedSince, when non-zero, is the UNCHANGEDSINCE modifier
	// (RFC 7162 §3.1.3); messages modified since then are not changed and
	// are reported in StoreData.Modified.
	UnchangedSince uint64
}

// StoreData is what STORE returned.
type StoreData struct {
	// Messages holds the FETCH responses (empty with Silent).
	Messages []*FetchMessageBuffer
	// Modified holds the messages not changed because of UnchangedSince
	// (MODIFIED response code).
	Modified imap.NumSet
}

// Store changes flags of messages by sequence number (RFC 9051 §6.4.6).
func (c *Client) Store(ctx context.Context, seqs imap.NumSet, f StoreFlags) (*StoreData, error) {
	return c.store(ctx, "STORE", seqs, f)
}

// UIDStore is Store by UID.
func (c *Client) UIDStore(ctx context.Context, uids imap.NumSet, f StoreFlags) (*StoreData, error) {
	return c.store(ctx, "UID STORE", uids, f)
}

func (c *Client) store(ctx context.Context, name string, set imap.NumSet, f StoreFlags) (*StoreData, error) {
	b := newLine(name, " ")
	b.Bytes = set.AppendTo(b.Bytes)
	if f.UnchangedSince > 0 {
		b.Bytes = append(b.Bytes, " (UNCHANGEDSINCE "...)
		b.Bytes = strconv.AppendUint(b.Bytes, f.UnchangedSince, 10)
		b.Bytes = append(b.Bytes, ')')
	}
	switch f.Op {
	case StoreAdd:
		b.Bytes = append(b.Bytes, " +FLAGS"...)
	case StoreRemove:
		b.Bytes = append(b.Bytes, " -FLAGS"...)
	default:
		b.Bytes = append(b.Bytes, " FLAGS"...)
	}
	if f.Silent {
		b.Bytes = append(b.Bytes, ".SILENT"...)
	}
	b.Bytes = append(b.Bytes, " ("...)
	for i, fl := range f.Flags {
		if !imap.ValidStoreFlag(fl) {
			return nil, errors.New("imapclient: invalid flag for STORE: " + string(fl))
		}
		if i > 0 {
			b.Bytes = append(b.Bytes, ' ')
		}
		b.Bytes = append(b.Bytes, fl...)
	}
	b.Bytes = append(b.Bytes, ')')
	cmd, err := c.startCollect(ctx, name, b)
	if err != nil {
		return nil, err
	}
	err = c.wait(ctx, cmd)
	d := &StoreData{}
	for _, v := range cmd.data {
		if m, ok := v.(*FetchMessageBuffer); ok {
			d.Messages = append(d.Messages, m)
		}
	}
	if cmd.resp.code == imap.CodeModified {
		d.Modified, _ = imap.ParseNumSet(cmd.resp.arg)
	}
	return d, err
}

// startCollect starts a command that collects FETCH responses.
func (c *Client) startCollect(ctx context.Context, name string, b *imapwire.Command) (*command, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	release, err := c.acquire(ctx, name)
	if err != nil {
		return nil, err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	cmd, err := c.newCommand(name, release, "FETCH")
	if err != nil {
		return nil, err
	}
	cmd.fetchCollect = true
	undo := c.writeCtx(ctx)
	err = c.sendLine(ctx, cmd, b)
	undo()
	if err != nil {
		if isImapError(err) {
			return nil, err
		}
		return nil, c.writeFailed(ctx, err)
	}
	return cmd, nil
}

// CopyData is the COPYUID response code of COPY and MOVE (RFC 4315 §3):
// the destination's UIDVALIDITY and the source and destination UIDs in
// corresponding order. Zero when the server sent none.
type CopyData struct {
	UIDValidity uint32
	SourceUIDs  imap.NumSet
	DestUIDs    imap.NumSet
}

func parseCopyUID(arg string) *CopyData {
	f := strings.Fields(arg)
	if len(f) != 3 {
		return nil
	}
	v, err := strconv.ParseUint(f[0], 10, 32)
	if err != nil {
		return nil
	}
	src, err1 := imap.ParseNumSet(f[1])
	dst, err2 := imap.ParseNumSet(f[2])
	if err1 != nil || err2 != nil {
		return nil
	}
	return &CopyData{UIDValidity: uint32(v), SourceUIDs: src, DestUIDs: dst}
}

// Copy copies messages to a mailbox (RFC 9051 §6.4.7).
func (c *Client) Copy(ctx context.Context, seqs imap.NumSet, mailbox string) (*CopyData, error) {
	return c.copyCmd(ctx, "COPY", seqs, mailbox)
}

// UIDCopy is Copy by UID.
func (c *Client) UIDCopy(ctx context.Context, uids imap.NumSet, mailbox string) (*CopyData, error) {
	return c.copyCmd(ctx, "UID COPY", uids, mailbox)
}

func (c *Client) copyCmd(ctx context.Context, name string, set imap.NumSet, mailbox string) (*CopyData, error) {
	b := newLine(name, " ")
	b.Bytes = set.AppendTo(b.Bytes)
	b.Bytes = append(b.Bytes, ' ')
	c.appendMailbox(b, mailbox)
	cmd, err := c.do(ctx, name, b, "OK", "EXPUNGE", "VANISHED")
	if err != nil {
		return nil, err
	}
	if cmd.resp.code == imap.CodeCopyUID {
		return parseCopyUID(cmd.resp.arg), nil
	}
	// MOVE sends COPYUID in an untagged OK (RFC 6851 §4.3).
	for _, v := range cmd.data {
		if r, ok := v.(statusResp); ok && r.code == imap.CodeCopyUID {
			return parseCopyUID(r.arg), nil
		}
	}
	return &CopyData{}, nil
}

// ErrMoveUnsupported is returned by Move when the server has neither MOVE
// nor UIDPLUS: the only remaining fallback, COPY then STORE \Deleted then
// a plain EXPUNGE, would also remove other messages the user had marked
// \Deleted, so it is not done.
var ErrMoveUnsupported = errors.New("imapclient: server supports neither MOVE nor UIDPLUS")

// Move moves messages to a mailbox (RFC 6851). Without MOVE it falls back
// to UID COPY, UID STORE +FLAGS.SILENT (\Deleted) and UID EXPUNGE of
// exactly those UIDs when UIDPLUS allows it (RFC 6851 §3.3); never a plain
// EXPUNGE.
func (c *Client) Move(ctx context.Context, seqs imap.NumSet, mailbox string) (*CopyData, error) {
	return c.move(ctx, false, seqs, mailbox)
}

// UIDMove is Move by UID.
func (c *Client) UIDMove(ctx context.Context, uids imap.NumSet, mailbox string) (*CopyData, error) {
	return c.move(ctx, true, uids, mailbox)
}

func (c *Client) move(ctx context.Context, uid bool, set imap.NumSet, mailbox string) (*CopyData, error) {
	if c.Has(ctx, "MOVE") {
		name := "MOVE"
		if uid {
			name = "UID MOVE"
		}
		return c.copyCmd(ctx, name, set, mailbox)
	}
	if !c.hasCap("UIDPLUS") && !c.hasCap("IMAP4REV2") {
		return nil, ErrMoveUnsupported
	}
	uids := set
	if !uid {
		// Pin the messages down by UID first, so that expunges by other
		// sessions cannot shift what we delete.
		msgs, err := c.Fetch(ctx, set, []imap.FetchAtt{{Item: imap.FetchUID}}, nil).Collect()
		if err != nil {
			return nil, err
		}
		var ids []uint32
		for _, m := range msgs {
			if m.UID != 0 {
				ids = append(ids, m.UID)
			}
		}
		if len(ids) == 0 {
			return &CopyData{}, nil
		}
		uids = imap.NumSetOf(ids...)
	}
	cd, err := c.UIDCopy(ctx, uids, mailbox)
	if err != nil {
		return nil, err
	}
	if _, err := c.UIDStore(ctx, uids, StoreFlags{Op: StoreAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}); err != nil {
		return cd, err
	}
	_, err = c.UIDExpunge(ctx, imap.UIDSet{NumSet: uids})
	return cd, err
}
