package smtpqueue

import (
	"container/heap"
	"log/slog"
	"maps"
	"slices"
	"time"
)

const (
	levelInfo = slog.LevelInfo
	levelWarn = slog.LevelWarn
)

// EventType names what happened to a queued message.
type EventType string

// The events.
const (
	EventDelivered EventType = "delivered" // the next hop accepted a recipient
	EventDeferred  EventType = "deferred"  // a temporary failure; retried later
	EventFailed    EventType = "failed"    // a permanent failure; bounced
	EventExpired   EventType = "expired"   // retried too long; bounced
	EventDSN       EventType = "dsn"       // a DSN was queued (ID is the message it is about)
)

// Event is given to Options.OnEvent.
type Event struct {
	Type        EventType
	ID          string    // the queued message
	Recipient   string    // the recipient (for EventDSN, the DSN's recipient)
	Destination string    // the recipient's destination
	Attempts    int       // attempts so far
	Reply       string    // the last reply or error, one line
	Code        int       // its reply code, 0 for a local error
	DSN         string    // EventDSN: the queue ID of the DSN
	Action      string    // EventDSN: "failed", "delayed" or "relayed"
	Time        time.Time // when
}

func (q *Queue) emit(ev Event) {
	if q.opts.OnEvent != nil {
		q.opts.OnEvent(ev)
	}
}

// Stats are the queue's gauges and counters since Open.
type Stats struct {
	Queued    int           // messages in the queue
	Held      int           // of which on hold
	Active    int           // being delivered
	Oldest    time.Duration // age of the oldest message
	Delivered uint64        // recipients delivered
	Deferred  uint64        // temporary failures
	Failed    uint64        // recipients failed for good (bounced), expired included
	Expired   uint64        // recipients given up after Retry.Expire
	DSNs      uint64        // DSNs queued
	// FailedByCode counts Failed by reply code (0: no reply, e.g. DNS).
	FailedByCode map[int]uint64
}

func (s *Stats) failedCode(code int) {
	if s.FailedByCode == nil {
		s.FailedByCode = map[int]uint64{}
	}
	s.FailedByCode[code]++
}

// Stats returns the current statistics.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.stats
	s.FailedByCode = maps.Clone(q.stats.FailedByCode)
	s.Active = q.active
	now := q.clock.Now()
	s.Held = 0
	for _, e := range q.entries {
		if e.st.Held {
			s.Held++
		}
		if a := now.Sub(e.rec.Arrival); a > s.Oldest {
			s.Oldest = a
		}
	}
	return s
}

// MessageInfo describes a queued message.
type MessageInfo struct {
	ID          string
	Kind        Kind
	From        string
	Arrival     time.Time
	Age         time.Duration
	Size        int64
	Attempts    int
	NextAttempt time.Time // zero while held
	LastAttempt time.Time
	LastReply   string
	Held        bool
	Active      bool // being delivered now
	Recipients  []RecipientInfo
}

// RecipientInfo is one recipient of a queued message.
type RecipientInfo struct {
	Addr   string
	Status RecipientStatus
	Reply  string // the last reply or error
}

