package imapclient

import (
	"context"
	"strings"

	"github.com/posthorn/posthorn/imap"
)

// SearchData is the result of SEARCH, SORT or their UID forms.
type SearchData struct {
	imap.SearchData
	// Nums holds the matching numbers in the order the server sent them
	// (for SEARCH without RETURN, and SORT). For ESEARCH use All.
	Nums []uint32
}

// searchResult is "* SEARCH n n n [(MODSEQ m)]" or "* SORT n n n".
type searchResult struct {
	nums   []uint32
	modSeq uint64
}

func (c *Client) readSearch() (*searchResult, error) {
	d := c.dec
	r := &searchResult{}
	err := c.readItems(
		func(string) (err error) {
			// RFC 7162 §3.1.5: (MODSEQ n)
			r.modSeq, err = d.ReadNumber64()
			return err
		},
		func() error {
			n, err := d.ReadNumber()
			r.nums = append(r.nums, n)
			return err
		})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// readESearch reads an ESEARCH response (RFC 4731 §3.1, RFC 9051 §7.3.4).
func (c *Client) readESearch() (*imap.SearchData, error) {
	d := c.dec
	r := &imap.SearchData{}
	err := c.readItems(
		func(string) (err error) {
			// search-correlator: (TAG "tag")
			r.Tag, err = d.ReadAString()
			return err
		},
		func() error {
			name, err := d.ReadAtomUpper()
			if err != nil {
				return err
			}
			if name == "UID" {
				r.UID = true
				return nil
			}
			if err := d.SP(); err != nil {
				return err
			}
			switch name {
			case "MIN":
				r.Min, err = d.ReadNumber()
			case "MAX":
				r.Max, err = d.ReadNumber()
			case "COUNT":
				r.Count, err = d.ReadNumber()
			case "MODSEQ":
				r.ModSeq, err = d.ReadNumber64()
			case "ALL":
				r.All, err = d.ReadNumSet()
			default:
				_, err = c.readValue()
			}
			return err
		})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// readItems walks the space-separated items of a SEARCH or ESEARCH
// response up to and including its CRLF. A parenthesised item, "(NAME
// value)", has its name read here and its value by paren; any other
// item is read by item.
func (c *Client) readItems(paren func(name string) error, item func() error) error {
	d := c.dec
	for {
		eol, err := d.AtEOL()
		if err != nil {
			return err
		}
		if eol {
			return d.ReadCRLF()
		}
		if ok, err := d.Byte(' '); err != nil {
			return err
		} else if ok {
			continue
		}
		if ok, err := d.Byte('('); err != nil {
			return err
		} else if ok {
			name, err := d.ReadAtomUpper()
			if err != nil {
				return err
			}
			if err := d.SP(); err != nil {
				return err
			}
			if err := paren(name); err != nil {
				return err
			}
			if err := d.Expect(')'); err != nil {
				return err
			}
			continue
		}
		if err := item(); err != nil {
			return err
		}
	}
}

// Search runs SEARCH (RFC 9051 §6.4.4); UIDSearch the UID form. With
// criteria.HasReturn the server answers with ESEARCH (RFC 4731), which
// fills the imap.SearchData fields asked for; otherwise Nums, All, Count,
// Min and Max are all filled from the plain SEARCH response.
func (c *Client) Search(ctx context.Context, criteria *imap.SearchCriteria) (*SearchData, error) {
	return c.search(ctx, "SEARCH", criteria)
}

// UIDSearch is Search returning UIDs.
func (c *Client) UIDSearch(ctx context.Context, criteria *imap.SearchCriteria) (*SearchData, error) {
	return c.search(ctx, "UID SEARCH", criteria)
}

func (c *Client) search(ctx context.Context, name string, criteria *imap.SearchCriteria) (*SearchData, error) {
	b := newLine(name, " ")
	b.SearchCriteria(criteria, c.utf8())
	cmd, err := c.do(ctx, name, b, "SEARCH", "ESEARCH")
	if err != nil {
		return nil, err
	}
	out := &SearchData{}
	out.UID = strings.HasPrefix(name, "UID")
	for _, v := range cmd.data {
		switch x := v.(type) {
		case *searchResult:
			out.Nums = append(out.Nums, x.nums...)
			if x.modSeq > out.ModSeq {
				out.ModSeq = x.modSeq
			}
		case *imap.SearchData:
			// RFC 4731 §3.1: the correlator names our tag.
			if x.Tag != "" && x.Tag != cmd.tag {
				continue
			}
			uid := out.UID
			out.SearchData = *x
			out.UID = uid || x.UID
		}
	}
	if len(out.Nums) > 0 {
		out.All = imap.NumSetOf(out.Nums...)
		out.Count = uint32(len(out.Nums))
		out.Min, out.Max = out.Nums[0], out.Nums[0]
		for _, n := range out.Nums {
			out.Min = min(out.Min, n)
			out.Max = max(out.Max, n)
		}
	}
	return out, nil
}

// Sort runs SORT (RFC 5256 §3) with the given sort criteria, written as
// the RFC spells them (e.g. "REVERSE", "DATE", "SUBJECT"), and returns the
// numbers in sorted order in Nums. uid selects UID SORT.
func (c *Client) Sort(ctx context.Context, uid bool, keys []string, charset string, criteria *imap.SearchCriteria) (*SearchData, error) {
	name := "SORT"
	if uid {
		name = "UID SORT"
	}
	if charset == "" {
		charset = "UTF-8"
	}
	b := newLine(name, " (")
	b.Bytes = append(b.Bytes, strings.Join(keys, " ")...)
	b.Bytes = append(b.Bytes, ") "...)
	b.Bytes = append(b.Bytes, charset...)
	b.Bytes = append(b.Bytes, ' ')
	b.SearchKeys(criteria.Keys, true)
	cmd, err := c.do(ctx, name, b, "SORT")
	if err != nil {
		return nil, err
	}
	out := &SearchData{}
	out.UID = uid
	for _, v := range cmd.data {
		if x, ok := v.(*searchResult); ok {
			out.Nums = append(out.Nums, x.nums...)
		}
	}
	out.Count = uint32(len(out.Nums))
	return out, nil
}
