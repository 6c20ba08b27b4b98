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

// num writes n in decimal.
func (w *respWriter) num(n uint32) { w.num64(uint64(n)) }

// int64 writes n in decimal.
func (w *respWriter) int64(n int64) {
	if n < 0 {
		w.Write(strconv.AppendInt(w.AvailableBuffer(), n, 10))
		return
	}
	w.num64(uint64(n))
}

// num64 writes n in decimal. A FETCH writes two or three numbers per
// message, so the digits go straight into the buffer's free space,
// without strconv.AppendUint's 65-octet scratch array and append (which
// cost about 120 instructions a number).
func (w *respWriter) num64(n uint64) {
	const max = 20 // digits of the largest uint64
	b := w.AvailableBuffer()
	if cap(b) < max {
		// The buffer is about to be written out: let Write do it.
		w.Write(strconv.AppendUint(b, n, 10))
		return
	}
	b = b[:max]
	i := max
	for n >= 10 {
		i--
		q := n / 10
		b[i] = byte('0' + n - q*10)
		n = q
	}
	i--
	b[i] = byte('0' + n)
	w.Write(b[i:])
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
	b := w.AvailableBuffer()
	year, month, day := t.Date()
	_, offset := t.Zone()
	if cap(b) < len(dateTimeLayout)+2 || year < 0 || year > 9999 || offset <= -100*3600 || offset >= 100*3600 {
		w.WriteByte('"')
		w.Write(t.AppendFormat(w.AvailableBuffer(), dateTimeLayout))
		w.WriteByte('"')
		return
	}
	// What AppendFormat(dateTimeLayout) makes, digit by digit: a FETCH
	// of INTERNALDATE writes one per message, and the general formatter
	// costs ten times as much.
	hour, minute, sec := t.Clock()
	zone := offset / 60 // minutes, truncated as AppendFormat does
	sign := byte('+')
	if zone < 0 {
		sign, zone = '-', -zone
	}
	b = append(b, '"', '0'+byte(day/10), '0'+byte(day%10), '-')
	b = append(b, monthAbbr[3*(month-1):3*month]...)
	b = append(b, '-', '0'+byte(year/1000), '0'+byte(year/100%10), '0'+byte(year/10%10), '0'+byte(year%10),
		' ', '0'+byte(hour/10), '0'+byte(hour%10), ':', '0'+byte(minute/10), '0'+byte(minute%10),
		':', '0'+byte(sec/10), '0'+byte(sec%10),
		' ', sign, '0'+byte(zone/600%10), '0'+byte(zone/60%10), '0'+byte(zone%60/10), '0'+byte(zone%10), '"')
	w.Write(b)
}

// dateTimeLayout is RFC 9051's date-time (§9) without its quotes, as a
// time layout.
const dateTimeLayout = "02-Jan-2006 15:04:05 -0700"

const monthAbbr = "JanFebMarAprMayJunJulAugSepOctNovDec"

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
