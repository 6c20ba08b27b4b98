package imapclient

import (
	"errors"

	"github.com/posthorn/posthorn/imap/internal/imapwire"
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
	for {
		lit, err := imapwire.SkipLine(c.br)
		if err != nil {
			return err
		}
		if lit == nil {
			break
		}
		if err := c.discardN(lit.Size); err != nil {
			return err
		}
	}
	c.dec.Reset(c.br)
	return nil
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
