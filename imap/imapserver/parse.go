package imapserver

import (
	"bytes"
	"io"
	"sync/atomic"

	"github.com/posthorn/posthorn/imap/internal/imapmsg"
	"github.com/posthorn/posthorn/imap/internal/imapsort"
	"github.com/posthorn/posthorn/mime"
)

// parsedMsg is what the server computes once per message content and
// keeps in the Message's ParseCache: the part index and the ENVELOPE,
// BODY and BODYSTRUCTURE replies, already encoded.
type parsedMsg struct {
	root *mime.Part
	enc  *imapmsg.Encoded
	// headerOnly is set for a parse of the header alone (root without
	// children nor body, enc with only the ENVELOPE), made for a FETCH
	// that asks for nothing else; any other use parses the whole message
	// and replaces it in the cache.
	headerOnly bool
	// sortKeys are the SORT and THREAD keys, computed on first use (sort.go).
	sortKeys atomic.Pointer[imapsort.Keys]
}

// parsed returns the message's whole parse, from its cache when it has
// one. Backends without a ParseCache, and servers whose Limits turn the
// cache off, get the message parsed per use.
func (s *session) parsed(m Message) (*parsedMsg, error) { return s.parse(m, false) }

// parse is parsed; with headerOnly a parse of the header alone will do
// (only its ENVELOPE is used). It is the hit, once per message of a
// warm FETCH or SEARCH, in a small frame; parseMiss does the rest.
func (s *session) parse(m Message, headerOnly bool) (*parsedMsg, error) {
	if pc, ok := m.(ParseCache); ok && s.srv.parses != nil {
		if e, ok := pc.LoadParsed().(*parseEntry); ok {
			if pm := e.load(); pm != nil && (headerOnly || !pm.headerOnly) {
				return pm, nil
			}
		}
	}
	return s.parseMiss(m, headerOnly)
}

// parseMiss is parse when the cache has no parse, or only the header's
// where the whole one is needed.
func (s *session) parseMiss(m Message, headerOnly bool) (*parsedMsg, error) {
	var e *parseEntry
	var env []byte // the ENVELOPE of a header-only parse being completed
	pc, _ := m.(ParseCache)
	cache := s.srv.parses
	if pc != nil && cache != nil {
		e, _ = pc.LoadParsed().(*parseEntry)
		if e != nil {
			if pm := e.load(); pm != nil {
				if headerOnly || !pm.headerOnly {
					return pm, nil
				}
				env = pm.enc.Envelope
			}
		}
	}
	ra, err := m.Open()
	if err != nil {
		return nil, err
	}
	// The index's 64 KiB read buffer comes from a pool: a cold FETCH
	// allocates the tree and the encoded replies, nothing in proportion
	// to the message's size.
	ix, _ := s.srv.indexers.Get().(*mime.Indexer)
	if ix == nil {
		ix = new(mime.Indexer)
	}
	var root *mime.Part
	if headerOnly {
		// RFC 9051 §7.5.2: ENVELOPE comes from the header alone; the
		// body is not read.
		root, err = ix.IndexHeader(ra, m.Size(), mime.Limits{})
	} else {
		root, err = ix.Index(ra, m.Size(), mime.Limits{})
	}
	s.srv.indexers.Put(ix)
	if root == nil {
		return nil, err
	}
	// A message over the part limit is served with the tree built so far.
	var pm *parsedMsg
	if headerOnly {
		pm = &parsedMsg{root: root, enc: imapmsg.EncodeEnvelope(root), headerOnly: true}
	} else if env != nil {
		pm = &parsedMsg{root: root, enc: imapmsg.EncodeWithEnvelope(ra, root, env)}
	} else {
		pm = &parsedMsg{root: root, enc: imapmsg.Encode(ra, root)}
	}
	if pc != nil && cache != nil {
		if e == nil {
			// Concurrent misses may each store an entry; one stays in
			// the slot and the others are collected (the ring holds
			// them weakly).
			e = new(parseEntry)
			pc.StoreParsed(e)
		}
		pm = cache.add(e, pm)
	}
	return pm, nil
}

// message makes dst the imapmsg view of m for SEARCH, reusing it: the
// matcher keeps no view after a message, so one serves the whole
// mailbox and a content search allocates nothing per message.
func (s *session) message(m Message, dst *imapmsg.Message) (*imapmsg.Message, error) {
	pm, err := s.parsed(m)
	if err != nil {
		return nil, err
	}
	ra, err := m.Open()
	if err != nil {
		return nil, err
	}
	dst.SetCached(ra, m.Size(), pm.root, pm.enc)
	return dst, nil
}

// Summarize computes the Summary of the message read from r (size
// octets, CRLF line ends), parsing it as the server does for FETCH. ix
// holds the parse's read buffers (64 KiB): a store summarising many
// messages passes one from a pool; nil allocates them.
func Summarize(ix *mime.Indexer, r io.ReaderAt, size int64) (*Summary, error) {
	if ix == nil {
		ix = new(mime.Indexer)
	}
	root, err := ix.Index(r, size, mime.Limits{})
	if root == nil {
		return nil, err
	}
	// A message over the part limit is summarised with the tree built
	// so far, as FETCH serves it.
	enc := imapmsg.Encode(r, root)
	h := &root.Header
	header := make([]byte, root.BodyOffset-root.HeaderOffset)
	if _, err := r.ReadAt(header, root.HeaderOffset); err != nil && err != io.EOF {
		return nil, err
	}
	return &Summary{
		Header:   header,
		Envelope: enc.Envelope, Body: enc.Body, BodyStructure: enc.BodyStructure,
		Subject: h.Get("Subject"), Date: h.Get("Date"), From: h.Get("From"), To: h.Get("To"), Cc: h.Get("Cc"),
		MessageID: h.Get("Message-ID"), InReplyTo: h.Get("In-Reply-To"), References: h.Get("References"),
	}, nil
}

// summaryView is the parse of a Summary's Header that SEARCH and FETCH
// of header sections read, kept in the Summary (its view field): shared
// read-only, as the parse cache's entries are.
type summaryView struct {
	r    *bytes.Reader // ReadAt only: safe for concurrent use
	root *mime.Part
	enc  *imapmsg.Encoded // the ENVELOPE, and SEARCH SUBJECT's decoded subject
}

// summaryMessage makes dst the imapmsg view of the header in sum, for a
// SEARCH whose keys read nothing else or a FETCH of header sections;
// nil when sum has no header. The header is parsed once per Summary.
func (s *session) summaryMessage(sum *Summary, dst *imapmsg.Message) *imapmsg.Message {
	if sum == nil || sum.Header == nil {
		return nil
	}
	v := sum.view.Load()
	if v == nil {
		ra := bytes.NewReader(sum.Header)
		ix, _ := s.srv.indexers.Get().(*mime.Indexer)
		if ix == nil {
			ix = new(mime.Indexer)
		}
		root, _ := ix.IndexHeader(ra, int64(len(sum.Header)), mime.Limits{})
		s.srv.indexers.Put(ix)
		if root == nil {
			return nil
		}
		v = &summaryView{r: ra, root: root, enc: &imapmsg.Encoded{Envelope: sum.Envelope}}
		if !sum.view.CompareAndSwap(nil, v) {
			v = sum.view.Load()
		}
	}
	dst.SetCached(v.r, int64(len(sum.Header)), v.root, v.enc)
	return dst
}
