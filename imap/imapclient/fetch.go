package imapclient

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/internal/imapwire"
)

// FetchItemData is one data item of a FETCH response, in the order the
// server sent it. The concrete types are the FetchItem* types below.
type FetchItemData interface{ fetchItemData() }

// FetchItemUID is the UID item.
type FetchItemUID struct{ UID uint32 }

// FetchItemFlags is the FLAGS item.
type FetchItemFlags struct{ Flags []imap.Flag }

// FetchItemRFC822Size is the RFC822.SIZE item.
type FetchItemRFC822Size struct{ Size int64 }

// FetchItemInternalDate is the INTERNALDATE item.
type FetchItemInternalDate struct{ Time time.Time }

// FetchItemEnvelope is the ENVELOPE item.
type FetchItemEnvelope struct{ Envelope *imap.Envelope }

// FetchItemBodyStructure is the BODYSTRUCTURE item, or BODY (without
// extension data) when Extended is false.
type FetchItemBodyStructure struct {
	BodyStructure *imap.BodyStructure
	Extended      bool
}

// FetchItemModSeq is the MODSEQ item (RFC 7162 §3.1.4).
type FetchItemModSeq struct{ ModSeq uint64 }

// FetchItemBodySection is a BODY[...] or BINARY[...] item (and RFC822,
// RFC822.HEADER, RFC822.TEXT). Literal streams the data straight off the
// connection: it is valid until the next call of FetchMessage.Next, and
// what the caller leaves unread is discarded then. Nil is set (and
// Literal empty) when the server sent NIL. Section may be shared by the
// messages of one response: treat it as read-only.
type FetchItemBodySection struct {
	Section *imap.FetchSection
	Literal io.Reader
	Size    int64
	Nil     bool
}

// FetchItemBinarySize is a BINARY.SIZE[...] item (RFC 3516 §4.2).
type FetchItemBinarySize struct {
	Section *imap.FetchSection
	Size    int64
}

// FetchItemOther is an item this package does not model, such as Gmail's
// X-GM-LABELS or X-GM-MSGID, with its value read generically.
type FetchItemOther struct {
	Name  string
	Value Value
}

func (FetchItemUID) fetchItemData()           {}
func (FetchItemFlags) fetchItemData()         {}
func (FetchItemRFC822Size) fetchItemData()    {}
func (FetchItemInternalDate) fetchItemData()  {}
func (FetchItemEnvelope) fetchItemData()      {}
func (FetchItemBodyStructure) fetchItemData() {}
func (FetchItemModSeq) fetchItemData()        {}
func (FetchItemBodySection) fetchItemData()   {}
func (FetchItemBinarySize) fetchItemData()    {}
func (FetchItemOther) fetchItemData()         {}

// FetchOptions are the FETCH modifiers of RFC 7162.
type FetchOptions struct {
	// ChangedSince asks only for messages whose mod-sequence is higher
	// (CHANGEDSINCE, RFC 7162 §3.1.4.1).
	ChangedSince uint64
	// Vanished, with ChangedSince on a UID FETCH, also reports expunged
	// UIDs as VANISHED (EARLIER) (RFC 7162 §3.2.6).
	Vanished bool
}

