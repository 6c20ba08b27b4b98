package imapwire

import (
	"io"
	"strings"
	"unicode/utf8"

	"github.com/posthorn/posthorn/imap"
)

// charClass is a byte set.
type charClass [256]bool

func makeClass(pred func(c byte) bool) *charClass {
	var t charClass
	for c := 0; c < 256; c++ {
		t[c] = pred(byte(c))
	}
	return &t
}

var (
	atomClass    = makeClass(imap.IsAtomChar)
	astringClass = makeClass(imap.IsAStringChar)
	// tag = 1*<any ASTRING-CHAR except "+"> (RFC 9051 §9)
	tagClass = makeClass(func(c byte) bool { return c != '+' && imap.IsAStringChar(c) })
	// list-char = ATOM-CHAR / list-wildcards / resp-specials
	listClass  = makeClass(func(c byte) bool { return imap.IsAStringChar(c) || c == '%' || c == '*' })
	digitClass = makeClass(func(c byte) bool { return c >= '0' && c <= '9' })
	// sequence-set characters
	setClass = makeClass(func(c byte) bool { return c >= '0' && c <= '9' || c == ':' || c == ',' || c == '*' || c == '$' })
)

// readRun reads a maximal run of bytes of class cl into the scratch buffer
// and returns it (valid until the next call). It does not fail on an empty
// run.
func (d *Decoder) readRun(cl *charClass) ([]byte, error) {
	d.scratch = d.scratch[:0]
	for {
		if _, err := d.peek(); err != nil {
			if len(d.scratch) > 0 && (err == io.EOF || err == io.ErrUnexpectedEOF) {
				return d.scratch, nil // the next read reports the end
			}
			return d.scratch, err
		}
		buf, _ := d.br.Peek(d.br.Buffered())
		i := 0
		for i < len(buf) && cl[buf[i]] {
			i++
		}
		d.scratch = append(d.scratch, buf[:i]...)
		if err := d.consume(i); err != nil {
			return nil, err
		}
		if i < len(buf) {
			return d.scratch, nil
		}
	}
}

// ReadAtomBytes reads an atom (RFC 9051 §9) and returns it, valid until
// the next call. Used for command names and keywords: no allocation.
func (d *Decoder) ReadAtomBytes() ([]byte, error) {
	b, err := d.readRun(atomClass)
	if err == nil && len(b) == 0 {
		err = syntaxErr("expected atom")
	}
	return b, err
}

// ReadAtom reads an atom.
func (d *Decoder) ReadAtom() (string, error) {
	b, err := d.ReadAtomBytes()
	return string(b), err
}

// ReadAtomUpper reads an atom and returns it upper-cased (for
// case-insensitive keywords); common names are not allocated.
func (d *Decoder) ReadAtomUpper() (string, error) {
	b, err := d.ReadAtomBytes()
	if err != nil {
		return "", err
	}
	return upperString(b), nil
}

// ReadTag reads a command tag: 1*<any ASTRING-CHAR except "+">.
func (d *Decoder) ReadTag() (string, error) {
	b, err := d.readRun(tagClass)
	if err == nil && len(b) == 0 {
		err = syntaxErr("expected tag")
	}
	return string(b), err
}

// ReadNumber reads a number (RFC 9051 §9: 0..4294967295).
func (d *Decoder) ReadNumber() (uint32, error) {
	n, err := d.readDigits(0xffffffff)
	return uint32(n), err
}

// ReadNZNumber reads an nz-number (1..4294967295).
func (d *Decoder) ReadNZNumber() (uint32, error) {
	n, err := d.ReadNumber()
	if err == nil && n == 0 {
		err = syntaxErr("expected non-zero number")
	}
	return n, err
}

// ReadNumber64 reads a number64 (RFC 9051 §9: 0..2^63-1).
func (d *Decoder) ReadNumber64() (uint64, error) {
	return d.readDigits(1<<63 - 1)
}

func (d *Decoder) readDigits(max uint64) (uint64, error) {
	b, err := d.readRun(digitClass)
	if err != nil {
		return 0, err
	}
	if len(b) == 0 {
		return 0, syntaxErr("expected number")
	}
	var n uint64
	for _, c := range b {
		n = n*10 + uint64(c-'0')
		if n > max {
			return 0, syntaxErr("number out of range")
		}
	}
	return n, nil
}

