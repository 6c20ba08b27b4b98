package pop3

import (
	"bytes"
	"errors"
	"strings"

	"github.com/posthorn/posthorn/sasl"
)

// MaxResponseLine is the longest first line of a response, including the
// terminating CRLF (RFC 2449 §4).
const MaxResponseLine = 512

// Response codes defined by RFC 2449 §8, RFC 3206 and RFC 6856 §5.
const (
	CodeInUse      = "IN-USE"      // the maildrop is locked by another session (RFC 2449 §8.1.2)
	CodeLoginDelay = "LOGIN-DELAY" // logged in too recently (RFC 2449 §8.1.1)
	CodeSysTemp    = "SYS/TEMP"    // temporary system failure (RFC 3206 §4)
	CodeSysPerm    = "SYS/PERM"    // permanent system failure (RFC 3206 §4)
	CodeAuth       = "AUTH"        // credentials were wrong (RFC 3206 §5)
	CodeUTF8       = "UTF8"        // the failure needs UTF8 mode (RFC 6856 §5)
)

// Status is the kind of a POP3 status line.
type Status int

const (
	// StatusOK is a "+OK" line.
	StatusOK Status = iota
	// StatusErr is a "-ERR" line.
	StatusErr
	// StatusContinue is a SASL continuation line "+ base64" (RFC 5034 §4).
	StatusContinue
)

// Response is a parsed status line.
type Response struct {
	Status Status
	// Code is the RFC 2449 response code without brackets, e.g. "IN-USE"
	// or "SYS/TEMP"; empty when the line carries none.
	Code string
	// Text is the rest of the line after the status and the response code,
	// with leading blanks removed. For StatusContinue it is the Base64
	// challenge.
	Text string
}

// Err returns the response as an *Error when it is a -ERR line, else nil.
func (r Response) Err() error {
	if r.Status != StatusErr {
		return nil
	}
	return &Error{Code: r.Code, Text: r.Text}
}

// SyntaxError reports a malformed command or response line.
type SyntaxError struct {
	What string // what was being parsed: "response", "command", "capability", ...
	Msg  string
}

func (e *SyntaxError) Error() string { return "pop3: malformed " + e.What + ": " + e.Msg }

// ParseResponse parses one status line given without its CRLF. Status
// keywords are matched case-sensitively as RFC 1939 §3 writes them, but
// "+OK" and "-ERR" followed directly by the end of the line are accepted.
func ParseResponse(line []byte) (Response, error) {
	if len(line) > MaxResponseLine-2 {
		return Response{}, &SyntaxError{What: "response", Msg: "line longer than 512 octets"}
	}
	var r Response
	var rest []byte
	switch {
	case bytes.HasPrefix(line, []byte("+OK")):
		r.Status, rest = StatusOK, line[3:]
	case bytes.HasPrefix(line, []byte("-ERR")):
		r.Status, rest = StatusErr, line[4:]
	case len(line) == 1 && line[0] == '+':
		// Some servers send a bare "+" for an empty challenge.
		return Response{Status: StatusContinue}, nil
	case bytes.HasPrefix(line, []byte("+ ")):
		return Response{Status: StatusContinue, Text: string(bytes.TrimSpace(line[2:]))}, nil
	default:
		return Response{}, &SyntaxError{What: "response", Msg: "no +OK or -ERR status"}
	}
	if len(rest) > 0 && rest[0] != ' ' && rest[0] != '\t' {
		return Response{}, &SyntaxError{What: "response", Msg: "status not followed by a space"}
	}
	rest = bytes.TrimLeft(rest, " \t")
	// RFC 2449 §8: a response code is recognised only at the start of
	// the text, in brackets; anything else is free text.
	if len(rest) > 0 && rest[0] == '[' {
		if end := bytes.IndexByte(rest, ']'); end > 0 && validRespCode(rest[1:end]) {
			r.Code = strings.ToUpper(string(rest[1:end]))
			rest = bytes.TrimLeft(rest[end+1:], " \t")
		}
	}
	r.Text = string(rest)
	return r, nil
}

// validRespCode checks resp-code = resp-level *("/" resp-level), where
// resp-level = 1*rchar and rchar excludes "/", "]" and controls
// (RFC 2449 §9).
func validRespCode(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	level := 0
	for _, c := range b {
		switch {
		case c == '/':
			if level == 0 {
				return false
			}
			level = 0
		case c >= 0x21 && c <= 0x7e && c != ']':
			level++
		default:
			return false
		}
	}
	return level > 0
}

// Error is a -ERR reply. It works with errors.As, and errors.Is matches
// the sentinels ErrInUse, ErrLoginDelay, ErrSysTemp, ErrSysPerm and
// ErrAuth by response code.
type Error struct {
	// Code is the RFC 2449 response code without brackets, or "".
	Code string
	// Text is the human-readable text the server sent.
	Text string
}

func (e *Error) Error() string {
	if e.Code != "" {
		return "pop3: -ERR [" + e.Code + "] " + e.Text
	}
	return "pop3: -ERR " + e.Text
}

// Temporary reports whether trying again later may succeed: the maildrop
// was in use, the login came too early, or the server failed temporarily.
func (e *Error) Temporary() bool {
	return e.hasCode(CodeInUse) || e.hasCode(CodeLoginDelay) || e.hasCode(CodeSysTemp)
}

// hasCode reports whether e's code is c or a sub-level of c
// ("SYS/TEMP/DISK" has code "SYS/TEMP"; RFC 2449 §8 hierarchy).
func (e *Error) hasCode(c string) bool {
	return strings.EqualFold(e.Code, c) ||
		(len(e.Code) > len(c) && e.Code[len(c)] == '/' && strings.EqualFold(e.Code[:len(c)], c))
}

// Is lets errors.Is match the code sentinels of this package, and
// sasl.ErrAuthFailed for -ERR [AUTH] (RFC 3206 §4: the credentials are
// wrong), as the SMTP and IMAP clients' equivalents do; [SYS/TEMP] and
// [IN-USE] (temporary) do not match it.
func (e *Error) Is(target error) bool {
	if target == sasl.ErrAuthFailed {
		return e.hasCode(CodeAuth)
	}
	t, ok := target.(*codeSentinel)
	return ok && e.hasCode(t.code)
}

type codeSentinel struct{ code string }

func (s *codeSentinel) Error() string { return "pop3: -ERR [" + s.code + "]" }

// Sentinels matched by errors.Is against an *Error carrying the code.
var (
	ErrInUse      error = &codeSentinel{CodeInUse}
	ErrLoginDelay error = &codeSentinel{CodeLoginDelay}
	ErrSysTemp    error = &codeSentinel{CodeSysTemp}
	ErrSysPerm    error = &codeSentinel{CodeSysPerm}
	ErrAuth       error = &codeSentinel{CodeAuth}
	ErrUTF8       error = &codeSentinel{CodeUTF8}
)

// AsError returns err as an *Error when it is (or wraps) one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