// FetchCommand is a FETCH in progress. Call Next until it returns nil,
// then Close for the command's result; or Collect.
type FetchCommand struct {
	c   *Client
	ctx context.Context
	cmd *command
	err error // error starting the command
	// events carries messages' items from the reader goroutine, in
	// order, a slice of events at a time: the reader goroutine gathers
	// the messages it parses (pend) and hands them over when it has
	// fetchBatch of them, when its input runs dry (so nothing waits on a
	// slow server) or at a body section or the end. One hand-off per
	// batch, not per message, and messages without body sections are
	// parsed ahead while the caller works.
	events chan []fetchEvent
	pend   []fetchEvent // reader goroutine only
	q      []fetchEvent // caller only: received, not yet taken
	qhead  []fetchEvent // caller only: the batch q is a tail of
	// free returns batches the caller has emptied, for reuse.
	free chan []fetchEvent
	// ack wakes the reader goroutine waiting after a body section when
	// the caller hands the decoder back (see owned). Capacity 1, sent
	// without blocking.
	ack   chan struct{}
	stash *fetchEvent // the next message's first event, read early
	prev  *FetchMessage
	stop  func() bool

	// While the caller holds a body section, the reader goroutine waits
	// and the caller owns the decoder: when it moves on it parses the
	// rest of the response, and the FETCH responses that follow, itself
	// (FetchMessage.Next, parseOn), saving two goroutine switches per
	// message, until a response that is not this command's FETCH; then it
	// hands the decoder back at the start of that response. pmu guards
	// the hand-over; it is held while the caller parses.
	pmu       sync.Mutex
	owned     bool           // the caller owns the decoder
	cur       *sectionReader // the section the caller holds
	inlineErr error          // why the caller's parsing stopped, if it failed
}

// abandoned reports whether the command was abandoned (closed early or
// its context ended).
func (f *FetchCommand) abandoned() bool {
	select {
	case <-f.cmd.abandoned:
		return true
	default:
		return false
	}
}

// fetchEvent is one batch of a message's items: everything up to and
// including the next body section, or up to the end of the message
// (final).
type fetchEvent struct {
	msg   *FetchMessage
	items []FetchItemData
	final bool
}

// fetchEventBuffer is how many batches of events the reader goroutine
// may parse ahead of the caller, and fetchBatch how many events a batch
// holds at most.
const (
	fetchEventBuffer = 4
	fetchBatch       = 16
)

// FetchMessage is one message's FETCH response. Call Next for its items.
type FetchMessage struct {
	SeqNum uint32

	f       *FetchCommand
	queue   []FetchItemData
	final   bool // queue holds the last batch
	needAck bool
	// buf and sr back the first batch and the first body section, so
	// that the common message costs no allocations for them.
	buf [6]FetchItemData
	sr  sectionReader
}

// Fetch sends FETCH for message sequence numbers (RFC 9051 §6.4.5) and
// returns at once; results stream through the returned command. The
// context covers the whole command: when it ends, Next returns nil, Close
// returns the context's error, and the rest of the server's response is
// read and dropped so the connection stays usable.
func (c *Client) Fetch(ctx context.Context, seqs imap.NumSet, items []imap.FetchAtt, opts *FetchOptions) *FetchCommand {
	return c.fetch(ctx, false, seqs, items, opts)
}

// UIDFetch is Fetch with UIDs (RFC 9051 §6.4.9).
func (c *Client) UIDFetch(ctx context.Context, uids imap.NumSet, items []imap.FetchAtt, opts *FetchOptions) *FetchCommand {
	return c.fetch(ctx, true, uids, items, opts)
}

func (c *Client) fetch(ctx context.Context, uid bool, set imap.NumSet, items []imap.FetchAtt, opts *FetchOptions) *FetchCommand {
	name := "FETCH"
	if uid {
		name = "UID FETCH"
	}
	b := newLine(name, " ")
	b.Bytes = set.AppendTo(b.Bytes)
	b.Bytes = append(b.Bytes, ' ')
	b.Bytes = imapwire.AppendFetchAtts(b.Bytes, items)
	if opts != nil && opts.ChangedSince > 0 {
		b.Bytes = append(b.Bytes, " (CHANGEDSINCE "...)
		b.Bytes = strconv.AppendUint(b.Bytes, opts.ChangedSince, 10)
		if opts.Vanished {
			b.Bytes = append(b.Bytes, " VANISHED"...)
		}
		b.Bytes = append(b.Bytes, ')')
	}
	f := &FetchCommand{c: c, ctx: ctx}
	if err := ctx.Err(); err != nil {
		f.err = err
		return f
	}
	release, err := c.acquire(ctx, name)
	if err != nil {
		f.err = err
		return f
	}
	c.wmu.Lock()
	cmd, err := c.newCommand(name, release, "FETCH", "VANISHED")
	if err != nil {
		c.wmu.Unlock()
		f.err = err
		return f
	}
	cmd.fetch = f
	f.cmd = cmd
	f.events = make(chan []fetchEvent, fetchEventBuffer)
	f.free = make(chan []fetchEvent, fetchEventBuffer+1)
	f.pend = make([]fetchEvent, 0, fetchBatch)
	f.ack = make(chan struct{}, 1)
	undo := c.writeCtx(ctx)
	err = c.sendLine(ctx, cmd, b)
	undo()
	c.wmu.Unlock()
	if err != nil {
		if !isImapError(err) {
			err = c.writeFailed(ctx, err)
		}
		cmd.abandon()
		f.err = err
		return f
	}
	f.stop = context.AfterFunc(ctx, cmd.abandon)
	return f
}

