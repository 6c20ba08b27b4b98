package imapwire

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
)

// Limits bound what a Decoder accepts. A zero field takes the default
// named in its comment.
type Limits struct {
	// MaxLine is the longest line in bytes, counted from the start of the
	// command or the end of the last literal up to CRLF. Default 65536
	// (RFC 7162 §4 asks servers to accept at least 8192).
	MaxLine int
	// MaxLiteral is the largest literal read as a string (not streamed).
	// Default 65536. Streamed literals (ReadLiteralReader) take their own
	// limit.
	MaxLiteral int64
	// MaxNonSyncLiteral bounds non-synchronising literals {n+} in addition
	// to the other limits; set 4096 when advertising LITERAL- (RFC 7888 §5).
	// Zero means no extra bound.
	MaxNonSyncLiteral int64
	// MaxLiterals is the most literals one command may hold. Default 1000.
	MaxLiterals int
	// MaxCommandBytes bounds a whole command: its lines plus the literals
	// read as strings (streamed literals are not counted), so that many
	// lines and literals cannot add up to a large allocation. Default 4 MiB.
	MaxCommandBytes int64
	// MaxDepth is the deepest list nesting (search programs, fetch items,
	// body structures). Default 64.
	MaxDepth int
}

func (l Limits) withDefaults() Limits {
	if l.MaxLine <= 0 {
		l.MaxLine = 65536
	}
	if l.MaxLiteral <= 0 {
		l.MaxLiteral = 65536
	}
	if l.MaxLiterals <= 0 {
		l.MaxLiterals = 1000
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = 64
	}
	if l.MaxCommandBytes <= 0 {
		l.MaxCommandBytes = 4 << 20
	}
	return l
}

// Decoder reads IMAP syntax elements from a *bufio.Reader.
// It is not safe for concurrent use.
type Decoder struct {
	br  *bufio.Reader
	lim Limits
	// Continue is called before the decoder reads the data of an accepted
	// synchronising literal; the server writes its "+ " continuation
	// request and flushes (RFC 9051 §7.5). A nil Continue is a client-side
	// decoder, which never needs to answer literals. An error from Continue
	// is returned as is.
	Continue func(LiteralInfo) error
	// UTF8 requires 8-bit data in quoted strings to be valid UTF-8
	// (IMAP4rev2, UTF8=ACCEPT). Without it 8-bit bytes in quoted strings are
	// passed through as found (IMAP4rev1 forbids them, clients send them);
	// callers validate mailbox names and other text themselves.
	// Literals may always carry 8-bit data.
	UTF8 bool

	scratch  []byte
	lineLen  int
	literals int
	cmdBytes int64 // line and string literal bytes read in this command
	depth    int
	inLine   bool  // bytes of the current line have been consumed
	pending  int64 // unread bytes of a streamed literal
	refused  *LiteralInfo
	pendingR literalReader
}

// NewDecoder returns a decoder reading from br with the given limits.
func NewDecoder(br *bufio.Reader, lim Limits) *Decoder {
	d := &Decoder{br: br, lim: lim.withDefaults()}
	d.pendingR.d = d
	return d
}

// Reset makes d read from br with fresh state, keeping its scratch buffer,
// limits and hooks; a server uses it when a connection's reader changes
// (STARTTLS, COMPRESS) or to reuse a decoder.
func (d *Decoder) Reset(br *bufio.Reader) {
	d.br = br
	d.endCommand()
	d.pending = 0
}

// Limits returns the limits in effect (with defaults filled in).
func (d *Decoder) Limits() Limits { return d.lim }

// SetLimits replaces the limits, e.g. after authentication.
func (d *Decoder) SetLimits(lim Limits) { d.lim = lim.withDefaults() }

// Buffered returns the number of bytes already read from the connection
// but not yet decoded (a server checks it is zero before STARTTLS).
func (d *Decoder) Buffered() int { return d.br.Buffered() }

func (d *Decoder) endCommand() {
	d.lineLen, d.literals, d.depth, d.cmdBytes = 0, 0, 0, 0
	d.inLine = false
	d.refused = nil
}

