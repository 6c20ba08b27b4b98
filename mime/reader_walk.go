package mime

import (
	"bufio"
	"bytes"
	"io"
	"strings"
)

// walker turns the scanner's pieces into the part tree, in message order.
// Reader and Index both drive it, so they always agree.
type walker struct {
	scanner
	lim    Limits
	link   bool // build the tree (Children, Message)
	nparts int
	root   *Part

	cur        *Part // leaf whose body is the current segment, nil for preamble/epilogue
	curLines   int64 // line count at cur.BodyOffset
	pendingMsg bool  // the next part is the root of the enclosed message on top of the stack
	started    bool
	done       bool
	err        error

	hdr  []byte        // the header block being collected
	hsrc bytes.Reader  // reads hdr
	hbr  *bufio.Reader // ReadHeader's reader over hsrc
}

func (w *walker) init(br *bufio.Reader, lim Limits, link, count bool) {
	w.br, w.lim, w.link, w.count = br, lim, link, count
	w.dFrame = -1
}

// defect records a defect at the current offset.
func (w *walker) defect(p *Part, k DefectKind, err error) {
	p.Defects = append(p.Defects, &Defect{Kind: k, Offset: w.off, Err: err})
}

// next returns the next part in message order, io.EOF at the end.
func (w *walker) next() (*Part, error) {
	if w.err != nil {
		return nil, w.err
	}
	if w.done {
		return nil, io.EOF
	}
	if !w.started {
		w.started = true
		return w.newPart(true)
	}
	if w.pendingMsg {
		w.pendingMsg = false
		return w.newPart(false)
	}
	for {
		if w.inSeg {
			if err := w.skipSegment(); err != nil {
				w.err = err
				return nil, err
			}
			if p, err := w.afterSegment(); p != nil || err != nil {
				return p, err
			}
			continue
		}
		// Not in a segment and nothing pending: the walk is over.
		w.done = true
		return nil, io.EOF
	}
}

// afterSegment handles the delimiter (or EOF) that ended a segment and
// returns the part that starts after it, if any.
func (w *walker) afterSegment() (*Part, error) {
	w.inSeg = false
	end, endLines, last := w.segEnd, w.segEndLines, w.segEndLast
	if w.cur != nil {
		w.setEnd(w.cur, w.curLines, end, endLines, last)
		w.cur = nil
	}
	// Close every container above the matched one (all of them at EOF).
	keep := w.dFrame + 1
	for len(w.stack) > keep {
		c := &w.stack[len(w.stack)-1]
		if c.boundary != nil && c.kids == 0 {
			w.defect(c.part, DefectNoParts, nil)
		}
		if c.boundary != nil && !c.closed {
			w.defect(c.part, DefectMissingFinalBoundary, nil)
		}
		w.setEnd(c.part, c.startLines, end, endLines, last)
		w.stack = w.stack[:len(w.stack)-1]
	}
	if w.dFrame < 0 {
		w.done = true
		return nil, io.EOF
	}
	// Consume the line break and the delimiter line.
	buf, _ := w.br.Peek(w.dLen)
	c := &w.stack[w.dFrame]
	if w.dClose {
		// The line break after a close delimiter stays: it is the one
		// before the next (outer) delimiter, if that follows at once
		// (RFC 2046 §5.1.1: the CRLF before a boundary belongs to it).
		k := len(buf)
		if k > 0 && buf[k-1] == '\n' {
			k--
			for k > 0 && buf[k-1] == '\r' {
				k--
			}
		}
		w.consume(buf[:k])
		c.closed = true
		w.cur = nil
		w.startSegment() // the epilogue
		w.atLineStart = false
		return nil, nil
	}
	w.consume(buf)
	c.kids++
	return w.newPart(false)
}

// setEnd sets p's end and, when counting, its line count.
func (w *walker) setEnd(p *Part, startLines, end, endLines int64, last byte) {
	p.EndOffset = end
	if w.count {
		p.BodyLines = endLines - startLines
		if end > p.BodyOffset && last != '\n' {
			p.BodyLines++
		}
	}
}

