package imapwire

import (
	"strconv"
	"time"

	"github.com/posthorn/posthorn/imap"
)

// This file writes command arguments, for the client: the inverse of
// ReadSearchCriteria and ReadFetchAtts. Strings that cannot be quoted come
// out as synchronising literals "{n}" CRLF; a client must wait for the
// continuation before the data (or turn them into {n+} under LITERAL+).

var monthNames = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// AppendSearchCriteria appends c as the arguments of SEARCH: RETURN
// options, CHARSET and keys (RFC 9051 §6.4.4, RFC 4731 §3.1).
func AppendSearchCriteria(b []byte, c *imap.SearchCriteria, utf8ok bool) []byte {
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
		b = AppendAString(b, c.Charset, false)
		b = append(b, ' ')
	}
	return AppendSearchKeys(b, c.Keys, utf8ok)
}

// AppendSearchKeys appends keys separated by spaces.
func AppendSearchKeys(b []byte, keys []imap.SearchKey, utf8ok bool) []byte {
	for i := range keys {
		if i > 0 {
			b = append(b, ' ')
		}
		b = appendSearchKey(b, &keys[i], utf8ok)
	}
	return b
}

func appendSearchKey(b []byte, k *imap.SearchKey, utf8ok bool) []byte {
	switch k.Op {
	case imap.SearchSeqSet:
		return k.Set.AppendTo(b)
	case imap.SearchAnd:
		b = append(b, '(')
		b = AppendSearchKeys(b, k.Sub, utf8ok)
		return append(b, ')')
	}
	b = append(b, k.Op.String()...)
	switch k.Op {
	case imap.SearchBcc, imap.SearchBody, imap.SearchCc, imap.SearchFrom, imap.SearchSubject,
		imap.SearchText, imap.SearchTo:
		b = append(b, ' ')
		b = AppendAString(b, k.Value, utf8ok)
	case imap.SearchHeader:
		b = append(b, ' ')
		b = AppendAString(b, k.Field, utf8ok)
		b = append(b, ' ')
		b = AppendAString(b, k.Value, utf8ok)
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
		b = appendSearchKey(b, &k.Sub[0], utf8ok)
	case imap.SearchOr:
		b = append(b, ' ')
		b = appendSearchKey(b, &k.Sub[0], utf8ok)
		b = append(b, ' ')
		b = appendSearchKey(b, &k.Sub[1], utf8ok)
	case imap.SearchModSeq:
		if k.ModSeqEntry != "" {
			b = append(b, ' ')
			b = AppendString(b, k.ModSeqEntry, false)
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
