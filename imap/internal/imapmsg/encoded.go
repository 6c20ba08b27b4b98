package imapmsg

import (
	"io"
	"sync/atomic"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/internal/imapwire"
	"github.com/posthorn/posthorn/mime"
)

// Encoded holds the wire form of a message's ENVELOPE, BODY and
// BODYSTRUCTURE, ready to be written after the item name with one copy
// (RFC 9051 §7.5.2). The three slices share one backing array. A server
// computes it once per message and caches it; it is immutable, but for
// the search keys it computes on first use (safe for concurrent use).
// It must not be copied after first use.
type Encoded struct {
	Envelope      []byte
	Body          []byte
	BodyStructure []byte

	subject atomic.Pointer[string] // see searchSubject
}

// Size returns the bytes held, for cache accounting.
func (e *Encoded) Size() int { return len(e.Envelope) + len(e.Body) + len(e.BodyStructure) }

// Encode computes and encodes ENVELOPE, BODY and BODYSTRUCTURE of the
// message r whose part index is root (see BodyStructure for r).
func Encode(r io.ReaderAt, root *mime.Part) *Encoded {
	env := Envelope(root)
	bs := BodyStructure(r, root)
	return EncodeStructures(env, bs)
}

// EncodeEnvelope encodes only the ENVELOPE of the message whose header
// is root's (Body and BodyStructure stay nil): for a root that
// mime.Indexer.IndexHeader read.
func EncodeEnvelope(root *mime.Part) *Encoded {
	buf := imapwire.AppendEnvelope(make([]byte, 0, 512), Envelope(root))
	return &Encoded{Envelope: buf[:len(buf):len(buf)]}
}

// EncodeWithEnvelope is Encode for a message whose ENVELOPE is already
// encoded (by EncodeEnvelope): env is reused, not computed again.
func EncodeWithEnvelope(r io.ReaderAt, root *mime.Part, env []byte) *Encoded {
	bs := BodyStructure(r, root)
	buf := make([]byte, 0, 512)
	buf = imapwire.AppendBodyStructure(buf, bs, false)
	nb := len(buf)
	buf = imapwire.AppendBodyStructure(buf, bs, true)
	buf = buf[:len(buf):len(buf)]
	return &Encoded{Envelope: env, Body: buf[:nb:nb], BodyStructure: buf[nb:]}
}

// EncodeStructures encodes already computed structures.
func EncodeStructures(env *imap.Envelope, bs *imap.BodyStructure) *Encoded {
	buf := make([]byte, 0, 1024)
	buf = imapwire.AppendEnvelope(buf, env)
	ne := len(buf)
	buf = imapwire.AppendBodyStructure(buf, bs, false)
	nb := len(buf)
	buf = imapwire.AppendBodyStructure(buf, bs, true)
	buf = buf[:len(buf):len(buf)]
	return &Encoded{Envelope: buf[:ne:ne], Body: buf[ne:nb:nb], BodyStructure: buf[nb:]}
}
