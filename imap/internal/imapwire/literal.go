package imapwire

import (
	"io"
)

// readLiteralHeader reads "{n}" "{n+}" or "~{n}" and the CRLF after it,
// checks the announced size against limit, and calls Continue for an
// accepted synchronising literal. The first byte ('{' or '~') has been
// peeked but not consumed.
func (d *Decoder) readLiteralHeader(limit int64, allowBinary bool) (LiteralInfo, error) {
	var info LiteralInfo
	if ok, err := d.Byte('~'); err != nil {
		return info, err
	} else if ok {
		if !allowBinary {
			return info, syntaxErr("literal8 not allowed here")
		}
		info.Binary = true
	}
	if err := d.Expect('{'); err != nil {
		return info, err
	}
	n, err := d.readDigits(1<<63 - 1)
	if err != nil {
		return info, err
	}
	info.Size = int64(n)
	if info.NonSync, err = d.Byte('+'); err != nil {
		return info, err
	}
	if err := d.Expect('}'); err != nil {
		return info, err
	}
	if err := d.eol(); err != nil {
		return info, err
	}
	d.lineLen = 0
	d.literals++
	tooBig := info.Size > limit || (info.NonSync && d.lim.MaxNonSyncLiteral > 0 && info.Size > d.lim.MaxNonSyncLiteral)
	if d.literals > d.lim.MaxLiterals || tooBig {
		refused := info // a copy, so info does not escape on the common path
		d.refused = &refused
		kind := ErrLiteralTooBig
		if !tooBig {
			kind = ErrTooManyLiterals
		}
		return info, &Error{Kind: kind, Literal: info, InStep: !info.NonSync}
	}
	if !info.NonSync && d.Continue != nil {
		if err := d.Continue(info); err != nil {
			return info, err
		}
	}
	return info, nil
}

// literalReader streams a literal's data.
type literalReader struct{ d *Decoder }

func (r *literalReader) Read(p []byte) (int, error) {
	d := r.d
	if d.pending <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > d.pending {
		p = p[:d.pending]
	}
	n, err := d.br.Read(p)
	d.pending -= int64(n)
	if d.pending == 0 {
		d.inLine = true
		return n, nil
	}
	if err != nil {
		return n, unexpected(err)
	}
	return n, nil
}

// ReadLiteralReader reads a literal header ({n}, {n+}, or ~{n} for
// literal8 when binary is allowed) and returns a reader over its data. The
// size is checked against limit (for APPEND, the server's append limit)
// before the continuation request is sent. The reader must be consumed
// before the next decoder call, which otherwise discards what is left.
func (d *Decoder) ReadLiteralReader(limit int64, allowBinary bool) (io.Reader, LiteralInfo, error) {
	c, err := d.peek()
	if err != nil {
		return nil, LiteralInfo{}, unexpected(err)
	}
	if c != '{' && c != '~' {
		return nil, LiteralInfo{}, syntaxErr("expected literal")
	}
	info, err := d.readLiteralHeader(limit, allowBinary)
	if err != nil {
		return nil, info, err
	}
	d.pending = info.Size
	if info.Size == 0 {
		d.inLine = true
	}
	return &d.pendingR, info, nil
}

// readLiteralBytes reads a literal's data into the scratch buffer.
func (d *Decoder) readLiteralBytes(allowBinary bool) ([]byte, error) {
	info, err := d.readLiteralHeader(min(d.lim.MaxLiteral, d.lim.MaxCommandBytes-d.cmdBytes), allowBinary)
	if err != nil {
		return nil, err
	}
	d.cmdBytes += info.Size
	if cap(d.scratch) < int(info.Size) {
		d.scratch = make([]byte, info.Size)
	}
	d.scratch = d.scratch[:info.Size]
	if _, err := io.ReadFull(d.br, d.scratch); err != nil {
		return nil, unexpected(err)
	}
	d.inLine = true
	if !info.Binary {
		for _, c := range d.scratch {
			if c == 0 {
				// RFC 9051 §9: literal = ... *CHAR8, CHAR8 excludes NUL.
				return nil, &Error{Kind: ErrSyntax, Msg: "NUL in literal"}
			}
		}
	}
	return d.scratch, nil
}

// ReadStringBytes reads a string (quoted or literal) and returns its
// content, valid until the next call.
func (d *Decoder) ReadStringBytes() ([]byte, error) {
	c, err := d.peek()
	if err != nil {
		return nil, unexpected(err)
	}
	switch c {
	case '"':
		return d.ReadQuotedBytes()
	case '{':
		return d.readLiteralBytes(false)
	}
	return nil, syntaxErr("expected string")
}

// ReadString reads a string (quoted or literal).
func (d *Decoder) ReadString() (string, error) {
	b, err := d.ReadStringBytes()
	return string(b), err
}

// ReadAStringBytes reads an astring: 1*ASTRING-CHAR or a string. The
// result is valid until the next call.
func (d *Decoder) ReadAStringBytes() ([]byte, error) {
	c, err := d.peek()
	if err != nil {
		return nil, unexpected(err)
	}
	if c == '"' || c == '{' {
		return d.ReadStringBytes()
	}
	b, err := d.readRun(astringClass)
	if err == nil && len(b) == 0 {
		err = syntaxErr("expected astring")
	}
	return b, err
}

// ReadAString reads an astring.
func (d *Decoder) ReadAString() (string, error) {
	b, err := d.ReadAStringBytes()
	return string(b), err
}

// ReadNString reads an nstring: a string or NIL (reported by isNil).
func (d *Decoder) ReadNString() (s string, isNil bool, err error) {
	c, err := d.peek()
	if err != nil {
		return "", false, unexpected(err)
	}
	if c == 'N' || c == 'n' {
		return "", true, d.ReadNIL()
	}
	s, err = d.ReadString()
	return s, false, err
}

// ReadNIL reads the atom NIL (case-insensitive).
func (d *Decoder) ReadNIL() error {
	b, err := d.ReadAtomBytes()
	if err != nil {
		return err
	}
	if len(b) != 3 || b[0]|0x20 != 'n' || b[1]|0x20 != 'i' || b[2]|0x20 != 'l' {
		return syntaxErr("expected NIL")
	}
	return nil
}

// ReadMailbox reads a mailbox name (astring) and returns "INBOX" for any
// case variant of it (RFC 9051 §9, mailbox). Decoding modified UTF-7 is the
// caller's choice (it depends on UTF8=ACCEPT / IMAP4rev2).
func (d *Decoder) ReadMailbox() (string, error) {
	b, err := d.ReadAStringBytes()
	if err != nil {
		return "", err
	}
	if len(b) == 5 && upperString(b) == "INBOX" {
		return "INBOX", nil
	}
	return string(b), nil
}

// ReadListMailbox reads a list-mailbox (RFC 9051 §9): 1*list-char or a
// string; "%" and "*" are wildcards the caller interprets.
func (d *Decoder) ReadListMailbox() (string, error) {
	c, err := d.peek()
	if err != nil {
		return "", unexpected(err)
	}
	if c == '"' || c == '{' {
		return d.ReadString()
	}
	b, err := d.readRun(listClass)
	if err == nil && len(b) == 0 {
		err = syntaxErr("expected list-mailbox")
	}
	return string(b), err
}
