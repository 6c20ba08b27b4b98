package imapwire

import (
	"time"

	"github.com/posthorn/posthorn/imap"
)

// ReadList reads a parenthesised list, calling item for each element;
// elements are separated by single spaces. An empty list "()" is allowed
// when allowEmpty is set. Nesting depth is bounded by Limits.MaxDepth.
func (d *Decoder) ReadList(allowEmpty bool, item func() error) error {
	if err := d.Expect('('); err != nil {
		return err
	}
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > d.lim.MaxDepth {
		return &Error{Kind: ErrTooDeep}
	}
	if ok, err := d.Byte(')'); err != nil {
		return unexpected(err)
	} else if ok {
		if !allowEmpty {
			return syntaxErr("empty list")
		}
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		c, err := d.peek()
		if err != nil {
			return unexpected(err)
		}
		switch c {
		case ')':
			return d.consume(1)
		case ' ':
			if err := d.consume(1); err != nil {
				return err
			}
		default:
			return syntaxErr("expected SP or ')' in list")
		}
	}
}

// enterDepth and leaveDepth bound recursion of grammar that nests without
// a list (OR / NOT chains in search programs).
func (d *Decoder) enterDepth() error {
	d.depth++
	if d.depth > d.lim.MaxDepth {
		return &Error{Kind: ErrTooDeep}
	}
	return nil
}

func (d *Decoder) leaveDepth() { d.depth-- }

// ReadFlag reads a flag (RFC 9051 §9): a system flag or flag-extension
// ("\" atom) or a keyword (atom). "\*" is accepted when perm is set
// (flag-perm). System flags come back in canonical spelling.
func (d *Decoder) ReadFlag(perm bool) (imap.Flag, error) {
	bs, err := d.Byte('\\')
	if err != nil {
		return "", unexpected(err)
	}
	if bs {
		if perm {
			if star, err := d.Byte('*'); err != nil {
				return "", unexpected(err)
			} else if star {
				return imap.FlagWildcard, nil
			}
		}
		b, err := d.ReadAtomBytes()
		if err != nil {
			return "", err
		}
		f := make([]byte, 0, len(b)+1)
		f = append(append(f, '\\'), b...)
		return imap.Flag(f).Canonical(), nil
	}
	a, err := d.ReadAtom()
	return imap.Flag(a), err
}

// ReadFlagList reads a flag-list: "(" [flag *(SP flag)] ")".
func (d *Decoder) ReadFlagList() ([]imap.Flag, error) {
	var flags []imap.Flag
	err := d.ReadList(true, func() error {
		f, err := d.ReadFlag(false)
		flags = append(flags, f)
		return err
	})
	return flags, err
}

// ReadFlags reads a flag-list, or (as STORE allows) flags separated by
// spaces without parentheses, ending before CRLF or ")".
func (d *Decoder) ReadFlags() ([]imap.Flag, error) {
	c, err := d.peek()
	if err != nil {
		return nil, unexpected(err)
	}
	if c == '(' {
		return d.ReadFlagList()
	}
	var flags []imap.Flag
	for {
		f, err := d.ReadFlag(false)
		if err != nil {
			return nil, err
		}
		flags = append(flags, f)
		if ok, err := d.Byte(' '); err != nil || !ok {
			return flags, unexpected(err)
		}
	}
}

var months = [12]string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}

// ReadDate reads a date (RFC 9051 §9): date-text, optionally quoted
// ("1-Feb-2024"). The result is midnight UTC of that day.
func (d *Decoder) ReadDate() (time.Time, error) {
	q, err := d.Byte('"')
	if err != nil {
		return time.Time{}, unexpected(err)
	}
	b, err := d.readRun(astringClass)
	if err != nil {
		return time.Time{}, err
	}
	t, ok := parseDateText(b)
	if !ok {
		return time.Time{}, syntaxErr("bad date")
	}
	if q {
		if err := d.Expect('"'); err != nil {
			return time.Time{}, err
		}
	}
	return t, nil
}

// parseDateText parses date-day "-" date-month "-" date-year.
func parseDateText(b []byte) (time.Time, bool) {
	day, b, ok := digits(b, 1, 2)
	if !ok || len(b) < 5 || b[0] != '-' || b[4] != '-' {
		return time.Time{}, false
	}
	m := monthIndex(b[1:4])
	if m < 0 {
		return time.Time{}, false
	}
	year, rest, ok := digits(b[5:], 4, 4)
	if !ok || len(rest) != 0 || day < 1 || day > 31 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(m+1), day, 0, 0, 0, 0, time.UTC)
	if t.Day() != day {
		return time.Time{}, false
	}
	return t, true
}

func monthIndex(b []byte) int {
	if len(b) != 3 {
		return -1
	}
	u := [3]byte{b[0] &^ 0x20, b[1] &^ 0x20, b[2] &^ 0x20}
	for i, m := range months {
		if string(u[:]) == m {
			return i
		}
	}
	return -1
}

func digits(b []byte, minN, maxN int) (int, []byte, bool) {
	n, i := 0, 0
	for i < len(b) && i < maxN && b[i] >= '0' && b[i] <= '9' {
		n = n*10 + int(b[i]-'0')
		i++
	}
	return n, b[i:], i >= minN
}

// ReadDateTime reads a date-time (RFC 9051 §9):
// DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE,
// e.g. "17-Jul-1996 02:44:25 -0700".
func (d *Decoder) ReadDateTime() (time.Time, error) {
	b, err := d.ReadQuotedBytes()
	if err != nil {
		return time.Time{}, err
	}
	t, ok := ParseDateTime(b)
	if !ok {
		return time.Time{}, syntaxErr("bad date-time")
	}
	return t, nil
}

// ParseDateTime parses the content of a date-time string. A date-day-fixed
// of one digit may be led by a space or, leniently, nothing.
func ParseDateTime(b []byte) (time.Time, bool) {
	if len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	i := 0
	for i < len(b) && b[i] != ' ' {
		i++
	}
	date, ok := parseDateText(b[:i])
	if !ok || len(b) != i+1+8+1+5 {
		return time.Time{}, false
	}
	tm := b[i+1:]
	h, r1, ok1 := digits(tm, 2, 2)
	if !ok1 || r1[0] != ':' {
		return time.Time{}, false
	}
	mi, r2, ok2 := digits(r1[1:], 2, 2)
	if !ok2 || r2[0] != ':' {
		return time.Time{}, false
	}
	s, r3, ok3 := digits(r2[1:], 2, 2)
	if !ok3 || r3[0] != ' ' || h > 23 || mi > 59 || s > 60 {
		return time.Time{}, false
	}
	z := r3[1:]
	if z[0] != '+' && z[0] != '-' {
		return time.Time{}, false
	}
	zh, zr, okz := digits(z[1:], 2, 2)
	zm, _, okm := digits(zr, 2, 2)
	if !okz || !okm || zm > 59 {
		return time.Time{}, false
	}
	off := (zh*60 + zm) * 60
	if z[0] == '-' {
		off = -off
	}
	loc := time.FixedZone("", off)
	if off == 0 {
		loc = time.UTC
	}
	return time.Date(date.Year(), date.Month(), date.Day(), h, mi, s, 0, loc), true
}
