package dkim

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash"
)

// Canonicalization is a DKIM canonicalization algorithm (RFC 6376 §3.4).
type Canonicalization string

// The two canonicalization algorithms of RFC 6376 §3.4.
const (
	// Simple tolerates almost no modification (§3.4.1, §3.4.3).
	Simple Canonicalization = "simple"
	// Relaxed tolerates whitespace changes, header field re-folding and
	// header name case changes (§3.4.2, §3.4.4).
	Relaxed Canonicalization = "relaxed"
)

func parseCanon(s string) (Canonicalization, error) {
	switch Canonicalization(s) {
	case Simple, Relaxed:
		return Canonicalization(s), nil
	}
	return "", fmt.Errorf("unknown canonicalization %q", clip(s))
}

// appendCanonHeader appends the canonical form of one raw header field
// (name, colon, value and its terminating CRLF; bare LF is taken as CRLF).
func appendCanonHeader(dst []byte, c Canonicalization, raw []byte) []byte {
	if c == Simple {
		// RFC 6376 §3.4.1: the field exactly as it is. Lines ending in a
		// bare LF are taken to be CRLF on the wire.
		for len(raw) > 0 {
			i := bytes.IndexByte(raw, '\n')
			if i < 0 {
				return append(dst, raw...)
			}
			line := raw[:i]
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			dst = append(dst, line...)
			dst = append(dst, '\r', '\n')
			raw = raw[i+1:]
		}
		return dst
	}
	// RFC 6376 §3.4.2: lowercase the name, unfold, reduce whitespace runs
	// to one space, drop whitespace at the end of the value and around the
	// colon.
	colon := bytes.IndexByte(raw, ':')
	if colon < 0 {
		return dst
	}
	name := bytes.TrimRight(raw[:colon], " \t")
	for _, b := range name {
		if b >= 'A' && b <= 'Z' {
			b += 'a' - 'A'
		}
		dst = append(dst, b)
	}
	dst = append(dst, ':')
	space, started := false, false
	for _, b := range raw[colon+1:] {
		switch b {
		case '\r', '\n':
			// Unfolding removes the line break; the WSP that follows it
			// is folded into the run.
		case ' ', '\t':
			space = true
		default:
			if space && started {
				dst = append(dst, ' ')
			}
			space, started = false, true
			dst = append(dst, b)
		}
	}
	return append(dst, '\r', '\n')
}

// bodyCanon is the streaming body canonicalizer of RFC 6376 §3.4.3 and
// §3.4.4. It writes the canonical body to a hash as the message passes,
// holding back only what it cannot yet decide: a CR that may start a CRLF,
// whitespace that may be trailing (relaxed), and a count of empty lines
// that may be trailing. Memory is constant whatever the body size.
//
// Bare LF is taken as a line end (messages on disk often have LF endings;
// on the wire they are CRLF). A CR not followed by LF is content.
type bodyCanon struct {
	relaxed bool
	h       hash.Hash
	limit   int64 // bytes of canonical body to hash (l=), or -1 for all
	n       int64 // canonical body bytes produced so far (hashed or not)

	pendingCRLF int64 // line ends not yet emitted
	pendingCR   bool  // last byte was CR, its meaning not known yet
	pendingWSP  bool  // relaxed: whitespace seen, emitted only if content follows
	content     bool  // any content emitted at all

	buf  [4096]byte
	nbuf int
}

func newBodyCanon(c Canonicalization, h hash.Hash, limit int64) *bodyCanon {
	return &bodyCanon{relaxed: c == Relaxed, h: h, limit: limit}
}

// emit appends canonical bytes to the output buffer.
func (b *bodyCanon) emit(p []byte) {
	for len(p) > 0 {
		if b.nbuf == len(b.buf) {
			b.flush()
		}
		n := copy(b.buf[b.nbuf:], p)
		b.nbuf += n
		p = p[n:]
	}
}

func (b *bodyCanon) flush() {
	out := b.buf[:b.nbuf]
	b.nbuf = 0
	if b.limit >= 0 {
		if rem := b.limit - b.n; rem < int64(len(out)) {
			if rem < 0 {
				rem = 0
			}
			b.h.Write(out[:rem])
			b.n += int64(len(out))
			return
		}
	}
	b.h.Write(out)
	b.n += int64(len(out))
}

var space = []byte(" ")

// needsRelaxing reports whether p may contain a tab or two spaces in a
// row, eight bytes at a time. The per-byte test ((v-1) &^ v & 0x80) can
// also flag the byte after a match (a borrow); that only sends a line to
// the slow path, which is always right.
func needsRelaxing(p []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	var prev uint64 // 0x80 when the previous word ended in a space
	for len(p) >= 8 {
		x := binary.LittleEndian.Uint64(p)
		if t := x ^ (0x09 * ones); (t-ones)&^t&highs != 0 {
			return true
		}
		sp := x ^ (0x20 * ones)
		m := (sp - ones) &^ sp & highs
		if m&(m<<8|prev) != 0 {
			return true
		}
		prev = m >> 56
		p = p[8:]
	}
	last := prev != 0
	for _, c := range p {
		if c == '\t' || c == ' ' && last {
			return true
		}
		last = c == ' '
	}
	return false
}

