package imapwire

import (
	"strconv"
	"time"

	"github.com/posthorn/posthorn/imap"
)

// This file writes command arguments, for the client: the inverse of
// ReadSearchCriteria and ReadFetchAtts. Strings that cannot be quoted come
// out as literals, whose places a Command keeps as structure: a client
// must wait for the continuation before the data (or send {n+} under
// LITERAL+), and data that looks like a literal header is only data.

// Command is a client command line being built (after the tag, without
// the final CRLF). Its literals are kept as structure, never found again
// by scanning the bytes: a literal's header is left open in Bytes ("{n" or
// "~{n") and the offset of its data, where the sender writes "}" CRLF or
// "+}" CRLF, is in Literals. The zero value is an empty command.
type Command struct {
	// Bytes is the command so far, with literal headers left open.
	Bytes []byte
	// Literals holds, in order, the offset in Bytes at which each
	// literal's data starts.
	Literals []int
}

// Raw appends s as it is; it must not contain a string argument.
func (c *Command) Raw(s string) { c.Bytes = append(c.Bytes, s...) }

// SP appends a space.
func (c *Command) SP() { c.Bytes = append(c.Bytes, ' ') }

// AString appends s as an astring: an atom, a quoted string or a literal.
func (c *Command) AString(s string, utf8ok bool) {
	c.Bytes = appendAString(c.Bytes, s, utf8ok, &c.Literals)
}

// String appends s as a quoted string or a literal.
func (c *Command) String(s string, utf8ok bool) {
	c.Bytes = appendString(c.Bytes, s, utf8ok, &c.Literals)
}

// NString appends s as a string, or NIL when empty.
func (c *Command) NString(s string, utf8ok bool) {
	if s == "" {
		c.Raw("NIL")
		return
	}
	c.String(s, utf8ok)
}

// LiteralHeader opens a literal of n octets ("{n", or "~{n" for a
// literal8, RFC 3516 §4.2) whose data the sender writes itself after the
// header is closed; it must be the last thing appended.
func (c *Command) LiteralHeader(n int64, binary bool) {
	if binary {
		c.Bytes = append(c.Bytes, '~')
	}
	c.Bytes = append(c.Bytes, '{')
	c.Bytes = strconv.AppendInt(c.Bytes, n, 10)
	c.Literals = append(c.Literals, len(c.Bytes))
}

// Literal appends data as a literal (a literal8 when binary), header and
// data, for data held in memory.
func (c *Command) Literal(data []byte, binary bool) {
	c.LiteralHeader(int64(len(data)), binary)
	c.Bytes = append(c.Bytes, data...)
}

// SearchCriteria appends the arguments of SEARCH (see
// AppendSearchCriteria).
func (c *Command) SearchCriteria(sc *imap.SearchCriteria, utf8ok bool) {
	c.Bytes = appendSearchCriteria(c.Bytes, sc, utf8ok, &c.Literals)
}

// SearchKeys appends search keys separated by spaces.
func (c *Command) SearchKeys(keys []imap.SearchKey, utf8ok bool) {
	c.Bytes = appendSearchKeys(c.Bytes, keys, utf8ok, &c.Literals)
}

// Segments calls f for each piece of the command: the bytes up to a
// literal's data with its header left open (lit true, size n), and last
// the rest (lit false). A sender closes each literal header as the
// server's capabilities allow.
func (c *Command) Segments(f func(b []byte, lit bool, n int64) error) error {
	prev := 0
	for _, off := range c.Literals {
		// The literal's size is the number in its open header.
		j := off - 1
		for j > prev && c.Bytes[j] >= '0' && c.Bytes[j] <= '9' {
			j--
		}
		n, err := strconv.ParseInt(string(c.Bytes[j+1:off]), 10, 64)
		if err != nil {
			return err
		}
		if err := f(c.Bytes[prev:off], true, n); err != nil {
			return err
		}
		prev = off
	}
	return f(c.Bytes[prev:], false, 0)
}

var monthNames = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// AppendSearchCriteria appends c as the arguments of SEARCH: RETURN
// options, CHARSET and keys (RFC 9051 §6.4.4, RFC 4731 §3.1).
func AppendSearchCriteria(b []byte, c *imap.SearchCriteria, utf8ok bool) []byte {
	return appendSearchCriteria(b, c, utf8ok, nil)
}

