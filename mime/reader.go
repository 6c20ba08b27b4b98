package mime

// Implementation notes for Reader and Index (reader*.go, index.go):
//
//   - One scanner (reader_scan.go) reads the message once through a
//     *bufio.Reader and keeps the absolute offset of the next unread byte.
//     It splits the input into header blocks, delimiter lines and
//     segments (a leaf body, a preamble, an epilogue). Segment bytes are
//     handed out as views of the bufio buffer, never copied by the scanner;
//     the decoders copy once, into the caller's buffer where they can.
//   - A delimiter is searched for as "--" and then checked to start a line
//     and to name the boundary of any open multipart (innermost first), so
//     an outer boundary also ends inner parts (RFC 2046 §5.1.2) and a
//     missing close delimiter costs nothing but a Defect. The line break
//     before a delimiter belongs to it (RFC 2046 §5.1.1), so it is not part
//     of the body before it; the one after a close delimiter is left for
//     the next delimiter.
//   - The walker (reader_walk.go) keeps a stack of open containers
//     (multiparts and enclosed messages) and sets each part's EndOffset
//     when the segment that ends it ends. Reader and Index drive the same
//     walker, so they agree on the tree by construction; the fuzz target
//     FuzzIndex checks it.
//   - Memory: one read buffer (64 KiB, less for small inputs), the
//     decoders' buffers, and per part its Header and fields. Nothing grows
//     with the size of a body.

import (
	"bufio"
	"io"
)

// Reader walks the parts of a message read from an io.Reader, in the
// order they appear, without holding more than one buffer of it in memory.
//
// NextPart returns every part: the message itself first, then multipart
// containers, enclosed messages (message/rfc822, message/global) and the
// leaves inside them, depth first. Body, Text and Raw read the body of the
// part NextPart returned last; what is left unread is skipped by the next
// call of NextPart.
//
// Reader tolerates broken mail and records what it tolerated in the
// part's Defects: a missing final boundary (the part ends at the end of its
// parent or of the message), LF-only or CR CR LF line ends, boundaries
// followed by white space, parts without a header, preamble and
// epilogue, bad base64 (padding, stray characters, line breaks anywhere),
// bad quoted-printable escapes, unknown encodings and charsets. An outer
// boundary also ends inner parts (RFC 2046 §5.1.2). It never fails the
// whole message because of one part; only a read error or the MaxParts
// limit stop it.
type Reader struct {
	w    walker
	part *Part
	raw  segReader
	b64  base64Decoder
	qp   qpDecoder
	l1   latin1Reader
	none eofReader
	// scratch is shared by the decoders' WriteTo and the latin-1
	// converter: only one of them drives a copy at a time.
	scratch []byte
}

func (r *Reader) scratchBuf() []byte {
	if r.scratch == nil {
		r.scratch = make([]byte, 4<<10)
	}
	return r.scratch
}

// NewReader returns a Reader for the message in r with the given limits.
func NewReader(r io.Reader, lim Limits) *Reader {
	return newReaderSize(r, lim, readBufferSize(r))
}

// newReaderSize is NewReader with a given buffer size (tests use tiny
// buffers to exercise delimiters split across reads).
func newReaderSize(r io.Reader, lim Limits, size int) *Reader {
	rd := &Reader{}
	rd.w.init(bufio.NewReaderSize(r, size), lim, false, false)
	rd.raw.w = &rd.w
	return rd
}

// NextPart returns the next part of the message. The first call returns
// the message itself (its header is the message header). It returns
// io.EOF after the last part, and a *LimitError when MaxParts is exceeded.
//
// The Part's EndOffset is only known once the next part has been reached;
// Reader does not set BodyLines, Children or Message.
func (r *Reader) NextPart() (*Part, error) {
	p, err := r.w.next()
	r.part = p
	return p, err
}

// Raw returns a reader for the current part's body exactly as it appears
// in the message. Containers (multipart, enclosed messages) have an empty
// body here: their contents are returned as parts.
func (r *Reader) Raw() io.Reader {
	if r.part == nil || r.w.cur != r.part {
		return r.none
	}
	return &r.raw
}

// Body returns a reader for the current part's body with its
// Content-Transfer-Encoding undone (base64, quoted-printable; other
// encodings pass through). Defects found while decoding are appended to
// the part's Defects as they are found.
func (r *Reader) Body() io.Reader {
	raw := r.Raw()
	if raw == io.Reader(r.none) {
		return raw
	}
	p := r.part
	switch encodingOf(p.Encoding) {
	case encBase64:
		r.b64.reset(&r.raw, r)
		r.b64.wbuf = r.scratchBuf()
		return &r.b64
	case encQP:
		r.qp.reset(&r.raw, r)
		r.qp.wbuf = r.scratchBuf()
		return &r.qp
	}
	return raw
}

// Text is Body, and for text/* parts it also converts the charset named
// in the charset parameter to UTF-8 (an unknown charset is passed through
// and recorded as DefectUnknownCharset).
func (r *Reader) Text() io.Reader {
	b := r.Body()
	p := r.part
	if p == nil || p.MediaType != "text" || b == io.Reader(r.none) {
		return b
	}
	cs := p.Params["charset"]
	switch charsetClass(cs) {
	case csUTF8:
		return b
	case csLatin1:
		r.l1.r, r.l1.out, r.l1.in = b, nil, r.scratchBuf()
		return &r.l1
	}
	t, ok := NewCharsetReader(cs, b)
	if !ok {
		r.w.defect(p, DefectUnknownCharset, nil)
	}
	return t
}

// defect records a decoding defect on the current part.
func (r *Reader) defect(k DefectKind) {
	if r.part != nil {
		r.w.defect(r.part, k, nil)
	}
}

// segReader reads the walker's current segment.
type segReader struct{ w *walker }

func (s *segReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	b, err := s.w.segChunk(len(p))
	return copy(p, b), err
}

func (s *segReader) nextChunk(max int) ([]byte, error) { return s.w.segChunk(max) }

// WriteTo writes the rest of the segment to w straight from the buffer.
func (s *segReader) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for {
		b, err := s.w.segChunk(1 << 30)
		if len(b) > 0 {
			m, werr := w.Write(b)
			n += int64(m)
			if werr != nil {
				return n, werr
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// readBufferSize picks the read buffer: 16 KiB, or less when r says how
// much it holds (bytes.Reader, strings.Reader, bytes.Buffer), so small
// messages do not pay for a large buffer. Bodies are handed out as views
// into this buffer, so its size bounds the Reader's memory, not the
// message's; beyond 16 KiB a larger buffer saved no measurable time.
func readBufferSize(r io.Reader) int {
	const max = 16 << 10
	if l, ok := r.(interface{ Len() int }); ok {
		if n := l.Len(); n < max {
			// A small message: a 4 KiB buffer (or less, for less) holds
			// a usual header and allocates in a small size class; the
			// body streams through it in a few refills.
			return min(4096, n+512)
		}
	}
	return max
}