// newPart reads a header block at the current offset and sets up what
// follows it.
func (w *walker) newPart(root bool) (*Part, error) {
	w.nparts++
	if w.nparts > w.lim.parts() {
		w.err = &LimitError{Kind: LimitParts, Limit: w.lim.parts(), Offset: w.off}
		return nil, w.err
	}
	p := &Part{HeaderOffset: w.off, Depth: len(w.stack)}
	if w.link {
		if root {
			w.root = p
		} else if len(w.stack) > 0 {
			parent := w.stack[len(w.stack)-1].part
			if w.stack[len(w.stack)-1].boundary == nil {
				parent.Message = p
			} else {
				parent.Children = append(parent.Children, p)
			}
		}
	}
	digest := false
	if n := len(w.stack); n > 0 {
		pp := w.stack[n-1].part
		digest = w.stack[n-1].boundary != nil && pp.SubType == "digest"
	}
	if err := w.readHeader(p, root); err != nil {
		w.err = err
		return nil, err
	}
	p.BodyOffset = w.off
	w.fields(p, digest)
	startLines := w.lines

	switch {
	case p.MediaType == "multipart":
		// A boundary never ends in white space (RFC 2046 §5.1.1); some
		// mailers add it to the parameter but not to the delimiters.
		b := strings.TrimRight(p.Params["boundary"], " \t")
		switch {
		case b == "":
			w.defect(p, DefectMissingBoundary, nil)
		case encodingOf(p.Encoding) != encIdentity:
			w.defect(p, DefectEncodedContainer, nil)
		case p.Depth+1 > w.lim.depth():
			w.defect(p, DefectLimit, &LimitError{Kind: LimitDepth, Limit: w.lim.depth(), Offset: w.off})
		default:
			w.stack = append(w.stack, container{part: p, boundary: []byte(b), startLines: startLines})
			p.container = true
			w.cur = nil
			w.startSegment() // the preamble
			return p, nil
		}
	case p.IsMessage():
		switch {
		case encodingOf(p.Encoding) != encIdentity:
			w.defect(p, DefectEncodedContainer, nil)
		case p.Depth+1 > w.lim.depth():
			w.defect(p, DefectLimit, &LimitError{Kind: LimitDepth, Limit: w.lim.depth(), Offset: w.off})
		default:
			w.stack = append(w.stack, container{part: p, startLines: startLines})
			p.container = true
			w.pendingMsg = true
			return p, nil
		}
	}
	// A leaf: its body is the next segment.
	w.cur, w.curLines = p, startLines
	w.startSegment()
	return p, nil
}

// fields fills the parsed Content-* fields of p from its header, in one
// pass over the fields (the first of each name counts).
func (w *walker) fields(p *Part, digest bool) {
	p.MediaType, p.SubType = "text", "plain"
	if digest {
		// RFC 2046 §5.1.5
		p.MediaType, p.SubType = "message", "rfc822"
	}
	var ct, cte, cd, lang string
	var seen uint8
	for _, f := range p.Header.Fields() {
		k := f.Key
		if len(k) < 10 || !strings.EqualFold(k[:8], "content-") {
			continue
		}
		var bit uint8
		switch k = k[8:]; {
		case strings.EqualFold(k, "type"):
			bit = 1
		case strings.EqualFold(k, "transfer-encoding"):
			bit = 2
		case strings.EqualFold(k, "disposition"):
			bit = 4
		case strings.EqualFold(k, "id"):
			bit = 8
		case strings.EqualFold(k, "description"):
			bit = 16
		case strings.EqualFold(k, "language"):
			bit = 32
		case strings.EqualFold(k, "location"):
			bit = 64
		case strings.EqualFold(k, "md5"):
			bit = 128
		default:
			continue
		}
		if seen&bit != 0 {
			continue
		}
		seen |= bit
		v := strings.TrimSpace(f.Value())
		switch bit {
		case 1:
			ct = v
		case 2:
			cte = v
		case 4:
			cd = v
		case 8:
			p.ID = v
		case 16:
			p.Description = v
		case 32:
			lang = v
		case 64:
			p.Location = v
		case 128:
			p.MD5 = v
		}
	}
	if ct != "" {
		mt, params, err := ParseMediaType(ct)
		t, st, ok := strings.Cut(mt, "/")
		if err != nil && mt == "" || !ok || t == "" || st == "" {
			// RFC 2045 §5.2: an unparsable Content-Type means text/plain.
			w.defectAt(p, DefectMalformedContentType, err)
			p.MediaType, p.SubType = "text", "plain"
		} else {
			if err != nil {
				w.defectAt(p, DefectMalformedContentType, err)
			}
			p.MediaType, p.SubType = strings.ToLower(t), strings.ToLower(st)
			p.Params = params
		}
	}
	p.Encoding = strings.ToLower(cte)
	if p.Encoding != "" && encodingOf(p.Encoding) == encUnknown {
		w.defectAt(p, DefectUnknownEncoding, nil)
	}
	if cd != "" {
		d, params, err := ParseMediaType(cd)
		if err != nil {
			w.defectAt(p, DefectMalformedDisposition, err)
		}
		p.Disposition, p.DispositionParams = strings.ToLower(d), params
	}
	if lang != "" {
		for _, t := range strings.Split(lang, ",") {
			if t = strings.TrimSpace(t); t != "" {
				p.Language = append(p.Language, t)
			}
		}
	}
}

