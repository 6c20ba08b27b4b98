package imapwire

import (
	"bufio"
	"io"
	"strconv"
	"time"

	"github.com/posthorn/posthorn/imap"
)

// MaxQuoted is the longest string String writes quoted; longer strings
// become literals.
const MaxQuoted = 1024

// Encoder writes IMAP syntax to a *bufio.Writer. Methods return the
// encoder so calls chain; the first write error sticks and is reported by
// Err and Flush. It is not safe for concurrent use.
type Encoder struct {
	w *bufio.Writer
	// UTF8 allows 8-bit UTF-8 in quoted strings (IMAP4rev2 or
	// UTF8=ACCEPT enabled); otherwise such strings are sent as literals.
	UTF8 bool
	// NonSync makes Literal headers non-synchronising {n+} (client side,
	// LITERAL+). A server never needs it: its literals are not acknowledged.
	NonSync bool
	err     error
}

// NewEncoder returns an encoder writing to w.
func NewEncoder(w *bufio.Writer) *Encoder { return &Encoder{w: w} }

// Reset makes e write to w and clears any error.
func (e *Encoder) Reset(w *bufio.Writer) { e.w, e.err = w, nil }

// Writer returns the underlying writer, for raw data such as body sections.
func (e *Encoder) Writer() *bufio.Writer { return e.w }

// Err returns the first write error.
func (e *Encoder) Err() error { return e.err }

// Flush flushes the writer and returns the first error.
func (e *Encoder) Flush() error {
	if e.err == nil {
		e.err = e.w.Flush()
	}
	return e.err
}

func (e *Encoder) write(b []byte) *Encoder {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
	return e
}

// Raw writes s as is. The caller guarantees it is valid syntax.
func (e *Encoder) Raw(s string) *Encoder {
	if e.err == nil {
		_, e.err = e.w.WriteString(s)
	}
	return e
}

// RawBytes writes b as is (e.g. a pre-encoded ENVELOPE).
func (e *Encoder) RawBytes(b []byte) *Encoder { return e.write(b) }

func (e *Encoder) byte(c byte) *Encoder {
	if e.err == nil {
		e.err = e.w.WriteByte(c)
	}
	return e
}

// SP writes a space.
func (e *Encoder) SP() *Encoder { return e.byte(' ') }

// CRLF ends a line.
func (e *Encoder) CRLF() *Encoder { return e.Raw("\r\n") }

// Star starts an untagged response: "* ".
func (e *Encoder) Star() *Encoder { return e.Raw("* ") }

// Continuation writes a whole continuation request "+ text" CRLF
// (RFC 9051 §7.5). text must not contain CR or LF.
func (e *Encoder) Continuation(text string) *Encoder {
	if text == "" {
		text = "Ready"
	}
	return e.Raw("+ ").Raw(text).CRLF()
}

// Atom writes s as an atom. The caller guarantees it is one.
func (e *Encoder) Atom(s string) *Encoder { return e.Raw(s) }

// Number writes a number without allocating.
func (e *Encoder) Number(n uint32) *Encoder { return e.Number64(uint64(n)) }

// Number64 writes a number64 without allocating.
func (e *Encoder) Number64(n uint64) *Encoder {
	if e.err == nil {
		e.write(strconv.AppendUint(e.w.AvailableBuffer(), n, 10))
	}
	return e
}

// NIL writes NIL.
func (e *Encoder) NIL() *Encoder { return e.Raw("NIL") }

// List writes "(" then calls fn n times, separated by spaces, then ")".
func (e *Encoder) List(n int, fn func(i int)) *Encoder {
	e.byte('(')
	for i := 0; i < n; i++ {
		if i > 0 {
			e.byte(' ')
		}
		fn(i)
	}
	return e.byte(')')
}

// Flags writes a flag list "(\Seen foo)".
func (e *Encoder) Flags(flags []imap.Flag) *Encoder {
	e.byte('(')
	for i, f := range flags {
		if i > 0 {
			e.byte(' ')
		}
		e.Raw(string(f))
	}
	return e.byte(')')
}