// drain discards what is left of a streamed literal the caller did not
// read to its end.
func (d *Decoder) drain() error {
	if d.pending > 0 {
		n, err := d.br.Discard(int(min(d.pending, 1<<30)))
		d.pending -= int64(n)
		if err != nil {
			return unexpected(err)
		}
		if d.pending > 0 {
			return d.drain()
		}
		d.inLine = true // the command goes on after the literal
	}
	return nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// peek returns the next byte without consuming it.
func (d *Decoder) peek() (byte, error) {
	if d.pending > 0 {
		if err := d.drain(); err != nil {
			return 0, err
		}
	}
	b, err := d.br.Peek(1)
	if err != nil {
		if err == io.EOF && d.inLine {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	return b[0], nil
}

// consume accounts for and discards n bytes already peeked.
func (d *Decoder) consume(n int) error {
	d.lineLen += n
	d.cmdBytes += int64(n)
	d.inLine = true
	_, _ = d.br.Discard(n)
	if d.lineLen > d.lim.MaxLine {
		return &Error{Kind: ErrLineTooLong}
	}
	if d.cmdBytes > d.lim.MaxCommandBytes {
		return &Error{Kind: ErrLineTooLong, Msg: "command too long"}
	}
	return nil
}

// PeekByte returns the next byte without consuming it.
func (d *Decoder) PeekByte() (byte, error) { return d.peek() }

// Byte consumes the next byte if it is c and reports whether it did.
func (d *Decoder) Byte(c byte) (bool, error) {
	b, err := d.peek()
	if err != nil || b != c {
		return false, err
	}
	return true, d.consume(1)
}

// Expect consumes the byte c or fails with a syntax error.
func (d *Decoder) Expect(c byte) error {
	ok, err := d.Byte(c)
	if err == nil && !ok {
		err = syntaxErr("expected " + quoteByte(c))
	}
	return err
}

// SP consumes a single space.
func (d *Decoder) SP() error { return d.Expect(' ') }

func quoteByte(c byte) string {
	switch c {
	case ' ':
		return "SP"
	case '\r', '\n':
		return "CRLF"
	}
	return "'" + string(rune(c)) + "'"
}

// AtEOL reports whether the next bytes are the end of the line (CR or LF)
// without consuming them.
func (d *Decoder) AtEOL() (bool, error) {
	b, err := d.peek()
	return err == nil && (b == '\r' || b == '\n'), err
}

// ReadCRLF consumes the end of the command: CRLF (a bare LF is accepted
// too) and resets the per-command counters.
func (d *Decoder) ReadCRLF() error {
	if err := d.eol(); err != nil {
		return err
	}
	d.endCommand()
	return nil
}

// eol consumes CRLF or LF.
func (d *Decoder) eol() error {
	b, err := d.peek()
	if err != nil {
		return err
	}
	if b == '\r' {
		if err := d.consume(1); err != nil {
			return err
		}
		if b, err = d.peek(); err != nil {
			return unexpected(err)
		}
	}
	if b != '\n' {
		return syntaxErr("expected CRLF")
	}
	_, _ = d.br.Discard(1)
	d.inLine = false
	return nil
}

// Recover skips the rest of a command after an *Error, so the next read
// starts at the next command. Non-synchronising literals met on the way are
// discarded when no larger than maxDiscard; a larger one makes Recover fail
// with ErrOutOfStep, after which the caller sends BYE and closes
// (RFC 7888 §4). A synchronising literal ends the command, since the
// client waits for a continuation that never comes. I/O errors are returned
// as is.
func (d *Decoder) Recover(maxDiscard int64) error {
	if err := d.drain(); err != nil {
		return err
	}
	if r := d.refused; r != nil {
		d.refused = nil
		if !r.NonSync {
			d.endCommand()
			return nil
		}
		if err := d.discardLiteral(r.Size, maxDiscard); err != nil {
			return err
		}
		d.inLine = true
	}
	// The failed command's line is always discarded, even when the error
	// came before its first byte was consumed; so Recover makes progress.
	for first := true; first || d.inLine; first = false {
		lit, err := d.discardLine()
		if err != nil {
			return err
		}
		if lit == nil || !lit.NonSync {
			break
		}
		if err := d.discardLiteral(lit.Size, maxDiscard); err != nil {
			return err
		}
	}
	d.endCommand()
	return nil
}

func (d *Decoder) discardLiteral(n, maxDiscard int64) error {
	if n > maxDiscard {
		return &Error{Kind: ErrOutOfStep, Msg: "non-synchronising literal too big to skip", Literal: LiteralInfo{Size: n, NonSync: true}}
	}
	for n > 0 {
		k, err := d.br.Discard(int(min(n, 1<<20)))
		n -= int64(k)
		if err != nil {
			return unexpected(err)
		}
	}
	return nil
}

// discardLine skips to the end of the current line and returns the literal
// announced at its end, if any. inLine is true afterwards only when a
// non-synchronising literal follows (the command continues).
func (d *Decoder) discardLine() (*LiteralInfo, error) {
	lit, err := SkipLine(d.br)
	if err != nil {
		return nil, unexpected(err)
	}
	d.inLine = false
	if lit != nil && lit.NonSync {
		d.inLine = true
	}
	return lit, nil
}

// SkipLine reads br up to and including the next LF, however long the
// line, keeping only its last bytes, and returns the literal announced
// at its end ("{n}" or "{n+}"), or nil. A caller that must stay in step
// after a line it cannot parse (a server after a bad command, a client
// after a garbled response) skips that literal's n octets and the rest
// of the line after it the same way.
func SkipLine(br *bufio.Reader) (*LiteralInfo, error) {
	var tail [32]byte
	nt := 0
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) >= len(tail) {
			nt = copy(tail[:], chunk[len(chunk)-len(tail):])
		} else if len(chunk) > 0 {
			if nt+len(chunk) > len(tail) {
				keep := len(tail) - len(chunk)
				copy(tail[:], tail[nt-keep:nt])
				nt = keep
			}
			nt += copy(tail[nt:], chunk)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return nil, err
		}
		return parseLiteralTail(tail[:nt]), nil
	}
}

// parseLiteralTail finds "{n}" / "{n+}" / "~{n}" right before the line end.
func parseLiteralTail(t []byte) *LiteralInfo {
	t = bytes.TrimSuffix(t, []byte("\n"))
	t = bytes.TrimSuffix(t, []byte("\r"))
	if len(t) < 3 || t[len(t)-1] != '}' {
		return nil
	}
	t = t[:len(t)-1]
	var info LiteralInfo
	if t[len(t)-1] == '+' {
		info.NonSync = true
		t = t[:len(t)-1]
	}
	i := len(t)
	for i > 0 && t[i-1] >= '0' && t[i-1] <= '9' {
		i--
	}
	if i == len(t) || i == 0 || t[i-1] != '{' {
		return nil
	}
	n, err := strconv.ParseInt(string(t[i:]), 10, 64)
	if err != nil {
		return nil // more than an int64: no peer can mean it
	}
	info.Size = n
	return &info
}