// defectAt records a header defect at the part's header offset.
func (w *walker) defectAt(p *Part, k DefectKind, err error) {
	p.Defects = append(p.Defects, &Defect{Kind: k, Offset: p.HeaderOffset, Err: err})
}

// isFieldStart reports whether line begins a header field: a name of
// printable ASCII other than ":" followed by ":" (RFC 5322 §2.2, §3.6.8);
// the same test Python's email parser applies.
func isFieldStart(line []byte) bool {
	for i, c := range line {
		if c == ':' {
			return i > 0
		}
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return false
}

// isBlank reports whether line is CR* LF.
func isBlank(line []byte) bool {
	i := 0
	for i < len(line) && line[i] == '\r' {
		i++
	}
	return i == len(line)-1 && line[i] == '\n'
}

// peekLine returns the next line (with its LF) as a view; a line longer
// than the buffer is returned in part (complete=false).
func (w *walker) peekLine() (line []byte, complete bool) {
	for {
		buf, _ := w.br.Peek(w.br.Buffered())
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			return buf[:i+1], true
		}
		if !w.fill() {
			buf, _ = w.br.Peek(w.br.Buffered())
			return buf, len(buf) < w.br.Size()
		}
	}
}

// readHeader collects the header block at the current offset into p.Header.
// It ends at a blank line (consumed), at a line that cannot belong to a
// header (DefectMissingHeaderSeparator, not consumed), at a delimiter of an
// open multipart, or at EOF.
func (w *walker) readHeader(p *Part, root bool) error {
	if ok, err := w.readBufferedHeader(p); ok || err != nil {
		return err
	}
	w.hdr = w.hdr[:0]
	maxBytes, maxFields := w.lim.headerBytes(), w.lim.headerFields()
	fields, over := 0, false
	first := true
	for {
		line, complete := w.peekLine()
		if len(line) == 0 {
			break
		}
		if w.openBoundaries() && len(line) >= 2 && line[0] == '-' && line[1] == '-' {
			if st, _, _, _ := w.matchDelim(line, !complete || line[len(line)-1] != '\n'); st == matchYes {
				break
			}
		}
		if isBlank(line) {
			w.consume(line)
			break
		}
		switch {
		case line[0] == ' ' || line[0] == '\t':
			if first {
				// A continuation with nothing to continue: keep it
				// with the header rather than start the body here.
				fields++
			}
		case isFieldStart(line):
			fields++
		case first && root && bytes.HasPrefix(line, []byte("From ")):
			// An mbox "From " line before the header: skip it.
			w.skipLine(line, complete)
			p.HeaderOffset = w.off
			continue
		default:
			w.defect(p, DefectMissingHeaderSeparator, nil)
			goto parse
		}
		first = false
		if fields > maxFields && !over {
			over = true
			w.defect(p, DefectLimit, &LimitError{Kind: LimitHeaderFields, Limit: maxFields, Offset: w.off})
		}
		for {
			if !over {
				if len(w.hdr)+len(line) > maxBytes {
					over = true
					w.defect(p, DefectLimit, &LimitError{Kind: LimitHeaderBytes, Limit: maxBytes, Offset: w.off})
				} else {
					w.hdr = appendLine(w.hdr, line)
				}
			}
			w.consume(line)
			if complete {
				break
			}
			line, complete = w.peekLine()
			if len(line) == 0 {
				break
			}
		}
	}
parse:
	if w.err != nil {
		return w.err
	}
	if w.s().err != nil {
		return w.s().err
	}
	if len(w.hdr) == 0 {
		return nil
	}
	if n := len(w.hdr); w.hdr[n-1] != '\n' {
		// ReadHeader wants whole lines.
		w.hdr = append(w.hdr, '\r', '\n')
	}
	w.hdr = append(w.hdr, '\r', '\n')
	w.parseHeader(p, w.hdr, maxFields)
	return nil
}