// NumSet writes a sequence set.
func (e *Encoder) NumSet(s imap.NumSet) *Encoder {
	if e.err == nil {
		e.write(s.AppendTo(e.w.AvailableBuffer()))
	}
	return e
}

// String writes s as a quoted string when it is safe and short, else as a
// literal (see AppendString).
func (e *Encoder) String(s string) *Encoder {
	if e.err == nil {
		e.write(AppendString(e.w.AvailableBuffer(), s, e.UTF8))
	}
	return e
}

// AString writes s as an atom when it is one (ASTRING-CHARs, not "NIL"),
// otherwise as String does.
func (e *Encoder) AString(s string) *Encoder {
	if e.err == nil {
		e.write(AppendAString(e.w.AvailableBuffer(), s, e.UTF8))
	}
	return e
}

// NString writes s as a string, or NIL when s is empty.
func (e *Encoder) NString(s string) *Encoder {
	if s == "" {
		return e.NIL()
	}
	return e.String(s)
}

// Mailbox writes a mailbox name as an astring. The caller encodes it in
// modified UTF-7 first when the session has not enabled UTF-8.
func (e *Encoder) Mailbox(name string) *Encoder { return e.AString(name) }

// LiteralHeader writes "{n}" CRLF, "{n+}" CRLF with NonSync, or "~{n}" CRLF
// for literal8 (RFC 3516). The caller then writes exactly n bytes.
func (e *Encoder) LiteralHeader(n int64, binary bool) *Encoder {
	if binary {
		e.byte('~')
	}
	e.byte('{').Number64(uint64(n))
	if e.NonSync {
		e.byte('+')
	}
	return e.Raw("}\r\n")
}

// Literal writes b as a literal (literal8 when binary).
func (e *Encoder) Literal(b []byte, binary bool) *Encoder {
	return e.LiteralHeader(int64(len(b)), binary).write(b)
}

// LiteralFrom writes a literal of n bytes copied from r; short input is
// an error (the stream would lose step).
func (e *Encoder) LiteralFrom(r io.Reader, n int64, binary bool) *Encoder {
	e.LiteralHeader(n, binary)
	if e.err == nil {
		var m int64
		m, e.err = io.CopyN(e.w, r, n)
		if e.err == io.EOF && m < n {
			e.err = io.ErrUnexpectedEOF
		}
	}
	return e
}

// DateTime writes a quoted date-time "02-Jan-2006 15:04:05 -0700"
// (RFC 9051 §9; the day is space-padded, date-day-fixed).
func (e *Encoder) DateTime(t time.Time) *Encoder {
	if e.err == nil {
		e.write(AppendDateTime(e.w.AvailableBuffer(), t))
	}
	return e
}

// StatusResponse writes a whole status response line:
// tag (or "*" when tag is "") SP type [SP "[" code [SP arg] "]"] SP text CRLF.
// text must not contain CR or LF; an empty text is sent as the type's name
// because the grammar requires text.
func (e *Encoder) StatusResponse(tag string, typ imap.StatusType, code imap.ResponseCode, codeArg, text string) *Encoder {
	if tag == "" {
		tag = "*"
	}
	e.Raw(tag).SP().Raw(string(typ)).SP()
	if code != "" {
		e.byte('[').Raw(string(code))
		if codeArg != "" {
			e.SP().Raw(codeArg)
		}
		e.Raw("] ")
	}
	if text == "" {
		text = string(typ)
	}
	return e.Raw(text).CRLF()
}

// Error writes err as the tagged (NO, BAD) or untagged (BYE) response.
func (e *Encoder) Error(tag string, err *imap.Error) *Encoder {
	if err.Type == imap.StatusBYE {
		tag = "*"
	}
	return e.StatusResponse(tag, err.Type, err.Code, err.CodeArg, err.Text)
}
