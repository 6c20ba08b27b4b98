package imapclient

import (
	"context"
	"slices"
	"strconv"

	"github.com/posthorn/posthorn/imap"
)

// Check asks for a checkpoint of the selected mailbox (RFC 3501 §6.4.1).
// IMAP4rev2 dropped CHECK (RFC 9051 Appendix E): a server without
// IMAP4rev1 may refuse it, and NOOP does the same job there.
func (c *Client) Check(ctx context.Context) error {
	_, err := c.do(ctx, "CHECK", newLine("CHECK"))
	return err
}

// Lsub lists subscribed mailboxes with the IMAP4rev1 LSUB command
// (RFC 3501 §6.3.9). IMAP4rev2 replaced it with LIST (SUBSCRIBED)
// (RFC 9051 Appendix E); use List with ListOptions.SelectSubscribed where
// the server offers LIST-EXTENDED.
func (c *Client) Lsub(ctx context.Context, reference, pattern string) ([]*ListData, error) {
	b := newLine("LSUB ")
	c.appendMailbox(b, reference)
	b.Bytes = append(b.Bytes, ' ')
	u := c.utf8()
	if !u {
		pattern = imap.EncodeMailboxName(pattern)
	}
	appendListMailbox(b, pattern, u)
	cmd, err := c.do(ctx, "LSUB", b, "LIST")
	if err != nil {
		return nil, err
	}
	var out []*ListData
	for _, v := range cmd.data {
		if d, ok := v.(*ListData); ok {
			out = append(out, d)
		}
	}
	return out, nil
}

// SetQuota sets the limits of a quota root (RFC 9208 §4.1.3): resource
// name (STORAGE, MESSAGE, ...) to limit, in kibibytes for STORAGE. The
// server answers with the quota now in force.
func (c *Client) SetQuota(ctx context.Context, root string, limits map[string]int64) (*QuotaData, error) {
	b := newLine("SETQUOTA ")
	b.AString(root, c.utf8())
	b.Bytes = append(b.Bytes, " ("...)
	names := make([]string, 0, len(limits))
	for name := range limits {
		names = append(names, name)
	}
	slices.Sort(names)
	for i, name := range names {
		if i > 0 {
			b.Bytes = append(b.Bytes, ' ')
		}
		b.Bytes = append(b.Bytes, name...)
		b.Bytes = append(b.Bytes, ' ')
		b.Bytes = strconv.AppendInt(b.Bytes, limits[name], 10)
	}
	b.Bytes = append(b.Bytes, ')')
	cmd, err := c.do(ctx, "SETQUOTA", b, "QUOTA")
	if err != nil {
		return nil, err
	}
	if q := firstQuota(cmd); q != nil {
		return q, nil
	}
	return &QuotaData{Root: root}, nil
}