func appendSearchCriteria(b []byte, c *imap.SearchCriteria, utf8ok bool, lits *[]int) []byte {
	if c.HasReturn {
		b = append(b, "RETURN ("...)
		for i, r := range c.Return {
			if i > 0 {
				b = append(b, ' ')
			}
			b = append(b, r...)
		}
		b = append(b, ") "...)
	}
	if c.Charset != "" {
		b = append(b, "CHARSET "...)
		b = appendAString(b, c.Charset, false, lits)
		b = append(b, ' ')
	}
	return appendSearchKeys(b, c.Keys, utf8ok, lits)
}

// AppendSearchKeys appends keys separated by spaces.
func AppendSearchKeys(b []byte, keys []imap.SearchKey, utf8ok bool) []byte {
	return appendSearchKeys(b, keys, utf8ok, nil)
}

func appendSearchKeys(b []byte, keys []imap.SearchKey, utf8ok bool, lits *[]int) []byte {
	for i := range keys {
		if i > 0 {
			b = append(b, ' ')
		}
		b = appendSearchKey(b, &keys[i], utf8ok, lits)
	}
	return b
}

func appendSearchKey(b []byte, k *imap.SearchKey, utf8ok bool, lits *[]int) []byte {
	switch k.Op {
	case imap.SearchSeqSet:
		return k.Set.AppendTo(b)
	case imap.SearchAnd:
		b = append(b, '(')
		b = appendSearchKeys(b, k.Sub, utf8ok, lits)
		return append(b, ')')
	}
	b = append(b, k.Op.String()...)
	switch k.Op {
	case imap.SearchBcc, imap.SearchBody, imap.SearchCc, imap.SearchFrom, imap.SearchSubject,
		imap.SearchText, imap.SearchTo:
		b = append(b, ' ')
		b = appendAString(b, k.Value, utf8ok, lits)
	case imap.SearchHeader:
		b = append(b, ' ')
		b = appendAString(b, k.Field, utf8ok, lits)
		b = append(b, ' ')
		b = appendAString(b, k.Value, utf8ok, lits)
	case imap.SearchKeyword, imap.SearchUnkeyword:
		b = append(b, ' ')
		b = append(b, k.Flag...)
	case imap.SearchBefore, imap.SearchOn, imap.SearchSince, imap.SearchSentBefore, imap.SearchSentOn,
		imap.SearchSentSince:
		b = append(b, ' ')
		b = AppendDate(b, k.Date)
	case imap.SearchLarger, imap.SearchSmaller, imap.SearchOlder, imap.SearchYounger:
		b = append(b, ' ')
		b = strconv.AppendUint(b, k.Num, 10)
	case imap.SearchUID:
		b = append(b, ' ')
		b = k.Set.AppendTo(b)
	case imap.SearchNot:
		b = append(b, ' ')
		b = appendSearchKey(b, &k.Sub[0], utf8ok, lits)
	case imap.SearchOr:
		b = append(b, ' ')
		b = appendSearchKey(b, &k.Sub[0], utf8ok, lits)
		b = append(b, ' ')
		b = appendSearchKey(b, &k.Sub[1], utf8ok, lits)
	case imap.SearchModSeq:
		if k.ModSeqEntry != "" {
			b = append(b, ' ')
			b = appendString(b, k.ModSeqEntry, false, lits)
			b = append(b, ' ')
			b = append(b, k.ModSeqType...)
		}
		b = append(b, ' ')
		b = strconv.AppendUint(b, k.Num, 10)
	}
	return b
}

// AppendDate appends a date (RFC 9051 §9, date-text): "5-Mar-2024".
func AppendDate(b []byte, t time.Time) []byte {
	b = strconv.AppendInt(b, int64(t.Day()), 10)
	b = append(b, '-')
	b = append(b, monthNames[t.Month()-1]...)
	b = append(b, '-')
	return strconv.AppendInt(b, int64(t.Year()), 10)
}

// AppendFetchAtts appends fetch items as a parenthesised list (or the
// macro alone), the inverse of ReadFetchAtts.
func AppendFetchAtts(b []byte, atts []imap.FetchAtt) []byte {
	if len(atts) == 1 && atts[0].Section == nil {
		switch atts[0].Item {
		case imap.FetchAll, imap.FetchFast, imap.FetchFull:
			return append(b, atts[0].Item...)
		}
	}
	b = append(b, '(')
	for i, a := range atts {
		if i > 0 {
			b = append(b, ' ')
		}
		if a.Section != nil {
			b = append(b, a.Section.String()...)
		} else {
			b = append(b, a.Item...)
		}
	}
	return append(b, ')')
}
