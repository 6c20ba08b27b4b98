package imapmsg

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/posthorn/posthorn/mime"
)

// BODY and TEXT search (RFC 9051 §6.4.4): a case-insensitive substring
// match against the text parts, decoded from their transfer encoding and
// charset. Non-text leaves (attachments, images) are not searched.
//
// Fast path: for an ASCII needle and a part in an ASCII-compatible
// charset whose non-ASCII characters never lower-case to ASCII
// (us-ascii, utf-8, iso-8859-1), the part's bytes are read into a
// reused buffer, transfer-decoded there (7bit, 8bit, binary,
// quoted-printable, base64), lower-cased in place for ASCII only and
// searched with bytes.Index. Lower-casing non-ASCII characters cannot
// create or destroy an ASCII match, with two exceptions in Unicode's
// simple case mapping, U+212A KELVIN SIGN → 'k' and U+0130 → 'i': a UTF-8
// part holding either (and a needle with that letter) takes the slow
// path, which decodes the charset and lower-cases all of Unicode,
// streaming with bounded memory.

// maxFastPart bounds the part size the fast path reads whole.
const maxFastPart = 4 << 20

// searchScratch holds the buffers one Matcher reuses across messages.
type searchScratch struct {
	raw, dec []byte
	stream   []byte // slow path read buffer
	window   []byte // slow path lowered window
	b64      bytes.Buffer
}

// bodyContains searches the text parts below p for needle (lower case).
func (m *Message) bodyContains(p *mime.Part, needle string, sc *searchScratch) (bool, error) {
	if needle == "" {
		return true, nil
	}
	found := false
	var err error
	p.Walk(func(q *mime.Part) bool {
		if q.IsMultipart() {
			return true
		}
		if q.IsMessage() && q.Message != nil {
			if headerContains(&q.Message.Header, "", needle) {
				found = true
				return false
			}
			return true
		}
		if q.MediaType != "text" && q.MediaType != "" {
			return true // not text: skipped (attachments, images)
		}
		found, err = m.partContains(q, needle, sc)
		return !found && err == nil
	})
	return found, err
}

// partContains searches one text leaf.
func (m *Message) partContains(q *mime.Part, needle string, sc *searchScratch) (bool, error) {
	n := q.EndOffset - q.BodyOffset
	if n <= 0 {
		return false, nil
	}
	if n <= maxFastPart && isASCII(needle) {
		if ok, decided, err := m.fastContains(q, n, needle, sc); decided || err != nil {
			return ok, err
		}
	}
	raw := io.NewSectionReader(m.r, q.BodyOffset, n)
	r := mime.NewTransferDecoder(q.Encoding, raw)
	if cr, ok := mime.NewCharsetReader(q.Charset(), r); ok {
		r = cr
	}
	return streamContains(r, needle, sc)
}

// fastContains is the fast path; decided is false when the slow path
// must answer.
func (m *Message) fastContains(q *mime.Part, n int64, needle string, sc *searchScratch) (found, decided bool, err error) {
	utf8cs := false
	switch cs := q.Charset(); cs {
	case "", "us-ascii", "utf-8", "utf8", "ascii":
		utf8cs = true
	case "iso-8859-1", "latin1", "iso_8859-1", "latin-1", "l1":
	default:
		return false, false, nil
	}
	enc := q.Encoding
	var kind int
	switch {
	case enc == "" || strings.EqualFold(enc, "7bit") || strings.EqualFold(enc, "8bit") || strings.EqualFold(enc, "binary"):
	case strings.EqualFold(enc, "quoted-printable"):
		kind = 1
	case strings.EqualFold(enc, "base64"):
		kind = 2
	default:
		return false, false, nil
	}
	if int64(cap(sc.raw)) < n {
		sc.raw = make([]byte, n)
	}
	raw := sc.raw[:n]
	if k, err := m.r.ReadAt(raw, q.BodyOffset); k < len(raw) {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return false, true, err
	}
	text := raw
	switch kind {
	case 1:
		sc.dec = qpDecode(sc.dec[:0], raw)
		text = sc.dec
	case 2:
		sc.b64.Reset()
		if _, err := sc.b64.ReadFrom(mime.NewTransferDecoder(enc, bytes.NewReader(raw))); err != nil {
			return false, false, nil
		}
		text = sc.b64.Bytes()
	}
	lowerASCII(text)
	if containsRare(text, needle) {
		return true, true, nil
	}
	if utf8cs && hasASCIILowering(text, needle) {
		return false, false, nil
	}
	return false, true, nil
}