// Next returns the next message, or nil when there are no more (or the
// context ended). Unread items of the previous message are discarded.
func (f *FetchCommand) Next() *FetchMessage {
	if f.err != nil {
		return nil
	}
	if f.prev != nil {
		for f.prev.Next() != nil {
		}
		f.prev = nil
	}
	ev, ok := f.recv()
	if !ok {
		return nil
	}
	m := ev.msg
	m.queue, m.final = ev.items, ev.final
	f.prev = m
	return m
}

// recv returns the next event: the stashed one, or one from the reader
// goroutine. ok is false at the end of the command or when it was
// abandoned.
func (f *FetchCommand) recv() (ev fetchEvent, ok bool) {
	if f.abandoned() {
		return ev, false
	}
	if f.stash != nil {
		ev, f.stash = *f.stash, nil
		return ev, true
	}
	if len(f.q) == 0 {
		select {
		case f.q = <-f.events:
		case <-f.cmd.abandoned:
			return ev, false
		case <-f.cmd.done:
			// Everything the reader goroutine sent precedes done.
			select {
			case f.q = <-f.events:
			default:
				return ev, false
			}
		}
		f.qhead = f.q
	}
	ev = f.q[0]
	f.q = f.q[1:]
	if len(f.q) == 0 {
		clear(f.qhead)
		select {
		case f.free <- f.qhead[:0]:
		default:
		}
		f.q, f.qhead = nil, nil
	}
	return ev, true
}

// Close discards what is left of the response and returns the command's
// result: nil, an *imap.Error, a connection error or the context's error.
func (f *FetchCommand) Close() error {
	if f.err != nil {
		return f.err
	}
	if f.stop != nil {
		f.stop()
	}
	select {
	case <-f.cmd.done:
		return f.cmd.result()
	default:
	}
	// Stop delivering; the reader drops the rest.
	f.cmd.abandon()
	select {
	case <-f.cmd.done:
		if err := f.ctx.Err(); err != nil {
			return err
		}
		return f.cmd.result()
	case <-f.ctx.Done():
		return f.ctx.Err()
	}
}

// Collect reads every message into memory and closes the command.
func (f *FetchCommand) Collect() ([]*FetchMessageBuffer, error) {
	var out []*FetchMessageBuffer
	for m := f.Next(); m != nil; m = f.Next() {
		b, err := m.Collect()
		if err != nil {
			f.Close()
			return out, err
		}
		out = append(out, b)
	}
	return out, f.Close()
}

// Next returns the message's next item, or nil after the last.
func (m *FetchMessage) Next() FetchItemData {
	f := m.f
	if m.needAck {
		m.needAck = false
		f.parseOn(m)
	}
	if len(m.queue) == 0 {
		if m.final {
			return nil
		}
		ev, ok := f.recv()
		if !ok {
			// Abandoned, or the connection ended in the middle of the
			// message.
			m.final = true
			return nil
		}
		if ev.msg != m {
			// The message ended with its last body section.
			f.stash = &ev
			m.final = true
			return nil
		}
		m.queue, m.final = ev.items, ev.final
		if len(m.queue) == 0 {
			return nil
		}
	}
	it := m.queue[0]
	m.queue = m.queue[1:]
	if len(m.queue) == 0 && !m.final {
		// The batch ended with a body section: the reader goroutine
		// waits until we move on.
		m.needAck = true
	}
	return it
}

