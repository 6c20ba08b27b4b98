package imapmsg

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/mime"
)

// ErrNoSection is returned for a section that does not exist in the
// message (a part number beyond the last part, or HEADER/TEXT below a part
// that is not a message). RFC 9051 leaves the answer open; a server
// conventionally returns an empty string or NIL for it.
var ErrNoSection = errors.New("imapmsg: no such section")

// Message is a stored message with its part index: the source of FETCH
// data. It is safe for concurrent use if the io.ReaderAt is.
type Message struct {
	r    io.ReaderAt
	size int64
	root *mime.Part
	enc  *Encoded // the server's cached encoding, or nil
}

// New returns a Message over r (size bytes, CRLF line ends) with the part
// index root computed by mime.Index (which the server may have cached).
func New(r io.ReaderAt, size int64, root *mime.Part) *Message {
	return &Message{r: r, size: size, root: root}
}

// NewCached is New for a message whose Encoded the server caches: SEARCH
// then keeps what it derives from the header (the decoded SUBJECT) in
// enc, so that later searches of the mailbox need not decode it again.
func NewCached(r io.ReaderAt, size int64, root *mime.Part, enc *Encoded) *Message {
	return &Message{r: r, size: size, root: root, enc: enc}
}

// SetCached makes m what NewCached returns, in place: a SEARCH that
// reads every message of a mailbox uses one Message for all of them.
func (m *Message) SetCached(r io.ReaderAt, size int64, root *mime.Part, enc *Encoded) {
	*m = Message{r: r, size: size, root: root, enc: enc}
}

// Parse indexes the message in r and returns it. A malformed message is
// indexed as far as possible (mime.Index is tolerant); only read errors
// and the hard part-count limit fail.
func Parse(r io.ReaderAt, size int64, lim mime.Limits) (*Message, error) {
	root, err := mime.Index(r, size, lim)
	if root == nil {
		return nil, err
	}
	return &Message{r: r, size: size, root: root}, err
}

// Root returns the message's part index.
func (m *Message) Root() *mime.Part { return m.root }

// Size returns RFC822.SIZE: the message size in octets.
func (m *Message) Size() int64 { return m.size }

// Envelope computes the message's ENVELOPE.
func (m *Message) Envelope() *imap.Envelope { return Envelope(m.root) }

// BodyStructure computes the message's BODYSTRUCTURE.
func (m *Message) BodyStructure() *imap.BodyStructure { return BodyStructure(m.r, m.root) }

// Encode pre-encodes ENVELOPE, BODY and BODYSTRUCTURE (see Encoded).
func (m *Message) Encode() *Encoded { return Encode(m.r, m.root) }

// part finds the part for a section path.
func (m *Message) part(path []uint32) *mime.Part {
	if len(path) == 0 {
		return m.root
	}
	var buf [8]int
	ints := buf[:0]
	for _, n := range path {
		ints = append(ints, int(n))
	}
	return m.root.Lookup(ints...)
}

// Section returns the data of a BODY[section]<partial> or
// BINARY[section]<partial> item (RFC 9051 §6.4.5, RFC 3516 §4.2) as a
// reader of exactly size bytes. For BINARY it decodes the part's
// Content-Transfer-Encoding and returns *imap.Error NO [UNKNOWN-CTE] for
// an encoding it does not know. Write BINARY data as a literal8 when it may
// hold NUL bytes (RFC 3516 §4.3).
func (m *Message) Section(sec *imap.FetchSection) (r io.Reader, size int64, err error) {
	if sec.Binary {
		return m.binary(sec)
	}
	p := m.part(sec.Part)
	if p == nil {
		return nil, 0, ErrNoSection
	}
	var off, n int64
	switch sec.Specifier {
	case imap.PartEntire:
		if len(sec.Part) == 0 {
			off, n = 0, m.size
		} else {
			off, n = p.BodyOffset, p.EndOffset-p.BodyOffset
		}
	case imap.PartMIME:
		off, n = p.HeaderOffset, p.BodyOffset-p.HeaderOffset
	default:
		msg := p
		if len(sec.Part) > 0 {
			if !p.IsMessage() || p.Message == nil {
				return nil, 0, ErrNoSection
			}
			msg = p.Message
		}
		switch sec.Specifier {
		case imap.PartHeader:
			off, n = msg.HeaderOffset, msg.BodyOffset-msg.HeaderOffset
		case imap.PartText:
			off, n = msg.BodyOffset, msg.EndOffset-msg.BodyOffset
		case imap.PartHeaderFields, imap.PartHeaderFieldsNot:
			not := sec.Specifier == imap.PartHeaderFieldsNot
			if sec.Partial == nil {
				r, n := newFieldsReader(msg.Header.Fields(), sec.Fields, not)
				return r, n, nil
			}
			b := partialBytes(headerFields(&msg.Header, sec.Fields, not), sec.Partial)
			return bytes.NewReader(b), int64(len(b)), nil
		default:
			return nil, 0, ErrNoSection
		}
	}
	off, n = partialRange(off, n, sec.Partial)
	return io.NewSectionReader(m.r, off, n), n, nil
}