// plainValue returns a field's value as Field.Value would (white space
// trimmed) when it is one line without encoded words; ok is false
// otherwise.
func plainValue(raw []byte) (v []byte, ok bool) {
	i := bytes.IndexByte(raw, ':')
	if i < 0 {
		return nil, false
	}
	v = bytes.Trim(raw[i+1:], " \t\r\n")
	if bytes.IndexByte(v, '\n') >= 0 || bytes.IndexByte(v, '\r') >= 0 || bytes.Contains(v, []byte("=?")) {
		return nil, false
	}
	return v, true
}

// containsFoldASCII reports whether s contains needle (lower-case ASCII)
// when the ASCII letters of s are lower-cased.
func containsFoldASCII(s []byte, needle string) bool {
	n := len(needle)
	if n == 0 {
		return true
	}
	c0 := needle[0]
	for i := 0; i+n <= len(s); i++ {
		if lowerByte(s[i]) != c0 {
			continue
		}
		j := 1
		for j < n && lowerByte(s[i+j]) == needle[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hasASCIILowering reports whether s holds one of the two characters
// whose lower case is ASCII (U+212A, U+0130) and needle the letter it
// lowers to: then only a full Unicode lower-casing decides.
func hasASCIILowering(s []byte, needle string) bool {
	return strings.IndexByte(needle, 'k') >= 0 && bytes.Contains(s, []byte("\u212a")) ||
		strings.IndexByte(needle, 'i') >= 0 && bytes.Contains(s, []byte("\u0130"))
}

// byFrequency orders lower-case ASCII by how often it occurs in text,
// most frequent first; bytes not listed are rarer still.
const byFrequency = " etaoinsrhldcumfpgwybvk\r\n.,-0123456789x'jq\"z"

// containsRare reports whether h contains needle. It scans for the
// needle's rarest byte (with SIMD, through bytes.IndexByte) and checks the
// candidates, which beats bytes.Index when the needle's first byte is a
// common letter.
func containsRare(h []byte, needle string) bool {
	n := len(needle)
	if n < 2 || len(h) < n {
		return bytes.Contains(h, []byte(needle))
	}
	j, rank := 0, -1
	for i := 0; i < n; i++ {
		r := strings.IndexByte(byFrequency, needle[i])
		if r < 0 {
			r = len(byFrequency)
		}
		if r > rank {
			j, rank = i, r
		}
	}
	c := needle[j]
	for pos := 0; ; {
		k := bytes.IndexByte(h[pos+j:], c)
		if k < 0 {
			return false
		}
		start := pos + k
		if start+n > len(h) {
			return false
		}
		if string(h[start:start+n]) == needle {
			return true
		}
		pos = start + 1
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// lowerASCII lower-cases the ASCII letters of b in place, eight bytes at
// a time; other bytes are left alone.
func lowerASCII(b []byte) {
	const (
		lo7  = 0x7f7f7f7f7f7f7f7f
		hi   = 0x8080808080808080
		gtZ  = 0x2525252525252525 // 0x7f-'Z': sets bit 7 of bytes > 'Z'
		geA  = 0x3f3f3f3f3f3f3f3f // 0x80-'A': sets bit 7 of bytes >= 'A'
		bit5 = 2                  // 0x80 >> 2 == 0x20
	)
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		h := w & lo7
		upper := ((h + geA) ^ (h + gtZ)) & ^w & hi
		if upper != 0 {
			binary.LittleEndian.PutUint64(b[i:], w|upper>>bit5)
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
}

// qpDecode appends the quoted-printable decoding of src to dst, with the
// rules of mime's decoder (RFC 2045 §6.7): "=XX" in either case, soft
// line breaks (also with white space before the break), trailing white
// space removed (rule 3), a stray "=" kept, hard line breaks passed
// through. It copies runs of plain bytes in one go: only "=" and white
// space before a line break or the end interrupt a run.
func qpDecode(dst, src []byte) []byte {
	if !qpTrailingSpace(src) {
		return qpDecodeNoTrailing(dst, src)
	}
	n := len(src)
	i := 0
	for i < n {
		start := i
		for i < n {
			c := src[i]
			if c == '=' {
				break
			}
			if (c == ' ' || c == '\t') && (i+1 == n || isQPSpace(src[i+1])) {
				break
			}
			i++
		}
		dst = append(dst, src[start:i]...)
		if i == n {
			break
		}
		if src[i] != '=' {
			// White space followed by more white space or a line end.
			j := i
			for j < n && (src[j] == ' ' || src[j] == '\t') {
				j++
			}
			if !qpLineEnd(src, j) {
				dst = append(dst, src[i:j]...)
			}
			i = j
			continue
		}
		if i+2 < n && isHexDigit(src[i+1]) && isHexDigit(src[i+2]) {
			dst = append(dst, unhexDigit(src[i+1])<<4|unhexDigit(src[i+2]))
			i += 3
			continue
		}
		j := i + 1
		for j < n && (src[j] == ' ' || src[j] == '\t') {
			j++
		}
		switch {
		case j == n: // "=" ends the text: kept, the white space is trailing
			dst = append(dst, '=')
			i = j
		case src[j] == '\n': // soft line break (rule 5)
			i = j + 1
		case src[j] == '\r' && j+1 < n && src[j+1] == '\n':
			i = j + 2
		default:
			dst = append(dst, '=')
			i++
		}
	}
	return dst
}

// qpTrailingSpace reports whether some line of src ends in white space
// (rare: encoders write it as "=20"), which qpDecodeNoTrailing does not
// remove.
func qpTrailingSpace(src []byte) bool {
	isWS := func(c byte) bool { return c == ' ' || c == '\t' }
	if n := len(src); n > 0 && isWS(src[n-1]) {
		return true
	}
	for i := 0; ; {
		k := bytes.IndexByte(src[i:], '\n')
		if k < 0 {
			return false
		}
		j := i + k
		if j > 0 && src[j-1] == '\r' {
			j--
		}
		if j > 0 && isWS(src[j-1]) {
			return true
		}
		i += k + 1
	}
}

// qpDecodeNoTrailing is qpDecode for text without trailing white space:
// it copies everything between "=" signs in bulk.
func qpDecodeNoTrailing(dst, src []byte) []byte {
	n := len(src)
	for i := 0; i < n; {
		k := bytes.IndexByte(src[i:], '=')
		if k < 0 {
			return append(dst, src[i:]...)
		}
		dst = append(dst, src[i:i+k]...)
		i += k
		if i+2 < n && isHexDigit(src[i+1]) && isHexDigit(src[i+2]) {
			dst = append(dst, unhexDigit(src[i+1])<<4|unhexDigit(src[i+2]))
			i += 3
			continue
		}
		j := i + 1
		for j < n && (src[j] == ' ' || src[j] == '\t') {
			j++
		}
		switch {
		case j == n: // "=" ends the text (the white space is trailing)
			dst = append(dst, '=')
			i = j
		case src[j] == '\n': // soft line break (rule 5)
			i = j + 1
		case src[j] == '\r' && j+1 < n && src[j+1] == '\n':
			i = j + 2
		default:
			dst = append(dst, '=')
			i++
		}
	}
	return dst
}

func isQPSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// qpLineEnd reports whether src[j:] starts with a line end or is empty.
func qpLineEnd(src []byte, j int) bool {
	return j == len(src) || src[j] == '\n' || src[j] == '\r' && j+1 < len(src) && src[j+1] == '\n'
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' || c >= 'a' && c <= 'f'
}

func unhexDigit(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// streamContains reports whether the lower-cased text of r contains
// needle. Memory stays bounded: chunks are lowered and searched with an
// overlap of len(needle)-1 bytes.
func streamContains(r io.Reader, needle string, sc *searchScratch) (bool, error) {
	if sc.stream == nil {
		sc.stream = make([]byte, 32<<10)
	}
	buf := sc.stream
	window := sc.window[:0]
	defer func() { sc.window = window[:0] }()
	carry := 0 // bytes of an incomplete rune at the end of buf
	nb := []byte(needle)
	for {
		n, err := r.Read(buf[carry:])
		n += carry
		end := n
		if err == nil {
			// keep an incomplete trailing rune for the next round
			for i := 1; i <= 3 && i <= end; i++ {
				if utf8.RuneStart(buf[end-i]) {
					if !utf8.FullRune(buf[end-i : end]) {
						end -= i
					}
					break
				}
			}
		}
		window = appendLower(window, buf[:end])
		if bytes.Contains(window, nb) {
			return true, nil
		}
		if keep := len(nb) - 1; len(window) > keep {
			window = append(window[:0], window[len(window)-keep:]...)
		}
		carry = copy(buf, buf[end:n])
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// appendLower appends the Unicode lower-casing of p (as bytes.ToLower
// does, invalid UTF-8 becoming U+FFFD) without a temporary copy.
func appendLower(dst, p []byte) []byte {
	for len(p) > 0 {
		c := p[0]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			p = p[1:]
			continue
		}
		r, size := utf8.DecodeRune(p)
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
		p = p[size:]
	}
	return dst
}
