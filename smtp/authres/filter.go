package authres

import (
	"bytes"
	"io"
	"strings"
)

// maxHeldField bounds an Authentication-Results field held while it is
// judged; a longer one is dropped (no honest field is that long).
const maxHeldField = 64 << 10

// maxNameLen bounds how far a field name is looked for before the field
// is passed through as it is.
const maxNameLen = 1000

// Filter is an io.WriteCloser that passes a message through to W and drops
// from its header every Authentication-Results field whose authserv-id is
// one of IDs (compared case-insensitively). RFC 8601 §5: a border MTA
// removes fields that claim to come from inside its trust boundary before
// adding its own, since they are forged. The body and every other field
// pass byte for byte; only the field being judged is held in memory.
type Filter struct {
	w     io.Writer
	ids   []string
	state int
	hold  []byte // the current field, while it may be one to drop
	spare []byte // hold's buffer, kept for the next field
	drop  bool   // the current field is dropped
	err   error
	// Removed counts the fields dropped.
	Removed int
}

const (
	stLineStart = iota // at the start of a header line
	stPass             // inside a field that passes
	stHold             // inside a field held for judgement
	stBody             // past the header
)

// NewFilter returns a Filter writing to w and removing the fields of the
// given authserv-ids (normally one: this host's).
func NewFilter(w io.Writer, ids ...string) *Filter {
	return &Filter{w: w, ids: ids}
}

// Reset makes f ready for another message, written to w, removing the
// same authserv-ids; it keeps its buffer.
func (f *Filter) Reset(w io.Writer) {
	*f = Filter{w: w, ids: f.ids, spare: f.spare}
}

// Write filters p. Errors are those of the underlying writer.
func (f *Filter) Write(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	n := len(p)
	for len(p) > 0 && f.state != stBody {
		switch f.state {
		case stLineStart:
			c := p[0]
			if c == ' ' || c == '\t' {
				// A continuation line of the current field.
				if f.hold != nil || f.drop {
					f.state = stHold
				} else {
					f.state = stPass
				}
				continue
			}
			f.endField()
			if c == '\r' || c == '\n' {
				f.state = stBody // the blank line ending the header
				continue
			}
			if f.spare == nil {
				f.spare = make([]byte, 0, 128)
			}
			f.hold = f.spare[:0] // not nil: a field is held
			f.state = stHold
		case stPass:
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				f.write(p)
				p = nil
				continue
			}
			f.write(p[:i+1])
			p = p[i+1:]
			f.state = stLineStart
		case stHold:
			i := bytes.IndexByte(p, '\n')
			chunk := p
			if i >= 0 {
				chunk = p[:i+1]
			}
			p = p[len(chunk):]
			if !f.drop {
				f.hold = append(f.hold, chunk...)
				if cap(f.hold) <= maxHeldField+maxNameLen {
					f.spare = f.hold[:0]
				}
				f.judgeName()
			}
			if i >= 0 {
				f.state = stLineStart
			}
		}
	}
	if len(p) > 0 {
		f.write(p)
	}
	return n, f.err
}

// judgeName looks at a held field once its name is known: a field that is
// not Authentication-Results is released and passes from then on.
func (f *Filter) judgeName() {
	colon := bytes.IndexByte(f.hold, ':')
	if colon < 0 {
		if len(f.hold) > maxNameLen {
			f.release()
		}
		return
	}
	name := strings.TrimRight(string(f.hold[:colon]), " \t")
	if !strings.EqualFold(name, "Authentication-Results") {
		f.release()
		return
	}
	if len(f.hold) > maxHeldField {
		f.hold, f.drop = nil, true
		f.Removed++
	}
}

// release writes the held bytes and lets the rest of the field pass.
func (f *Filter) release() {
	f.write(f.hold)
	f.hold = nil
	if f.state == stHold {
		f.state = stPass
	}
}

// endField decides about a held field once it is complete.
func (f *Filter) endField() {
	if f.drop {
		f.drop = false
		return
	}
	if f.hold == nil {
		return
	}
	held := f.hold
	f.hold = nil
	colon := bytes.IndexByte(held, ':')
	if colon >= 0 && f.ours(string(held[colon+1:])) {
		f.Removed++
		return
	}
	f.write(held)
}

func (f *Filter) ours(value string) bool {
	id, err := AuthServID(value)
	if err != nil {
		return false
	}
	for _, o := range f.ids {
		if strings.EqualFold(id, o) {
			return true
		}
	}
	return false
}

func (f *Filter) write(p []byte) {
	if f.err == nil && len(p) > 0 {
		_, f.err = f.w.Write(p)
	}
}

// Close ends the message: a field still held (a message that is all
// header) is judged and written. It does not close W.
func (f *Filter) Close() error {
	if f.state != stBody {
		f.endField()
		f.state = stBody
	}
	return f.err
}