// List returns the queued messages, oldest first.
func (q *Queue) List() []MessageInfo {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	// Sort pointers, not the results, and take every recipient list from
	// one allocation: at 100,000 messages this is most of the time.
	es := make([]*entry, 0, len(q.entries))
	nr := 0
	for _, e := range q.entries {
		es = append(es, e)
		nr += len(e.rec.To)
	}
	slices.SortFunc(es, func(a, b *entry) int {
		if c := a.rec.Arrival.Compare(b.rec.Arrival); c != 0 {
			return c
		}
		return compareStrings(a.rec.ID, b.rec.ID)
	})
	slab := make([]RecipientInfo, nr)
	out := make([]MessageInfo, len(es))
	for i, e := range es {
		n := len(e.rec.To)
		q.infoInto(&out[i], e, now, slab[:n:n])
		slab = slab[n:]
	}
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Get returns one queued message.
func (q *Queue) Get(id string) (MessageInfo, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.entries[id]
	if !ok {
		return MessageInfo{}, ErrNotFound
	}
	return q.info(e, q.clock.Now()), nil
}

func (q *Queue) info(e *entry, now time.Time) MessageInfo {
	var mi MessageInfo
	q.infoInto(&mi, e, now, make([]RecipientInfo, len(e.rec.To)))
	return mi
}

// infoInto fills mi for e, with rcpts (len(e.rec.To) long) as its
// recipient list.
func (q *Queue) infoInto(mi *MessageInfo, e *entry, now time.Time, rcpts []RecipientInfo) {
	*mi = MessageInfo{
		ID: e.rec.ID, Kind: e.rec.Kind, From: e.rec.From, Arrival: e.rec.Arrival,
		Age: now.Sub(e.rec.Arrival), Size: e.size, Attempts: e.st.Attempts,
		LastAttempt: e.st.LastAttempt, LastReply: e.st.LastReply, Held: e.st.Held, Active: e.busy,
	}
	if !e.st.Held {
		mi.NextAttempt = e.st.NextAttempt
	}
	for i, to := range e.rec.To {
		rcpts[i] = RecipientInfo{Addr: to, Status: e.st.Rcpts[i].Status, Reply: e.st.Rcpts[i].Reply}
	}
	mi.Recipients = rcpts
}

// Hold keeps a message in the queue without trying it until Release.
// A delivery in progress finishes.
func (q *Queue) Hold(id string) error {
	return q.change(id, func(e *entry) {
		e.st.Held = true
		if e.heapIdx >= 0 {
			heap.Remove(&q.due, e.heapIdx)
		}
	})
}

// Release ends a hold; the message is tried at once.
func (q *Queue) Release(id string) error {
	return q.change(id, func(e *entry) {
		if !e.st.Held {
			return
		}
		e.st.Held = false
		e.st.NextAttempt = q.clock.Now()
		if !e.busy {
			heap.Push(&q.due, e)
		}
	})
}

// RetryNow makes a message due at once (a held message stays held).
func (q *Queue) RetryNow(id string) error {
	return q.change(id, func(e *entry) {
		e.st.NextAttempt = q.clock.Now()
		if e.heapIdx >= 0 {
			heap.Fix(&q.due, e.heapIdx)
		}
	})
}

// Delete removes a message without a DSN. A delivery in progress
// finishes first, and may still reach some recipients.
func (q *Queue) Delete(id string) error {
	q.mu.Lock()
	e, ok := q.entries[id]
	if !ok || e.deleted {
		q.mu.Unlock()
		return ErrNotFound
	}
	e.deleted = true
	if e.busy {
		q.mu.Unlock()
		return nil
	}
	if e.heapIdx >= 0 {
		heap.Remove(&q.due, e.heapIdx)
	}
	delete(q.entries, id)
	q.stats.Queued--
	q.mu.Unlock()
	q.log.Info("smtpqueue: deleted", "id", id)
	e.wmu.Lock()
	defer e.wmu.Unlock()
	return q.st.remove(id)
}

// change applies f to a message and stores its state.
func (q *Queue) change(id string, f func(*entry)) error {
	q.mu.Lock()
	e, ok := q.entries[id]
	if !ok || e.deleted {
		q.mu.Unlock()
		return ErrNotFound
	}
	f(e)
	busy := e.busy
	q.mu.Unlock()
	q.kick()
	if busy {
		// The delivery writes the state when it ends.
		return nil
	}
	return q.saveState(e)
}

// saveState writes the current state of e, one writer at a time, so the
// last write holds the latest state.
func (q *Queue) saveState(e *entry) error {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	q.mu.Lock()
	if _, ok := q.entries[e.rec.ID]; !ok || e.deleted {
		q.mu.Unlock()
		return nil
	}
	st := e.st
	st.Rcpts = slices.Clone(e.st.Rcpts)
	q.mu.Unlock()
	return q.st.writeState(e.rec.ID, &st)
}