// ReadNumSet reads a sequence-set, including "*" and "$" (RFC 5182).
func (d *Decoder) ReadNumSet() (imap.NumSet, error) {
	b, err := d.readRun(setClass)
	if err != nil {
		return imap.NumSet{}, err
	}
	s, err := imap.ParseNumSet(string(b))
	if err != nil {
		return s, syntaxErr("bad sequence set")
	}
	return s, nil
}

// upperString returns the upper-case string form of an ASCII atom,
// interning common command and item names.
func upperString(b []byte) string {
	var buf [24]byte
	if len(b) <= len(buf) {
		u := buf[:len(b)]
		for i, c := range b {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			u[i] = c
		}
		if s, ok := interned[string(u)]; ok {
			return s
		}
		return string(u)
	}
	return strings.ToUpper(string(b))
}

var interned = func() map[string]string {
	m := map[string]string{}
	for _, s := range strings.Fields(`CAPABILITY NOOP LOGOUT STARTTLS AUTHENTICATE LOGIN ENABLE SELECT EXAMINE
		CREATE DELETE RENAME SUBSCRIBE UNSUBSCRIBE LIST LSUB NAMESPACE STATUS APPEND IDLE CLOSE UNSELECT EXPUNGE
		SEARCH FETCH STORE COPY MOVE UID CHECK ID DONE SORT THREAD COMPRESS GETQUOTA GETQUOTAROOT SETQUOTA
		ALL FAST FULL BODY BODYSTRUCTURE ENVELOPE FLAGS INTERNALDATE RFC822 RFC822.HEADER RFC822.SIZE RFC822.TEXT
		MODSEQ BINARY BINARY.SIZE BODY.PEEK BINARY.PEEK HEADER HEADER.FIELDS HEADER.FIELDS.NOT TEXT MIME
		+FLAGS -FLAGS +FLAGS.SILENT -FLAGS.SILENT FLAGS.SILENT CHANGEDSINCE UNCHANGEDSINCE VANISHED
		MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ APPENDLIMIT DELETED-STORAGE
		RETURN CHARSET MIN MAX COUNT SAVE NIL INBOX
		ANSWERED BCC BEFORE CC DRAFT FLAGGED FROM KEYWORD LARGER NEW NOT OLD ON OR SEEN SENTBEFORE SENTON
		SENTSINCE SINCE SMALLER SUBJECT TO UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNKEYWORD OLDER YOUNGER
		UTF-8 US-ASCII`) {
		m[s] = s
	}
	return m
}()

// ReadQuotedBytes reads a quoted string (RFC 9051 §9) and returns its
// unescaped content, valid until the next call.
func (d *Decoder) ReadQuotedBytes() ([]byte, error) {
	if err := d.Expect('"'); err != nil {
		return nil, err
	}
	d.scratch = d.scratch[:0]
	eight := false
	for {
		if _, err := d.peek(); err != nil {
			return nil, unexpected(err)
		}
		buf, _ := d.br.Peek(d.br.Buffered())
		i := 0
		for i < len(buf) {
			c := buf[i]
			if c == '"' || c == '\\' || c == '\r' || c == '\n' || c == 0 {
				break
			}
			if c >= 0x80 {
				eight = true
			}
			i++
		}
		d.scratch = append(d.scratch, buf[:i]...)
		if err := d.consume(i); err != nil {
			return nil, err
		}
		if i == len(buf) {
			continue
		}
		switch buf[i] {
		case '"':
			if err := d.consume(1); err != nil {
				return nil, err
			}
			// RFC 9051 §9 allows UTF-8 in quoted strings; IMAP4rev1 does
			// not, but real clients send it (SEARCH CHARSET), so 8-bit data
			// is accepted and, with UTF8 set, must be valid UTF-8.
			if eight && d.UTF8 && !utf8.Valid(d.scratch) {
				return nil, syntaxErr("invalid UTF-8 in quoted string")
			}
			return d.scratch, nil
		case '\\':
			if err := d.consume(1); err != nil {
				return nil, err
			}
			c, err := d.peek()
			if err != nil {
				return nil, unexpected(err)
			}
			if c != '"' && c != '\\' {
				return nil, syntaxErr("bad escape in quoted string")
			}
			d.scratch = append(d.scratch, c)
			if err := d.consume(1); err != nil {
				return nil, err
			}
		default:
			return nil, syntaxErr("CR, LF or NUL in quoted string")
		}
	}
}
