package mime

import (
	"bufio"
	"bytes"
	"io"
)

// ReadHeader reads a message or part header from br up to and including
// the blank line that ends it (RFC 5322 §2.1).
//
// It tolerates LF-only and CRCRLF line ends, obsolete folding (RFC 5322
// §4.2: white space before the colon, whitespace-only continuation lines),
// a first line that is a continuation, lines that are not fields (kept
// with Key "", each reported in Errors as a *MalformedFieldError) and an
// mbox "From " first line (kept with Key "", not an error).
//
// At the end of input without a blank line it returns the fields read and
// a nil error; with no input at all, an empty Header and io.EOF.
//
// When the header exceeds lim.MaxHeaderBytes or lim.MaxHeaderFields it
// returns the fields that fit and a *LimitError, after skipping the rest of
// the header, so br is positioned at the start of the body either way.
func ReadHeader(br *bufio.Reader, lim Limits) (Header, error) {
	h, _, err := readHeader(br, lim, false)
	return h, err
}

// ParseHeader parses the header at the start of b, a header block or a
// whole message, with the default Limits: the convenience for bytes at
// hand. It stops at the blank line that ends the header; body is the rest
// of b after it (empty for a header block without a body). Errors are
// those of ReadHeader.
func ParseHeader(b []byte) (h Header, body []byte, err error) {
	br := bufio.NewReaderSize(bytes.NewReader(b), max(len(b), 16))
	h, n, err := readHeader(br, Limits{}, false)
	if err == io.EOF && len(b) == 0 {
		err = nil
	}
	return h, b[min(int(n), len(b)):], err
}

// readHeader is ReadHeader that also returns the number of bytes consumed
// from br and, with stopAtNonField, ends the header before (without
// consuming) a line that is not a field, a continuation, blank, or a
// first-line mbox "From ". It then returns a nil error with h.end empty.
func readHeader(br *bufio.Reader, lim Limits, stopAtNonField bool) (h Header, n int64, err error) {
	maxBytes, maxFields := lim.headerBytes(), lim.headerFields()
	type span struct {
		key        string
		start, end int
	}
	spans := make([]span, 0, 32)
	var buf []byte
	lineNo := 0
	finish := func() {
		h.fields = make([]Field, len(spans))
		for i, s := range spans {
			h.fields[i] = Field{Key: s.key, Raw: buf[s.start:s.end:s.end]}
		}
		if len(spans) > 0 {
			h.raw = buf[:spans[len(spans)-1].end:spans[len(spans)-1].end]
		}
	}
	// overLimit keeps what fits, skips to the end of the header and
	// returns the limit error.
	overLimit := func(start int, kind LimitKind, limit int) (Header, int64, error) {
		buf = buf[:start]
		finish()
		m, end := skipHeader(br)
		h.end = end
		return h, n + m, &LimitError{Kind: kind, Limit: limit, Offset: -1}
	}
	for {
		if stopAtNonField && lineNo > 0 && !nextLineContinuesHeader(br) {
			finish()
			h.end = []byte{}
			return h, n, nil
		}
		start := len(buf)
		var rerr error
		for {
			var frag []byte
			frag, rerr = br.ReadSlice('\n')
			if buf == nil {
				// Size the buffer for what is already buffered: often the
				// whole header.
				buf = make([]byte, 0, min(max(512, len(frag)+br.Buffered()), maxBytes+1))
			}
			n += int64(len(frag))
			if len(buf)+len(frag) > maxBytes {
				if rerr == bufio.ErrBufferFull {
					m, _ := skipLine(br)
					n += m
				}
				return overLimit(start, LimitHeaderBytes, maxBytes)
			}
			buf = append(buf, frag...)
			if rerr != bufio.ErrBufferFull {
				break
			}
		}
		line := buf[start:]
		if rerr != nil && rerr != io.EOF {
			buf = buf[:start]
			finish()
			return h, n, rerr
		}
		if len(line) == 0 { // end of input
			finish()
			if len(spans) == 0 {
				return h, n, io.EOF
			}
			h.end = []byte{}
			return h, n, nil
		}
		lineNo++
		content := trimEOL(line)
		if len(content) == 0 {
			// The blank line ends the header.
			h.end = line
			finish()
			return h, n, nil
		}
		if isWSP(content[0]) {
			// A continuation line (RFC 5322 §2.2.3), or obs-FWS.
			if len(spans) > 0 {
				spans[len(spans)-1].end = len(buf)
			} else {
				spans = append(spans, span{start: start, end: len(buf)})
				h.errs = append(h.errs, malformed(lineNo, content))
			}
		} else {
			key := ""
			if i := bytes.IndexByte(content, ':'); i > 0 {
				name := trimRightWSP(content[:i])
				if validFieldNameBytes(name) {
					key = internKey(name)
				}
			}
			if key == "" && !(lineNo == 1 && bytes.HasPrefix(content, []byte("From "))) {
				h.errs = append(h.errs, malformed(lineNo, content))
			}
			if len(spans) >= maxFields {
				return overLimit(start, LimitHeaderFields, maxFields)
			}
			spans = append(spans, span{key: key, start: start, end: len(buf)})
		}
		if rerr == io.EOF {
			finish()
			h.end = []byte{}
			return h, n, nil
		}
	}
}