// headerFields returns the fields named (or, with not, not named) in
// fields, as written, followed by the blank line (RFC 9051 §6.4.5).
func headerFields(h *mime.Header, fields []string, not bool) []byte {
	var b []byte
	for _, f := range h.Fields() {
		if f.Key == "" {
			continue
		}
		if imap.HeaderFieldMatch(fields, f.Key) != not {
			b = append(b, f.Raw...)
			if !bytes.HasSuffix(f.Raw, []byte("\n")) {
				b = append(b, "\r\n"...)
			}
		}
	}
	return append(b, "\r\n"...)
}

func partialRange(off, n int64, p *imap.Partial) (int64, int64) {
	if p == nil {
		return off, n
	}
	po := int64(p.Offset)
	if po >= n {
		return off + n, 0
	}
	return off + po, min(n-po, int64(p.Count))
}

func partialBytes(b []byte, p *imap.Partial) []byte {
	o, n := partialRange(0, int64(len(b)), p)
	return b[o : o+n]
}

// knownCTE reports whether BINARY can decode the encoding.
func knownCTE(enc string) bool {
	switch strings.ToLower(enc) {
	case "", "7bit", "8bit", "binary", "base64", "quoted-printable":
		return true
	}
	return false
}

func (m *Message) binaryPart(path []uint32) (*mime.Part, error) {
	p := m.part(path)
	if p == nil {
		return nil, ErrNoSection
	}
	if !knownCTE(p.Encoding) {
		// RFC 3516 §4.3: NO [UNKNOWN-CTE].
		return nil, imap.NoError(imap.CodeUnknownCTE, "unknown Content-Transfer-Encoding "+p.Encoding)
	}
	return p, nil
}

// decoded returns a reader of the part's decoded body.
func (m *Message) decoded(p *mime.Part, whole bool) io.Reader {
	if whole {
		return io.NewSectionReader(m.r, 0, m.size)
	}
	raw := io.NewSectionReader(m.r, p.BodyOffset, p.EndOffset-p.BodyOffset)
	if p.IsMultipart() || p.IsMessage() {
		return raw
	}
	return mime.NewTransferDecoder(p.Encoding, raw)
}

// BinarySize returns BINARY.SIZE[section]: the decoded size of the part
// (RFC 3516 §4.2). It decodes the part once to count.
func (m *Message) BinarySize(path []uint32) (int64, error) {
	p, err := m.binaryPart(path)
	if err != nil {
		return 0, err
	}
	if len(path) == 0 {
		return m.size, nil // BINARY[] is the message as stored
	}
	if p.IsMultipart() || p.IsMessage() {
		return p.Size(), nil // not decoded (see decoded)
	}
	switch strings.ToLower(p.Encoding) {
	case "", "7bit", "8bit", "binary":
		return p.Size(), nil
	}
	return io.Copy(io.Discard, m.decoded(p, len(path) == 0))
}

func (m *Message) binary(sec *imap.FetchSection) (io.Reader, int64, error) {
	size, err := m.BinarySize(sec.Part)
	if err != nil {
		return nil, 0, err
	}
	p, _ := m.binaryPart(sec.Part)
	r := m.decoded(p, len(sec.Part) == 0)
	off, n := partialRange(0, size, sec.Partial)
	if off > 0 {
		if _, err := io.CopyN(io.Discard, r, off); err != nil {
			return nil, 0, err
		}
	}
	return io.LimitReader(r, n), n, nil
}
