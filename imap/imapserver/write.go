package imapserver

import (
	"bufio"
	"io"
	"strconv"
	"time"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/internal/imapwire"
)

// respWriter writes response syntax to a bufio.Writer without
// allocation. Errors are sticky in the bufio.Writer and surface at Flush.
type respWriter struct {
	*bufio.Writer
	utf8 bool // the session may receive 8-bit UTF-8 in quoted strings
	// refresh, if set, renews the write deadline before a large copy.
	refresh func()
}

func (w *respWriter) sp() { w.WriteByte(' ') }

func (w *respWriter) crlf() { w.WriteString("\r\n") }

func (w *respWriter) num(n uint32) {
	w.Write(strconv.AppendUint(w.AvailableBuffer(), uint64(n), 10))
}

func (w *respWriter) num64(n uint64) {
	w.Write(strconv.AppendUint(w.AvailableBuffer(), n, 10))
}

// str writes s as a quoted string or, when it cannot be quoted, a literal,
// with imapwire's encoder (the one in the tree), straight into the
// buffer.
func (w *respWriter) str(s string) {
	w.Write(imapwire.AppendString(w.AvailableBuffer(), s, w.utf8))
}

// astr writes s as an atom when it is one, otherwise as a string.
func (w *respWriter) astr(s string) {
	w.Write(imapwire.AppendAString(w.AvailableBuffer(), s, w.utf8))
}

// mailbox writes a mailbox name: modified UTF-7 unless the session
// accepts UTF-8 (RFC 9051 §5.1, RFC 6855 §3).
func (w *respWriter) mailbox(name string) {
	if !w.utf8 {
		name = imap.EncodeMailboxName(name)
	}
	w.astr(name)
}

func (w *respWriter) flags(flags []string) {
	w.WriteByte('(')
	for i, f := range flags {
		if i > 0 {
			w.WriteByte(' ')
		}
		w.WriteString(f)
	}
	w.WriteByte(')')
}

// date writes an IMAP date-time (RFC 9051 §9).
func (w *respWriter) dateTime(t time.Time) {
	w.WriteByte('"')
	w.Write(t.AppendFormat(w.AvailableBuffer(), "02-Jan-2006 15:04:05 -0700"))
	w.WriteByte('"')
}

// status writes a complete status response line.
func (w *respWriter) status(tag string, typ imap.StatusType, code imap.ResponseCode, arg, text string) {
	w.WriteString(tag)
	w.sp()
	w.WriteString(string(typ))
	w.sp()
	if code != "" {
		w.WriteByte('[')
		w.WriteString(string(code))
		if arg != "" {
			w.sp()
			w.WriteString(arg)
		}
		w.WriteString("] ")
	}
	if text == "" {
		text = "done"
	}
	w.WriteString(sanitizeText(text))
	w.crlf()
}

// sanitizeText keeps human-readable text on one line and away from
// brackets that would look like a response code.
func sanitizeText(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\r' || s[i] == '\n' || s[i] == 0 {
			b := []byte(s)
			for j := range b {
				if b[j] == '\r' || b[j] == '\n' || b[j] == 0 {
					b[j] = ' '
				}
			}
			return string(b)
		}
	}
	return s
}

// copyFrom copies r to the writer through its own buffer. io.Copy would
// hand the reader to the socket's ReadFrom once the buffer is empty,
// which allocates a 32 KiB buffer per call for readers it cannot splice.
func (w *respWriter) copyFrom(r io.Reader) error {
	for {
		if w.Available() == 0 {
			if w.refresh != nil {
				w.refresh()
			}
			if err := w.Flush(); err != nil {
				return err
			}
		}
		buf := w.AvailableBuffer()[:w.Available()]
		n, err := r.Read(buf)
		w.Write(buf[:n])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
