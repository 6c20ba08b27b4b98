package dkim

import (
	"bytes"
	"strings"
)

// maxFields bounds the header fields of a message this package signs or
// verifies. Selecting the fields an h= list names is quadratic in the
// worst case; with at most maxFields fields and maxSignedNames names it
// stays cheap. Postfix, for one, refuses messages with more header lines
// than this by default.
const maxFields = 1000

// field is one header field as it appeared: its name (as written, without
// trailing whitespace) and the raw bytes from the name to the end of its
// last line, line break included.
type field struct {
	name []byte // aliases raw
	raw  []byte
}

// headerBuf collects the header section of a message as it streams past,
// up to max bytes, and finds where it ends. Past max it keeps scanning for
// the end without keeping the bytes (overflow is set), so memory stays
// bounded whatever arrives.
type headerBuf struct {
	buf      []byte
	max      int
	lineLen  int  // bytes of the current line seen so far
	lastCR   bool // the current line so far is exactly "\r"
	lines    int  // header lines seen
	done     bool
	overflow bool
}

// feed takes the next bytes of the message. Once the blank line that ends
// the header is seen, done is set and the bytes after it are returned.
func (h *headerBuf) feed(p []byte) (body []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			h.keep(p)
			h.lastCR = h.lineLen == 0 && len(p) == 1 && p[0] == '\r'
			h.lineLen += len(p)
			return nil
		}
		empty := h.lineLen+i == 0 ||
			(h.lineLen+i == 1 && ((i == 1 && p[0] == '\r') || (i == 0 && h.lastCR)))
		h.keep(p[:i+1])
		p = p[i+1:]
		h.lineLen, h.lastCR = 0, false
		if h.lines++; h.lines > maxFields*4 && !h.overflow {
			// Far more lines than fields allowed: stop keeping them.
			h.overflow, h.buf = true, nil
		}
		if empty {
			h.done = true
			return p
		}
	}
	return nil
}

func (h *headerBuf) keep(p []byte) {
	if h.overflow {
		return
	}
	if len(h.buf)+len(p) > h.max {
		h.overflow = true
		h.buf = nil
		return
	}
	h.buf = append(h.buf, p...)
}

// fields splits the collected header into fields. The blank line that
// ends the header is not part of any field. A line that is neither a
// continuation nor has a colon is skipped: it cannot be named in h=. More
// than maxFields fields is an overflow: nil is returned and overflow set.
func (h *headerBuf) fields() []field {
	fs := h.split()
	if len(fs) > maxFields {
		h.overflow = true
		return nil
	}
	return fs
}

func (h *headerBuf) split() []field {
	buf := h.buf
	// One allocation: at most one field per line.
	fs := make([]field, 0, bytes.Count(buf, []byte{'\n'})+1)
	start := -1 // start of the current field
	for pos := 0; pos < len(buf); {
		end := bytes.IndexByte(buf[pos:], '\n')
		if end < 0 {
			end = len(buf)
		} else {
			end += pos + 1
		}
		line := buf[pos:end]
		switch {
		case len(line) > 0 && isWSP(line[0]):
			// Continuation of the current field (if any).
		case isBlankLine(line):
			if start >= 0 {
				fs = appendField(fs, buf[start:pos])
			}
			return fs
		default:
			if start >= 0 {
				fs = appendField(fs, buf[start:pos])
			}
			start = pos
		}
		pos = end
	}
	if start >= 0 {
		fs = appendField(fs, buf[start:])
	}
	return fs
}

func isBlankLine(line []byte) bool {
	return len(line) == 0 || string(line) == "\n" || string(line) == "\r\n"
}

func appendField(fs []field, raw []byte) []field {
	colon := bytes.IndexByte(raw, ':')
	if colon <= 0 {
		return fs
	}
	// The name without trailing blanks; no blank or line break inside.
	// (One loop: bytes.TrimRight and ContainsAny with sets build a table
	// per call, and this runs for every header field of every message.)
	n := colon
	for n > 0 && (raw[n-1] == ' ' || raw[n-1] == '\t') {
		n--
	}
	name := raw[:n]
	if n == 0 {
		return fs
	}
	for _, c := range name {
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			return fs
		}
	}
	if raw[len(raw)-1] != '\n' {
		// The last field of a message without body or blank line.
		raw = append(raw[:len(raw):len(raw)], '\r', '\n')
	}
	return append(fs, field{name: name, raw: raw})
}

// value returns the field value: everything after the colon, without the
// final line break.
func (f field) value() string {
	v := f.raw[bytes.IndexByte(f.raw, ':')+1:]
	v = bytes.TrimSuffix(v, []byte("\n"))
	v = bytes.TrimSuffix(v, []byte("\r"))
	return string(v)
}

// selectFields appends to dst the canonical form of the fields named in
// names, in that order. RFC 6376 §5.4.2: each name takes the last instance
// not yet taken, working upward from the bottom of the header; a name with
// no instance left contributes nothing (this is what makes over-signing
// work: a field added later would be taken and break the signature).
func selectFields(dst []byte, c Canonicalization, fs []field, names []string) []byte {
	for i, name := range names {
		skip := 0 // instances of this name already taken by earlier entries
		for _, prev := range names[:i] {
			if strings.EqualFold(prev, name) {
				skip++
			}
		}
		for j := len(fs) - 1; j >= 0; j-- {
			if !equalFold(fs[j].name, name) {
				continue
			}
			if skip == 0 {
				dst = appendCanonHeader(dst, c, fs[j].raw)
				break
			}
			skip--
		}
	}
	return dst
}

// withoutSignatureValue returns the raw DKIM-Signature field with the value
// of its b= tag, surrounding whitespace included, removed (RFC 6376 §3.5,
// "b=": "treated as the empty string"). The caller removes the final CRLF
// after canonicalization (§3.7: the field is hashed without it).
func withoutSignatureValue(raw []byte) []byte {
	colon := bytes.IndexByte(raw, ':')
	out := make([]byte, 0, len(raw))
	out = append(out, raw[:colon+1]...)
	rest := raw[colon+1:]
	for len(rest) > 0 {
		end := bytes.IndexByte(rest, ';')
		spec := rest
		if end >= 0 {
			spec = rest[:end+1]
		}
		eq := bytes.IndexByte(spec, '=')
		if eq >= 0 && string(bytes.Trim(spec[:eq], " \t\r\n")) == "b" {
			out = append(out, spec[:eq+1]...)
			if end >= 0 {
				out = append(out, ';')
			} else if n := len(spec); n >= 2 && spec[n-2] == '\r' && spec[n-1] == '\n' {
				out = append(out, '\r', '\n')
			} else if n >= 1 && spec[n-1] == '\n' {
				out = append(out, '\n')
			}
		} else {
			out = append(out, spec...)
		}
		if end < 0 {
			break
		}
		rest = rest[end+1:]
	}
	return out
}

// equalFold compares a field name with a name, ASCII case-insensitively,
// without allocating.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x|0x20 != y|0x20 || (x|0x20 < 'a' || x|0x20 > 'z') && x != y {
			return false
		}
	}
	return true
}
