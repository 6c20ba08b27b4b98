package imapclient

import (
	"context"
	"slices"
	"strconv"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/internal/imapwire"
)

// Check asks for a checkpoint of the selected mailbox (RFC 3501 §6.4.1).
// IMAP4rev2 dropped CHECK (RFC 9051 Appendix E): a server without
// IMAP4rev1 may refuse it, and NOOP does the same job there.
func (c *Client) Check(ctx context.Context) error {
	_, err := c.do(ctx, "CHECK", []byte("CHECK"))
	return err
}

// Lsub lists subscribed mailboxes with the IMAP4rev1 LSUB command
// (RFC 3501 §6.3.9). IMAP4rev2 replaced it with LIST (SUBSCRIBED)
// (RFC 9051 Appendix E); use List with ListOptions.SelectSubscribed where
// the server offers LIST-EXTENDED.
func (c *Client) Lsub(ctx context.Context, reference, pattern string) ([]*ListData, error) {
	b := c.appendMailbox([]byte("LSUB "), reference)
	b = append(b, ' ')
	u := c.utf8()
	if !u {
		pattern = imap.EncodeMailboxName(pattern)
	}
	b = appendListMailbox(b, pattern, u)
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
	b := imapwire.AppendAString([]byte("SETQUOTA "), root, c.utf8())
	b = append(b, " ("...)
	names := make([]string, 0, len(limits))
	for name := range limits {
		names = append(names, name)
	}
	slices.Sort(names)
	for i, name := range names {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, name...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, limits[name], 10)
	}
	b = append(b, ')')
	cmd, err := c.do(ctx, "SETQUOTA", b, "QUOTA")
	if err != nil {
		return nil, err
	}
	if q := firstQuota(cmd); q != nil {
		return q, nil
	}
	return &QuotaData{Root: root}, nil
}
