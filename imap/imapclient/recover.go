package imapclient

import (
	"bufio"
	"errors"
	"strconv"

	"github.com/posthorn/posthorn/internal/imapwire"
)

// ParseError reports an untagged response the client could not parse
// (garbled, or over one of the Limits) and skipped: the connection stays
// usable, but the response's data is lost. It goes to Handler.ParseError.
type ParseError struct {
	Err error
}

// Error describes the skipped response.
func (e *ParseError) Error() string {
	return "imapclient: skipped an unparsable server response: " + e.Err.Error()
}

// Unwrap returns the parse error.
func (e *ParseError) Unwrap() error { return e.Err }

// recoverable reports whether a parse error in an untagged response
// leaves the stream where the client can find the next response: a
// syntax error, an over-long line, lists nested too deep, or a literal over
// a limit (whose size is known, so its data can be skipped). I/O errors
// cannot be recovered from.
func recoverable(err error) bool {
	var we *imapwire.Error
	if errors.As(err, &we) {
		switch we.Kind {
		case imapwire.ErrSyntax, imapwire.ErrLineTooLong, imapwire.ErrTooDeep, imapwire.ErrLiteralTooBig:
			return true
		}
		return false
	}
	var se *syntaxError
	var le *LimitError
	return errors.As(err, &se) || errors.As(err, &le)
}

// skipResponse skips the rest of the response in which err occurred, up
// to the CRLF that ends it, stepping over literals (RFC 9051 §4.3: a
// server's literal data always follows its "{n}" line, so a line ending in
// a literal continues after the data). Skipping is bounded by MaxSection
// per literal; beyond it the stream is given up.
func (c *Client) skipResponse(err error) error {
	var we *imapwire.Error
	if errors.As(err, &we) && we.Kind == imapwire.ErrLiteralTooBig {
		// The header was read; the data follows.
		if err := c.discardN(we.Literal.Size); err != nil {
			return err
		}
	} else if _, err := c.dec.PeekByte(); err != nil {
		// PeekByte drains a literal the parser had started.
		return err
	}
	br := c.br
	var tail [24]byte
	nt := 0
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) >= len(tail) {
			nt = copy(tail[:], chunk[len(chunk)-len(tail):])
		} else {
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
			return err
		}
		n, ok := literalAtEnd(tail[:nt])
		if !ok {
			break
		}
		if err := c.discardN(n); err != nil {
			return err
		}
		nt = 0
	}
	c.dec.Reset(br)
	return nil
}

// literalAtEnd parses a "{n}" or "{n+}" literal header ending line (which
// ends in LF or CRLF).
func literalAtEnd(line []byte) (int64, bool) {
	if len(line) > 0 && line[len(line)-1] == '\n' {
		line = line[:len(line)-1]
	}
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false
	}
	line = line[:len(line)-1]
	if line[len(line)-1] == '+' {
		line = line[:len(line)-1]
	}
	i := len(line)
	for i > 0 && line[i-1] >= '0' && line[i-1] <= '9' {
		i--
	}
	if i == 0 || i == len(line) || line[i-1] != '{' {
		return 0, false
	}
	n, err := strconv.ParseInt(string(line[i:]), 10, 64)
	return n, err == nil
}

// discardN skips n octets of literal data, at most MaxSection.
func (c *Client) discardN(n int64) error {
	if n > c.lim.MaxSection {
		return &LimitError{What: "literal to skip", Limit: c.lim.MaxSection}
	}
	for n > 0 {
		k, err := c.br.Discard(int(min(n, 1<<20)))
		n -= int64(k)
		if err != nil {
			return err
		}
	}
	return nil
}