// parseHeader parses the header block b (whole lines) into p.Header.
func (w *walker) parseHeader(p *Part, b []byte, maxFields int) {
	w.hsrc.Reset(b)
	if w.hbr == nil {
		w.hbr = bufio.NewReaderSize(&w.hsrc, 512)
	} else {
		w.hbr.Reset(&w.hsrc)
	}
	lim := w.lim
	lim.MaxHeaderBytes, lim.MaxHeaderFields = len(b)+1, maxFields+1
	h, err := ReadHeader(w.hbr, lim)
	if err != nil && !(err == io.EOF && len(b) == 0) {
		w.defectAt(p, DefectHeader, err)
	}
	p.Header = h
}

// readBufferedHeader is the fast path of readHeader for a header that is
// already in the read buffer, within the limits and ends in a blank line:
// it is parsed straight from the buffer, without a copy. ok is false when
// the general path must run (nothing has been consumed then).
func (w *walker) readBufferedHeader(p *Part) (ok bool, err error) {
	maxBytes, maxFields := w.lim.headerBytes(), w.lim.headerFields()
	pos, fields := 0, 0
	for {
		buf, _ := w.br.Peek(w.br.Buffered())
		i := bytes.IndexByte(buf[pos:], '\n')
		if i < 0 {
			if !w.fill() {
				return false, w.err
			}
			continue
		}
		line := buf[pos : pos+i+1]
		if pos+len(line) > maxBytes || len(line) > 1 && line[0] == '-' && line[1] == '-' && w.openBoundaries() {
			return false, nil
		}
		switch {
		case isBlank(line):
			if pos == 0 {
				// An empty header.
				w.consume(line)
				return true, nil
			}
			pos += len(line)
			// Let ReadHeader read the block straight from the buffer:
			// it stops after the blank line, which is in the buffer, so
			// it neither refills nor reads further.
			if w.count {
				w.lines += int64(bytes.Count(buf[:pos], []byte{'\n'}))
			}
			w.last = '\n'
			before := w.br.Buffered()
			lim := w.lim
			lim.MaxHeaderBytes, lim.MaxHeaderFields = pos+1, maxFields+1
			h, err := ReadHeader(w.br, lim)
			if err != nil {
				w.defectAt(p, DefectHeader, err)
			}
			p.Header = h
			w.off += int64(before - w.br.Buffered())
			return true, nil
		case line[0] == ' ' || line[0] == '\t':
			if pos == 0 {
				return false, nil
			}
		case isFieldStart(line):
			fields++
			if fields > maxFields {
				return false, nil
			}
		default:
			// The end of the header without a blank line, or an mbox
			// "From " line: the general path handles these.
			return false, nil
		}
		pos += len(line)
	}
}

func (w *walker) s() *scanner { return &w.scanner }

// skipLine consumes a line, also one longer than the buffer.
func (w *walker) skipLine(line []byte, complete bool) {
	for {
		w.consume(line)
		if complete {
			return
		}
		line, complete = w.peekLine()
		if len(line) == 0 {
			return
		}
	}
}

// appendLine appends a header line, turning a CR CR LF ending (seen in
// mail that was converted twice) into CR LF.
func appendLine(dst, line []byte) []byte {
	n := len(line)
	if n >= 3 && line[n-1] == '\n' && line[n-2] == '\r' && line[n-3] == '\r' {
		k := n - 2
		for k > 0 && line[k-1] == '\r' {
			k--
		}
		dst = append(dst, line[:k]...)
		return append(dst, '\r', '\n')
	}
	return append(dst, line...)
}