// nextLineContinuesHeader peeks at the next line: true if it is blank, a
// continuation, or starts with a valid field name and a colon (or if the
// input ends).
func nextLineContinuesHeader(br *bufio.Reader) bool {
	for k := 1; ; k *= 2 {
		b, err := br.Peek(k)
		if len(b) == 0 {
			return true
		}
		if isWSP(b[0]) || b[0] == '\r' || b[0] == '\n' {
			return true
		}
		for i, c := range b {
			switch {
			case c == ':':
				return i > 0 && validFieldNameBytes(trimRightWSP(b[:i]))
			case c == '\n':
				return false
			}
		}
		if err != nil || k >= br.Size() {
			// No colon within the buffer: not a field we could keep.
			return false
		}
	}
}

// skipLine discards the rest of the current line.
func skipLine(br *bufio.Reader) (int64, error) {
	var n int64
	for {
		frag, err := br.ReadSlice('\n')
		n += int64(len(frag))
		if err != bufio.ErrBufferFull {
			return n, err
		}
	}
}

// skipHeader discards lines up to and including a blank one, returning
// the bytes discarded and the blank line (empty at end of input).
func skipHeader(br *bufio.Reader) (int64, []byte) {
	var n int64
	for {
		frag, err := br.ReadSlice('\n')
		n += int64(len(frag))
		if err == bufio.ErrBufferFull {
			m, _ := skipLine(br)
			n += m
			continue
		}
		if len(bytes.TrimRight(frag, "\r\n")) == 0 && len(frag) > 0 {
			return n, bytes.Clone(frag)
		}
		if err != nil {
			return n, []byte{}
		}
	}
}

// trimRightWSP removes trailing spaces and tabs.
func trimRightWSP(b []byte) []byte {
	for len(b) > 0 && isWSP(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// trimEOL removes trailing CR and LF bytes.
func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func malformed(line int, text []byte) error {
	if len(text) > 200 {
		text = text[:200]
	}
	return &MalformedFieldError{Line: line, Text: string(text)}
}

func validFieldNameBytes(k []byte) bool {
	if len(k) == 0 {
		return false
	}
	for _, c := range k {
		if c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}

// RawSize returns the number of bytes WriteTo writes: for a header that was
// read and not changed, the bytes it took in the input, blank line included.
func (h *Header) RawSize() int64 {
	n := int64(len(h.end))
	if h.end == nil {
		n = 2
	}
	for i := range h.fields {
		n += int64(len(h.fields[i].Raw))
	}
	return n
}

// internKey returns k as a string, without allocating for common names
// written in their usual case.
func internKey(k []byte) string {
	switch string(k) {
	case "Content-Type":
		return "Content-Type"
	case "Content-Transfer-Encoding":
		return "Content-Transfer-Encoding"
	case "Content-Disposition":
		return "Content-Disposition"
	case "Content-ID":
		return "Content-ID"
	case "Content-Description":
		return "Content-Description"
	case "MIME-Version", "Mime-Version":
		if k[1] == 'i' {
			return "Mime-Version"
		}
		return "MIME-Version"
	case "From":
		return "From"
	case "To":
		return "To"
	case "Cc":
		return "Cc"
	case "Bcc":
		return "Bcc"
	case "Subject":
		return "Subject"
	case "Date":
		return "Date"
	case "Message-ID", "Message-Id":
		if k[9] == 'd' {
			return "Message-Id"
		}
		return "Message-ID"
	case "Received":
		return "Received"
	case "Return-Path":
		return "Return-Path"
	case "Reply-To":
		return "Reply-To"
	case "In-Reply-To":
		return "In-Reply-To"
	case "References":
		return "References"
	case "Sender":
		return "Sender"
	case "DKIM-Signature":
		return "DKIM-Signature"
	case "Authentication-Results":
		return "Authentication-Results"
	case "Received-SPF":
		return "Received-SPF"
	case "X-Mailer":
		return "X-Mailer"
	case "Delivered-To":
		return "Delivered-To"
	case "List-Unsubscribe":
		return "List-Unsubscribe"
	case "List-Id":
		return "List-Id"
	case "Precedence":
		return "Precedence"
	case "Content-Language":
		return "Content-Language"
	case "Content-Location":
		return "Content-Location"
	case "Thread-Topic":
		return "Thread-Topic"
	case "Thread-Index":
		return "Thread-Index"
	case "ARC-Seal":
		return "ARC-Seal"
	case "ARC-Message-Signature":
		return "ARC-Message-Signature"
	case "ARC-Authentication-Results":
		return "ARC-Authentication-Results"
	}
	return string(k)
}
