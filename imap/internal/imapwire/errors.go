package imapwire

import (
	"errors"
	"strconv"

	"github.com/posthorn/posthorn/imap"
)

// ErrorKind classifies a decoder *Error.
type ErrorKind uint8

// Error kinds.
const (
	// ErrSyntax: the input breaks the grammar.
	ErrSyntax ErrorKind = iota + 1
	// ErrLineTooLong: a line (between literals) exceeds Limits.MaxLine.
	ErrLineTooLong
	// ErrLiteralTooBig: a literal exceeds its limit; Error.Literal describes it.
	ErrLiteralTooBig
	// ErrTooManyLiterals: a command holds more than Limits.MaxLiterals literals.
	ErrTooManyLiterals
	// ErrTooDeep: lists nest deeper than Limits.MaxDepth.
	ErrTooDeep
	// ErrBadCharset: SEARCH CHARSET names a charset this package cannot
	// convert (RFC 9051 §6.4.4: answer NO [BADCHARSET]).
	ErrBadCharset
	// ErrOutOfStep: Recover could not skip the failed command; the
	// connection must be closed (after a BYE).
	ErrOutOfStep
)

var kindNames = [...]string{"", "syntax error", "line too long", "literal too big", "too many literals",
	"lists nested too deep", "unsupported charset", "cannot resynchronise"}

// String names the kind.
func (k ErrorKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "error " + strconv.Itoa(int(k))
}

// LiteralInfo describes a literal announced by the peer.
type LiteralInfo struct {
	Size    int64 // number of octets announced
	NonSync bool  // {n+}: the client sends the data without waiting (RFC 7888)
	Binary  bool  // ~{n}: literal8, may contain NUL (RFC 3516)
}

// Error is a grammar or limit violation found by the Decoder.
type Error struct {
	Kind ErrorKind
	Msg  string
	// Literal describes the literal of an ErrLiteralTooBig error.
	Literal LiteralInfo
	// InStep is true when the decoder already stands at the start of the
	// next command, so the caller answers and carries on without Recover:
	// for example after refusing a synchronising literal, which the client
	// never sends.
	InStep bool
}

// Error returns "imapwire: " followed by the kind and detail.
func (e *Error) Error() string {
	s := "imapwire: " + e.Kind.String()
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// Code returns the IMAP response code a server should put in its reply:
// TOOBIG for size limits (RFC 4469, RFC 7888 §5), BADCHARSET for an
// unsupported SEARCH charset, and "" otherwise.
func (e *Error) Code() imap.ResponseCode {
	switch e.Kind {
	case ErrLiteralTooBig, ErrLineTooLong:
		return imap.CodeTooBig
	case ErrBadCharset:
		return imap.CodeBadCharset
	}
	return ""
}

// IsError reports whether err is a decoder *Error (rather than an I/O error)
// and returns it.
func IsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

func syntaxErr(msg string) *Error { return &Error{Kind: ErrSyntax, Msg: msg} }