// Collect reads the message's remaining items into a buffer.
func (m *FetchMessage) Collect() (*FetchMessageBuffer, error) {
	b := &FetchMessageBuffer{SeqNum: m.SeqNum}
	for it := m.Next(); it != nil; it = m.Next() {
		if err := b.add(it); err != nil {
			return b, err
		}
	}
	return b, nil
}

// FetchMessageBuffer is one message's FETCH data held in memory.
type FetchMessageBuffer struct {
	SeqNum        uint32
	UID           uint32
	Flags         []imap.Flag
	HasFlags      bool // FLAGS was sent (Flags may be empty)
	RFC822Size    int64
	InternalDate  time.Time
	Envelope      *imap.Envelope
	BodyStructure *imap.BodyStructure
	ModSeq        uint64
	BodySections  []BodySectionBuffer
	BinarySizes   []FetchItemBinarySize
	Other         []FetchItemOther
}

// BodySectionBuffer is a body section held in memory.
type BodySectionBuffer struct {
	Section *imap.FetchSection
	Bytes   []byte
	Nil     bool
}

func (b *FetchMessageBuffer) add(it FetchItemData) error {
	switch x := it.(type) {
	case FetchItemUID:
		b.UID = x.UID
	case FetchItemFlags:
		b.Flags, b.HasFlags = x.Flags, true
	case FetchItemRFC822Size:
		b.RFC822Size = x.Size
	case FetchItemInternalDate:
		b.InternalDate = x.Time
	case FetchItemEnvelope:
		b.Envelope = x.Envelope
	case FetchItemBodyStructure:
		b.BodyStructure = x.BodyStructure
	case FetchItemModSeq:
		b.ModSeq = x.ModSeq
	case FetchItemBodySection:
		var data []byte
		if !x.Nil {
			data = make([]byte, 0, x.Size)
			for {
				if len(data) == cap(data) {
					data = append(data, 0)[:len(data)]
				}
				n, err := x.Literal.Read(data[len(data):cap(data)])
				data = data[:len(data)+n]
				if err == io.EOF {
					break
				}
				if err != nil {
					return err
				}
			}
		}
		b.BodySections = append(b.BodySections, BodySectionBuffer{Section: x.Section, Bytes: data, Nil: x.Nil})
	case FetchItemBinarySize:
		b.BinarySizes = append(b.BinarySizes, x)
	case FetchItemOther:
		b.Other = append(b.Other, x)
	}
	return nil
}

// Section returns the data of the section that answers the requested
// one (.PEEK and the partial's length are ignored, as in the response
// name), or nil.
func (b *FetchMessageBuffer) Section(sec *imap.FetchSection) []byte {
	want := strings.ToUpper(string(sec.AppendSectionName(nil)))
	for _, s := range b.BodySections {
		if strings.ToUpper(string(s.Section.AppendSectionName(nil))) == want {
			return s.Bytes
		}
	}
	return nil
}

// errSectionGone is returned by a body section reader used after its
// message moved on.
var errSectionGone = errors.New("imapclient: body section read after the message moved on")

// sectionReader guards a literal shared between the reader goroutine and
// the consumer: after kill the consumer gets errSectionGone, and the reader
// goroutine may drain the literal itself.
type sectionReader struct {
	mu   sync.Mutex
	r    io.Reader
	dead bool
}

func (s *sectionReader) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return 0, errSectionGone
	}
	return s.r.Read(p)
}

func (s *sectionReader) kill() {
	s.mu.Lock()
	s.dead = true
	s.mu.Unlock()
}
