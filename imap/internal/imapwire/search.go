package imapwire

import (
	"strings"
	"unicode/utf8"

	"github.com/posthorn/posthorn/imap"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/ianaindex"
)

// ReadSearchCriteria reads the arguments of SEARCH after "SEARCH SP" up to
// (not including) CRLF: optional RETURN options (RFC 4731 §3.1), optional
// CHARSET (RFC 9051 §6.4.4) and the search keys. String arguments are
// converted to UTF-8 from the charset; an unknown charset is an *Error of
// kind ErrBadCharset (answer NO [BADCHARSET]), reported after the rest of
// the command has been read so the decoder stays in step.
func (d *Decoder) ReadSearchCriteria() (*imap.SearchCriteria, error) {
	c := &imap.SearchCriteria{Keys: make([]imap.SearchKey, 0, 4)}
	name, err := d.searchKeyName()
	if err != nil {
		return nil, err
	}
	if name == "RETURN" {
		if err := d.SP(); err != nil {
			return nil, err
		}
		c.HasReturn = true
		err := d.ReadList(true, func() error {
			opt, err := d.ReadAtomUpper()
			if err != nil {
				return err
			}
			switch r := imap.SearchReturn(opt); r {
			case imap.SearchReturnMin, imap.SearchReturnMax, imap.SearchReturnAll, imap.SearchReturnCount, imap.SearchReturnSave:
				c.Return = append(c.Return, r)
			default:
				return syntaxErr("unknown RETURN option " + opt)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if err := d.SP(); err != nil {
			return nil, err
		}
		if name, err = d.searchKeyName(); err != nil {
			return nil, err
		}
	}
	var dec *encoding.Decoder
	var badCharset bool
	if name == "CHARSET" {
		if err := d.SP(); err != nil {
			return nil, err
		}
		cs, err := d.ReadAString()
		if err != nil {
			return nil, err
		}
		c.Charset = strings.ToUpper(cs)
		if err := d.SP(); err != nil {
			return nil, err
		}
		switch c.Charset {
		case "UTF-8", "US-ASCII":
		default:
			e, err := ianaindex.IANA.Encoding(cs)
			if err != nil || e == nil {
				badCharset = true
			} else {
				dec = e.NewDecoder()
			}
		}
		if name, err = d.searchKeyName(); err != nil {
			return nil, err
		}
	}
	p := searchParser{d: d, dec: dec, ascii: c.Charset == "US-ASCII"}
	for {
		if err := d.enterDepth(); err != nil {
			return nil, err
		}
		k, err := p.keyNamed(name)
		d.leaveDepth()
		if err != nil {
			return nil, err
		}
		c.Keys = append(c.Keys, k)
		ok, err := d.Byte(' ')
		if err != nil {
			return nil, unexpected(err)
		}
		if !ok {
			break
		}
		if name, err = d.searchKeyName(); err != nil {
			return nil, err
		}
	}
	if badCharset {
		return nil, &Error{Kind: ErrBadCharset, Msg: c.Charset}
	}
	return c, nil
}

// searchKeyName reads the upper-cased name of the next search key, or
// returns "" when the key is a sequence set or a parenthesised list, which
// are left unread.
func (d *Decoder) searchKeyName() (string, error) {
	c, err := d.peek()
	if err != nil {
		return "", unexpected(err)
	}
	if c == '(' || c >= '0' && c <= '9' || c == '*' || c == '$' {
		return "", nil
	}
	return d.ReadAtomUpper()
}

type searchParser struct {
	d     *Decoder
	dec   *encoding.Decoder
	ascii bool
}

func (p *searchParser) value() (string, error) {
	b, err := p.d.ReadAStringBytes()
	if err != nil {
		return "", err
	}
	if p.dec != nil {
		out, err := p.dec.Bytes(b)
		if err != nil {
			return "", syntaxErr("string not in the given charset")
		}
		return string(out), nil
	}
	if p.ascii {
		for _, c := range b {
			if c >= 0x80 {
				return "", syntaxErr("8-bit data in US-ASCII search string")
			}
		}
	} else if !utf8.Valid(b) {
		return "", syntaxErr("invalid UTF-8 in search string")
	}
	return string(b), nil
}

func (p *searchParser) key() (imap.SearchKey, error) {
	d := p.d
	if err := d.enterDepth(); err != nil {
		return imap.SearchKey{}, err
	}
	defer d.leaveDepth()
	name, err := d.searchKeyName()
	if err != nil {
		return imap.SearchKey{}, err
	}
	return p.keyNamed(name)
}

// keyNamed parses a search key whose name has been read ("" for a set or
// a list).
func (p *searchParser) keyNamed(name string) (imap.SearchKey, error) {
	d := p.d
	c, err := d.peek()
	if err != nil {
		return imap.SearchKey{}, unexpected(err)
	}
	switch {
	case name != "":
	case c == '(':
		d.depth-- // ReadList counts its own level
		defer func() { d.depth++ }()
		k := imap.SearchKey{Op: imap.SearchAnd}
		err := d.ReadList(false, func() error {
			sub, err := p.key()
			k.Sub = append(k.Sub, sub)
			return err
		})
		return k, err
	case c >= '0' && c <= '9' || c == '*' || c == '$':
		set, err := d.ReadNumSet()
		return imap.SearchKey{Op: imap.SearchSeqSet, Set: set}, err
	}
	if name == "" {
		return imap.SearchKey{}, syntaxErr("expected search key")
	}
	k := imap.SearchKey{Op: imap.SearchOpByName(name)}
	if k.Op == 0 {
		return k, syntaxErr("unknown search key " + name)
	}
	switch k.Op {
	case imap.SearchAll, imap.SearchAnswered, imap.SearchDeleted, imap.SearchDraft, imap.SearchFlagged,
		imap.SearchNew, imap.SearchOld, imap.SearchRecent, imap.SearchSeen, imap.SearchUnanswered,
		imap.SearchUndeleted, imap.SearchUndraft, imap.SearchUnflagged, imap.SearchUnseen:
		return k, nil
	}
	if err := d.SP(); err != nil {
		return k, err
	}
	switch k.Op {
	case imap.SearchBcc, imap.SearchBody, imap.SearchCc, imap.SearchFrom, imap.SearchSubject,
		imap.SearchText, imap.SearchTo:
		k.Value, err = p.value()
	case imap.SearchHeader:
		if k.Field, err = d.ReadAString(); err != nil {
			return k, err
		}
		if err = d.SP(); err != nil {
			return k, err
		}
		k.Value, err = p.value()
	case imap.SearchKeyword, imap.SearchUnkeyword:
		var a string
		a, err = d.ReadAtom()
		k.Flag = imap.Flag(a)
	case imap.SearchBefore, imap.SearchOn, imap.SearchSince, imap.SearchSentBefore, imap.SearchSentOn,
		imap.SearchSentSince:
		k.Date, err = d.ReadDate()
	case imap.SearchLarger, imap.SearchSmaller:
		k.Num, err = d.ReadNumber64()
	case imap.SearchOlder, imap.SearchYounger:
		var n uint32
		n, err = d.ReadNZNumber()
		k.Num = uint64(n)
	case imap.SearchUID:
		k.Set, err = d.ReadNumSet()
	case imap.SearchNot:
		var sub imap.SearchKey
		sub, err = p.key()
		k.Sub = []imap.SearchKey{sub}
	case imap.SearchOr:
		var a, b imap.SearchKey
		if a, err = p.key(); err != nil {
			return k, err
		}
		if err = d.SP(); err != nil {
			return k, err
		}
		b, err = p.key()
		k.Sub = []imap.SearchKey{a, b}
	case imap.SearchModSeq:
		// RFC 7162 §3.1.5: MODSEQ [SP entry-name SP entry-type-req] SP mod-sequence-valzer
		if c, err := d.peek(); err == nil && c == '"' {
			if k.ModSeqEntry, err = d.ReadString(); err != nil {
				return k, err
			}
			if err = d.SP(); err != nil {
				return k, err
			}
			t, err := d.ReadAtomUpper()
			if err != nil {
				return k, err
			}
			switch t = strings.ToLower(t); t {
			case "priv", "shared", "all":
				k.ModSeqType = t
			default:
				return k, syntaxErr("bad MODSEQ entry type")
			}
			if err = d.SP(); err != nil {
				return k, err
			}
		}
		k.Num, err = d.ReadNumber64()
	}
	return k, err
}
