package imapserver

import (
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
	// sortKeys are the SORT and THREAD keys, computed on first use (sort.go).
	sortKeys atomic.Pointer[imapsort.Keys]
}

// parsed returns the message's parse, from its cache when it has one.
// Backends without a ParseCache get the message parsed per use.
func (s *session) parsed(m Message) (*parsedMsg, error) {
	pc, _ := m.(ParseCache)
	if pc != nil {
		if v, ok := pc.LoadParsed().(*parsedMsg); ok {
			return v, nil
		}
	}
	ra, err := m.Open()
	if err != nil {
		return nil, err
	}
	root, err := mime.Index(ra, m.Size(), mime.Limits{})
	if root == nil {
		return nil, err
	}
	// A message over the part limit is served with the tree built so far.
	pm := &parsedMsg{root: root, enc: imapmsg.Encode(ra, root)}
	if pc != nil {
		pc.StoreParsed(pm)
	}
	return pm, nil
}

// message returns the imapmsg view of m for sections and SEARCH.
func (s *session) message(m Message) (*imapmsg.Message, error) {
	pm, err := s.parsed(m)
	if err != nil {
		return nil, err
	}
	ra, err := m.Open()
	if err != nil {
		return nil, err
	}
	return imapmsg.NewCached(ra, m.Size(), pm.root, pm.enc), nil
}
