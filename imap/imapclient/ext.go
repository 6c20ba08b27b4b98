package imapclient

import (
	"context"
	"strconv"
	"strings"

	"github.com/posthorn/posthorn/imap"
)

// This file holds extensions whose responses are read generically by the
// reader goroutine ([]Value) and interpreted here: QUOTA (RFC 9208),
// METADATA (RFC 5464) and THREAD (RFC 5256).

// QuotaResource is one resource of a quota root: usage and limit, in
// kibibytes for STORAGE and counts otherwise (RFC 9208 §5).
type QuotaResource struct {
	Usage, Limit int64
}

// QuotaData is a QUOTA response: the resources of one quota root.
type QuotaData struct {
	Root      string
	Resources map[string]QuotaResource // by upper-case name, e.g. "STORAGE"
}

func toInt(v Value) int64 {
	s, _ := v.(string)
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

func parseQuota(vs []Value) *QuotaData {
	if len(vs) < 2 {
		return nil
	}
	root, _ := vs[0].(string)
	q := &QuotaData{Root: root, Resources: map[string]QuotaResource{}}
	l, _ := vs[1].([]Value)
	for i := 0; i+2 < len(l); i += 3 {
		name, _ := l[i].(string)
		q.Resources[strings.ToUpper(name)] = QuotaResource{Usage: toInt(l[i+1]), Limit: toInt(l[i+2])}
	}
	return q
}

// GetQuotaRoot returns the quota roots of a mailbox and their quotas
// (RFC 9208 §4.3.2).
func (c *Client) GetQuotaRoot(ctx context.Context, mailbox string) (roots []string, quotas []*QuotaData, err error) {
	b := newLine("GETQUOTAROOT ")
	c.appendMailbox(b, mailbox)
	cmd, err := c.do(ctx, "GETQUOTAROOT", b, "QUOTAROOT", "QUOTA")
	if err != nil {
		return nil, nil, err
	}
	for _, v := range cmd.data {
		vs, _ := v.(taggedValues)
		switch vs.name {
		case "QUOTAROOT":
			for _, r := range vs.values[min(1, len(vs.values)):] {
				if s, ok := r.(string); ok {
					roots = append(roots, s)
				}
			}
		case "QUOTA":
			if q := parseQuota(vs.values); q != nil {
				quotas = append(quotas, q)
			}
		}
	}
	return roots, quotas, nil
}

// GetQuota returns the quota of a quota root (RFC 9208 §4.2).
func (c *Client) GetQuota(ctx context.Context, root string) (*QuotaData, error) {
	b := newLine("GETQUOTA ")
	b.AString(root, c.utf8())
	cmd, err := c.do(ctx, "GETQUOTA", b, "QUOTA")
	if err != nil {
		return nil, err
	}
	if q := firstQuota(cmd); q != nil {
		return q, nil
	}
	return nil, errNoData("GETQUOTA")
}

// firstQuota returns the first QUOTA response a command collected, or nil.
func firstQuota(cmd *command) *QuotaData {
	for _, v := range cmd.data {
		if vs, ok := v.(taggedValues); ok {
			if q := parseQuota(vs.values); q != nil {
				return q
			}
		}
	}
	return nil
}

// taggedValues is a response read generically, with its name.
type taggedValues struct {
	name   string
	values []Value
}

// GetMetadata returns the values of metadata entries of a mailbox, or of
// the server when mailbox is "" (RFC 5464 §4.2). Entries without a value
// are absent from the map.
func (c *Client) GetMetadata(ctx context.Context, mailbox string, entries ...string) (map[string]string, error) {
	b := newLine("GETMETADATA ")
	if mailbox == "" {
		b.Bytes = append(b.Bytes, `""`...)
	} else {
		c.appendMailbox(b, mailbox)
	}
	b.Bytes = append(b.Bytes, " ("...)
	for i, e := range entries {
		if i > 0 {
			b.Bytes = append(b.Bytes, ' ')
		}
		b.AString(e, c.utf8())
	}
	b.Bytes = append(b.Bytes, ')')
	cmd, err := c.do(ctx, "GETMETADATA", b, "METADATA")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, v := range cmd.data {
		vs, _ := v.(taggedValues)
		if len(vs.values) < 2 {
			continue
		}
		l, _ := vs.values[1].([]Value)
		for i := 0; i+1 < len(l); i += 2 {
			k, _ := l[i].(string)
			if val, ok := l[i+1].(string); ok {
				out[k] = val
			}
		}
	}
	return out, nil
}

// SetMetadata sets metadata entries of a mailbox, or of the server when
// mailbox is "" (RFC 5464 §4.3). A nil value removes the entry.
func (c *Client) SetMetadata(ctx context.Context, mailbox string, entries map[string]*string) error {
	b := newLine("SETMETADATA ")
	if mailbox == "" {
		b.Bytes = append(b.Bytes, `""`...)
	} else {
		c.appendMailbox(b, mailbox)
	}
	b.Bytes = append(b.Bytes, " ("...)
	first := true
	for k, v := range entries {
		if !first {
			b.Bytes = append(b.Bytes, ' ')
		}
		first = false
		b.AString(k, c.utf8())
		b.Bytes = append(b.Bytes, ' ')
		if v == nil {
			b.Bytes = append(b.Bytes, "NIL"...)
		} else {
			b.String(*v, c.utf8())
		}
	}
	b.Bytes = append(b.Bytes, ')')
	_, err := c.do(ctx, "SETMETADATA", b)
	return err
}

// ThreadNode is one message in a THREAD result (RFC 5256 §4): Num is its
// number (0 for a missing parent), Children its replies.
type ThreadNode struct {
	Num      uint32
	Children []*ThreadNode
}

// parseThread turns "(3 6 (4 23)(44 7 96))" into nodes: numbers form a
// chain, and lists after the last number are its branches.
func parseThread(l []Value) *ThreadNode {
	root := &ThreadNode{}
	cur := root
	first := true
	for _, v := range l {
		switch x := v.(type) {
		case string:
			n, _ := strconv.ParseUint(x, 10, 32)
			if first {
				root.Num = uint32(n)
				first = false
				continue
			}
			child := &ThreadNode{Num: uint32(n)}
			cur.Children = append(cur.Children, child)
			cur = child
		case []Value:
			first = false
			cur.Children = append(cur.Children, parseThread(x))
		}
	}
	return root
}

// Thread runs THREAD (RFC 5256 §3) with an algorithm such as
// "REFERENCES" or "ORDEREDSUBJECT" and returns the thread roots. uid
// selects UID THREAD.
func (c *Client) Thread(ctx context.Context, uid bool, algorithm, charset string, criteria *imap.SearchCriteria) ([]*ThreadNode, error) {
	name := "THREAD"
	if uid {
		name = "UID THREAD"
	}
	if charset == "" {
		charset = "UTF-8"
	}
	b := newLine(name, " ")
	b.Bytes = append(b.Bytes, algorithm...)
	b.Bytes = append(b.Bytes, ' ')
	b.Bytes = append(b.Bytes, charset...)
	b.Bytes = append(b.Bytes, ' ')
	b.SearchKeys(criteria.Keys, true)
	cmd, err := c.do(ctx, name, b, "THREAD")
	if err != nil {
		return nil, err
	}
	var out []*ThreadNode
	for _, v := range cmd.data {
		vs, _ := v.(taggedValues)
		for _, t := range vs.values {
			if l, ok := t.([]Value); ok {
				out = append(out, parseThread(l))
			}
		}
	}
	return out, nil
}
