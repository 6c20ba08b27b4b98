package imapmsg

import (
	"io"
	"strings"

	"github.com/posthorn/posthorn/mime"
)

// fieldsReader streams BODY[HEADER.FIELDS (...)] and HEADER.FIELDS.NOT
// (RFC 9051 §6.4.5) straight from the parsed header's raw fields: the
// selected fields as written, each ending in CRLF, then the blank line.
// Nothing is copied but into the caller's buffer, so a whole-mailbox
// FETCH of a few header fields costs one small allocation per message.
type fieldsReader struct {
	fields []mime.Field
	names  []string
	not    bool
	// sel marks the selected fields among the first 64, found once by
	// newFieldsReader; later fields are matched as they are reached.
	sel  uint64
	i    int    // next field to consider
	cur  []byte // unread rest of the current piece
	tail bool   // the current field lacks its line end: CRLF follows
	done bool   // the blank line was queued
}

var crlf = []byte("\r\n")

// newFieldsReader returns the reader and the length of what it yields.
func newFieldsReader(fields []mime.Field, names []string, not bool) (*fieldsReader, int64) {
	r := &fieldsReader{fields: fields, names: names, not: not}
	n := int64(len(crlf))
	for i := range fields {
		f := &fields[i]
		if !r.match(f) {
			continue
		}
		if i < 64 {
			r.sel |= 1 << i
		}
		n += int64(len(f.Raw))
		if !endsInLF(f.Raw) {
			n += int64(len(crlf))
		}
	}
	return r, n
}

// match reports whether f is selected: named in names (or, with not,
// not named), case-insensitively (RFC 9051 §6.4.5).
func (r *fieldsReader) match(f *mime.Field) bool {
	if f.Key == "" {
		return false
	}
	for _, name := range r.names {
		// Compare lengths and first letters before folding.
		if len(name) == len(f.Key) && name[0]|0x20 == f.Key[0]|0x20 && strings.EqualFold(name, f.Key) {
			return !r.not
		}
	}
	return r.not
}

func (r *fieldsReader) selected(i int) bool {
	if i < 64 {
		return r.sel&(1<<i) != 0
	}
	return r.match(&r.fields[i])
}

func endsInLF(b []byte) bool { return len(b) > 0 && b[len(b)-1] == '\n' }

// next queues the next piece; it returns false at the end.
func (r *fieldsReader) next() bool {
	if r.tail {
		r.tail = false
		r.cur = crlf
		return true
	}
	for r.i < len(r.fields) {
		i := r.i
		r.i++
		if r.selected(i) {
			raw := r.fields[i].Raw
			r.cur = raw
			r.tail = !endsInLF(raw)
			return true
		}
	}
	if r.done {
		return false
	}
	r.done = true
	r.cur = crlf
	return true
}
func (r *fieldsReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.cur) == 0 && !r.next() {
			return n, io.EOF
		}
		c := copy(p[n:], r.cur)
		r.cur = r.cur[c:]
		n += c
	}
	return n, nil
}

// WriteTo writes the rest to w without an intermediate buffer.
func (r *fieldsReader) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for len(r.cur) > 0 || r.next() {
		c, err := w.Write(r.cur)
		n += int64(c)
		r.cur = r.cur[c:]
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