var crlfs = bytes.Repeat([]byte("\r\n"), 64)

// flushLines emits the held-back line ends before content.
func (b *bodyCanon) flushLines() {
	for b.pendingCRLF > 0 {
		k := b.pendingCRLF
		if k > int64(len(crlfs)/2) {
			k = int64(len(crlfs) / 2)
		}
		b.emit(crlfs[:2*k])
		b.pendingCRLF -= k
	}
}

// Write canonicalizes p. It never fails.
func (b *bodyCanon) Write(p []byte) (int, error) {
	n := len(p)
	if b.pendingCR {
		b.pendingCR = false
		if len(p) > 0 && p[0] == '\n' {
			b.lineEnd()
			p = p[1:]
		} else {
			b.contentByte('\r')
		}
	}
	for len(p) > 0 {
		// Find the end of this line (or of p).
		i := bytes.IndexByte(p, '\n')
		var line []byte
		if i < 0 {
			line = p
			p = nil
		} else {
			line = p[:i]
			p = p[i+1:]
		}
		if i >= 0 && len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if i < 0 && len(line) > 0 && line[len(line)-1] == '\r' {
			// A CR at the end of the chunk: wait for the next byte.
			line = line[:len(line)-1]
			b.pendingCR = true
		}
		if len(line) > 0 {
			if b.relaxed {
				b.relaxedContent(line)
			} else {
				b.flushLines()
				b.emit(line)
				b.content = true
			}
		}
		if i >= 0 {
			b.lineEnd()
		}
	}
	return n, nil
}

// relaxedContent emits part of a line with whitespace runs reduced to one
// space and trailing whitespace held back. It writes straight into the
// output buffer: each input byte gives at most one output byte, plus the
// one space that may be pending from before.
func (b *bodyCanon) relaxedContent(line []byte) {
	// The common case: apart from trailing whitespace (held back), the
	// text is already canonical (no tab, no run of spaces). Copy it whole.
	end := len(line)
	for end > 0 && (line[end-1] == ' ' || line[end-1] == '\t') {
		end--
	}
	if end == 0 {
		b.pendingWSP = true // whitespace only, so far
		return
	}
	if core := line[:end]; !needsRelaxing(core) {
		if b.pendingCRLF > 0 {
			b.flushLines()
		}
		if b.pendingWSP && core[0] != ' ' {
			b.emit(space)
		}
		b.emit(core)
		b.content = true
		b.pendingWSP = end < len(line)
		return
	}
	j := 0
	for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
		j++
	}
	if j == len(line) {
		b.pendingWSP = true // whitespace only, so far
		return
	}
	if b.pendingCRLF > 0 {
		b.flushLines() // content follows: the empty lines were not trailing
	}
	b.content = true
	wsp := b.pendingWSP
	for len(line) > 0 {
		if len(b.buf)-b.nbuf < 2 {
			b.flush()
		}
		k := min(len(line), len(b.buf)-b.nbuf-1)
		out := b.buf[b.nbuf:]
		n := 0
		for _, c := range line[:k] {
			if c == ' ' || c == '\t' {
				wsp = true
				continue
			}
			if wsp {
				out[n] = ' '
				n++
				wsp = false
			}
			out[n] = c
			n++
		}
		b.nbuf += n
		line = line[k:]
	}
	b.pendingWSP = wsp
}

// relaxedRun emits a run of non-whitespace content.
func (b *bodyCanon) relaxedRun(run []byte) {
	if b.pendingCRLF > 0 {
		b.flushLines()
	}
	if b.pendingWSP {
		b.pendingWSP = false
		if b.nbuf < len(b.buf) {
			b.buf[b.nbuf] = ' '
			b.nbuf++
		} else {
			b.emit([]byte{' '})
		}
	}
	b.emit(run)
	b.content = true
}

func (b *bodyCanon) contentByte(c byte) {
	one := [1]byte{c}
	if b.relaxed {
		b.relaxedRun(one[:])
		return
	}
	b.flushLines()
	b.emit(one[:])
	b.content = true
}

// lineEnd records a line end. Empty lines are counted, not emitted, until
// content follows them: trailing empty lines are not part of the canonical
// body (§3.4.3, §3.4.4).
func (b *bodyCanon) lineEnd() {
	b.pendingWSP = false // trailing whitespace of the line is dropped (relaxed)
	b.pendingCRLF++
}

// finish ends the body and flushes everything to the hash.
func (b *bodyCanon) finish() {
	if b.pendingCR {
		b.pendingCR = false
		b.contentByte('\r')
	}
	switch {
	case b.content:
		// The last content line's CRLF (added if the body did not end
		// with one).
		b.pendingCRLF = 0
		b.emit(crlfs[:2])
	case !b.relaxed:
		// §3.4.3: an empty body is canonicalized to a single CRLF.
		b.emit(crlfs[:2])
	}
	b.flush()
}
