package smtpqueue

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/smtpclient"
)

// Envelope is the sender, recipients and DSN parameters of a message to
// queue.
type Envelope struct {
	// From is the reverse-path; "" is the null sender "<>", whose message
	// is never bounced back to it (RFC 5321 §4.5.5).
	From string
	// To lists the recipients; at least one.
	To []string
	// MailOptions carries RET and ENVID (RFC 3461 §4.3, §4.4), used in
	// the DSNs, and REQUIRETLS (RFC 8689), passed to the next hop. Size,
	// Body and SMTPUTF8 are set per attempt from the message.
	MailOptions smtp.MailOptions
	// RcptOptions, when not nil, holds NOTIFY and ORCPT of each recipient
	// (RFC 3461 §4.1, §4.2), parallel to To.
	RcptOptions []smtp.RcptOptions
}

// Kind says whether a queued message is one of the queue's own
// notifications.
type Kind string

// The kinds of queued messages.
const (
	KindMessage      Kind = ""              // a message given to Enqueue
	KindBounce       Kind = "bounce"        // a DSN the queue sends to a sender
	KindDoubleBounce Kind = "double-bounce" // a DSN about a bounce, to the postmaster
)

// RecipientStatus is where a recipient of a queued message stands.
type RecipientStatus string

// The recipient statuses.
const (
	StatusPending   RecipientStatus = "pending"   // not delivered yet; retried
	StatusDelivered RecipientStatus = "delivered" // the next hop accepted it
	StatusFailed    RecipientStatus = "failed"    // failed for good; bounced
)

// Clock tells the time and waits; the queue takes all its times from it,
// so tests can move time forward instead of waiting.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed, counted
	// from the time of the call. The queue may call it often and drop the
	// channel unread.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// RetryPolicy says when a deferred message is tried again. The zero value
// takes Postfix's defaults.
type RetryPolicy struct {
	// First is the wait after the first failed attempt; 0 means 5 minutes
	// (Postfix's minimal_backoff_time). It doubles after each attempt.
	First time.Duration
	// Max caps the wait between attempts; 0 means 1 hour.
	Max time.Duration
	// Expire is how long a message is retried before it is bounced with
	// status 4.4.7; 0 means 5 days (RFC 5321 §4.5.4.1 suggests 4-5 days).
	Expire time.Duration
	// Jitter spreads each wait by up to this fraction either way, so
	// messages deferred together are not retried together; 0 means 0.1,
	// negative means none.
	Jitter float64
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.First <= 0 {
		p.First = 5 * time.Minute
	}
	if p.Max <= 0 {
		p.Max = time.Hour
	}
	if p.Max < p.First {
		p.Max = p.First
	}
	if p.Expire <= 0 {
		p.Expire = 5 * 24 * time.Hour
	}
	if p.Jitter == 0 {
		p.Jitter = 0.1
	}
	if p.Jitter < 0 || p.Jitter >= 1 {
		p.Jitter = 0
	}
	return p
}

// Backoff returns the wait after the given number of failed attempts
// (from 1), jitter left out.
func (p RetryPolicy) Backoff(attempts int) time.Duration {
	p = p.withDefaults()
	d := p.First
	for i := 1; i < attempts && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

func (p RetryPolicy) jittered(attempts int) time.Duration {
	d := p.Backoff(attempts)
	if p.Jitter > 0 {
		d = time.Duration(float64(d) * (1 + p.Jitter*(2*rand.Float64()-1)))
	}
	return d
}

// Options configure a Queue. The zero value delivers directly to MX hosts
// with Postfix-like retries.
type Options struct {
	// Hostname is this host's name: the Reporting-MTA of DSNs and the
	// domain of their MAILER-DAEMON sender; "" means os.Hostname.
	Hostname string
	// Transport sends the messages; nil means MX{}, direct delivery to
	// each recipient domain's MX hosts.
	Transport Transport
	// Retry is the retry schedule.
	Retry RetryPolicy
	// DelayWarning is how long a message waits before senders whose
	// recipients asked for NOTIFY=DELAY (or gave no NOTIFY) get a "delayed"
	// DSN, once; 0 means 4 hours, negative never.
	DelayWarning time.Duration
	// Postmaster receives the DSN about a message from the null sender that
	// could not be delivered (a double bounce); "" means
	// "postmaster@"+Hostname. A double bounce that fails is dropped and
	// logged: no loop.
	Postmaster string
	// DestinationRateDelay spaces the starts of deliveries to one
	// destination at least this far apart (a receiving server's rate
	// limit); 0 means no delay.
	DestinationRateDelay time.Duration
	// MaxDeliveries caps the deliveries in progress; 0 means 20.
	MaxDeliveries int
	// MaxPerDestination caps the deliveries in progress to one destination
	// (a recipient domain, or the smarthost); 0 means 5.
	MaxPerDestination int
	// ReturnLimit is the largest message a bounce returns whole when the
	// sender gave no RET (RFC 3461 §4.3 leaves it to us); larger ones, and
	// RET=HDRS, return the header only. 0 means 256 KiB.
	ReturnLimit int64
	// MaxMessageSize bounds what Enqueue stores; 0 means 64 MiB, negative
	// no limit.
	MaxMessageSize int64
	// Sign, when set, is applied to the message before each attempt and
	// returns the message to send: DKIM(opts) adds a DKIM signature. When
	// it fails the message is sent unsigned and a warning logged, rather
	// than held back.
	Sign func(ctx context.Context, msg smtpclient.Message) (smtpclient.Message, error)
	// Clock is the time source; nil means the system clock.
	Clock Clock
	// Logger receives a record of every attempt; nil means slog.Default().
	Logger *slog.Logger
	// OnEvent, when set, is called for every delivery, deferral, bounce
	// and expiry, from the delivering goroutine; it must not block long.
	OnEvent func(Event)
}

// ErrNotFound is returned by the operations on a message not in the queue.
var ErrNotFound = errors.New("smtpqueue: no such message")

// ErrLocked is returned by Open when another process (or Queue) has the
// directory open.
var ErrLocked = errors.New("smtpqueue: queue directory in use by another process")

// ErrTooLarge is returned by Enqueue for a message over
// Options.MaxMessageSize.
var ErrTooLarge = errors.New("smtpqueue: message too large")

// ErrClosed is returned by Enqueue after Close.
var ErrClosed = errors.New("smtpqueue: queue closed")

// Queue is a durable outbound mail queue in a directory. Enqueue stores
// messages; Run delivers them. It is safe for concurrent use. One Queue
// opens a directory at a time (a lock file enforces it on Unix).
type Queue struct {
	opts  Options
	retry RetryPolicy
	clock Clock
	log   *slog.Logger
	tr    Transport
	st    *store
	lock  *os.File

	mu       sync.Mutex
	entries  map[string]*entry
	due      dueHeap
	dests    map[string]*destSlot
	rateNext map[string]time.Time // earliest next start per destination
	active   int
	closed   bool
	stats    Stats
	wake     chan struct{}
	workers  sync.WaitGroup
}

// entry is the in-memory index of a queued message.
type entry struct {
	rec     *record
	off     int64
	size    int64
	st      state
	busy    bool       // being delivered
	deleted bool       // deleted while busy
	heapIdx int        // index in due, -1 when not in it
	wmu     sync.Mutex // serialises writes of the state file
}

// Open opens (creating it if needed) the queue in dir and recovers the
// messages stored there: every message acknowledged by Enqueue before a
// crash is found again. opts may be nil.
func Open(dir string, opts *Options) (*Queue, error) {
	q := &Queue{entries: map[string]*entry{}, dests: map[string]*destSlot{}, rateNext: map[string]time.Time{}, wake: make(chan struct{}, 1)}
	if opts != nil {
		q.opts = *opts
	}
	o := &q.opts
	if o.Hostname == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		o.Hostname = h
	}
	if o.Postmaster == "" {
		o.Postmaster = "postmaster@" + o.Hostname
	}
	if o.DelayWarning == 0 {
		o.DelayWarning = 4 * time.Hour
	}
	if o.MaxDeliveries <= 0 {
		o.MaxDeliveries = 20
	}
	if o.MaxPerDestination <= 0 {
		o.MaxPerDestination = 5
	}
	if o.MaxMessageSize == 0 {
		o.MaxMessageSize = 64 << 20
	}
	if o.ReturnLimit <= 0 {
		o.ReturnLimit = 256 << 10
	}
	q.retry = o.Retry.withDefaults()
	q.clock = o.Clock
	if q.clock == nil {
		q.clock = realClock{}
	}
	q.log = o.Logger
	if q.log == nil {
		q.log = slog.Default()
	}
	q.tr = o.Transport
	if q.tr == nil {
		q.tr = &MX{}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	st, err := openStore(dir)
	if err != nil {
		lock.Close()
		return nil, err
	}
	q.st, q.lock = st, lock
	ids, err := st.list()
	if err != nil {
		lock.Close()
		return nil, err
	}
	// The snapshot of a clean Close, if any; the listing still decides
	// which messages exist.
	idx, err := st.readIndex()
	if err != nil && !errors.Is(err, errBadIndex) {
		lock.Close()
		return nil, err
	}
	now := q.clock.Now()
	for _, id := range ids {
		if e := idx[id]; e != nil {
			q.entries[id] = e
			if !e.st.Held {
				q.due = append(q.due, e)
			}
			continue
		}
		rec, off, size, err := st.readMessage(id)
		if err != nil {
			// Keep the file for a human; never delete what we cannot read.
			q.log.Error("smtpqueue: unreadable queue file left in place", "id", id, "err", err)
			continue
		}
		e := &entry{rec: rec, off: off, size: size, heapIdx: -1}
		if s, err := st.readState(id); err == nil && len(s.Rcpts) == len(rec.To) {
			e.st = *s
		} else {
			e.st = initialState(rec, now)
		}
		q.entries[id] = e
		if !e.st.Held {
			q.due = append(q.due, e)
		}
	}
	for i, e := range q.due {
		e.heapIdx = i
	}
	heap.Init(&q.due)
	q.stats.Queued = len(q.entries)
	return q, nil
}

func initialState(rec *record, now time.Time) state {
	s := state{NextAttempt: now, Rcpts: make([]rcptState, len(rec.To))}
	for i := range s.Rcpts {
		s.Rcpts[i].Status = StatusPending
	}
	return s
}

// Enqueue stores a message for delivery and returns its queue ID. It
// returns only once the message and its envelope are on stable storage
// (written, fsynced, renamed into place, the directory fsynced), so a
// caller may then acknowledge the message to its own client; concurrent
// calls share the directory fsync.
func (q *Queue) Enqueue(ctx context.Context, env *Envelope, msg io.Reader) (string, error) {
	return q.enqueue(ctx, env, msg, KindMessage)
}

func (q *Queue) enqueue(ctx context.Context, env *Envelope, msg io.Reader, kind Kind) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if env == nil || len(env.To) == 0 {
		return "", errors.New("smtpqueue: no recipients")
	}
	if env.RcptOptions != nil && len(env.RcptOptions) != len(env.To) {
		return "", errors.New("smtpqueue: RcptOptions and To differ in length")
	}
	if env.From != "" {
		if _, err := smtp.ParseMailbox(env.From); err != nil {
			return "", err
		}
	}
	for _, to := range env.To {
		if _, err := smtp.ParseMailbox(to); err != nil {
			return "", err
		}
	}
	// Check the parameters now, not at the first attempt.
	mo := env.MailOptions
	mo.Size, mo.Body, mo.SMTPUTF8 = 0, "", false
	if _, err := mo.Params(); err != nil {
		return "", fmt.Errorf("smtpqueue: %w", err)
	}
	// RFC 3461 §4.4: ENVID is printable US-ASCII; it and ORCPT go into
	// DSN fields, where a control character could break the report.
	if hasControl(mo.EnvelopeID) || !isASCII(mo.EnvelopeID) {
		return "", errors.New("smtpqueue: ENVID must be printable US-ASCII")
	}
	for i := range env.RcptOptions {
		if _, err := env.RcptOptions[i].Params(); err != nil {
			return "", fmt.Errorf("smtpqueue: %w", err)
		}
		if hasControl(env.RcptOptions[i].OriginalRecipient) || hasControl(env.RcptOptions[i].OriginalRecipientType) {
			return "", errors.New("smtpqueue: control character in ORCPT")
		}
	}
	q.mu.Lock()
	closed := q.closed
	q.mu.Unlock()
	if closed && kind == KindMessage {
		// A DSN from a delivery still finishing is stored all the same.
		return "", ErrClosed
	}
	now := q.clock.Now()
	rec := &record{
		ID:          newID(now),
		Arrival:     now,
		Kind:        kind,
		From:        env.From,
		To:          append([]string(nil), env.To...),
		MailOptions: mo,
	}
	if env.RcptOptions != nil {
		rec.RcptOptions = append([]smtp.RcptOptions(nil), env.RcptOptions...)
	}
	off, size, err := q.st.writeMessage(rec, msg, q.opts.MaxMessageSize)
	if err != nil {
		return "", fmt.Errorf("smtpqueue: enqueue: %w", err)
	}
	e := &entry{rec: rec, off: off, size: size, st: initialState(rec, now), heapIdx: -1}
	q.mu.Lock()
	q.entries[rec.ID] = e
	heap.Push(&q.due, e)
	q.stats.Queued++
	q.mu.Unlock()
	q.kick()
	q.log.Info("smtpqueue: queued", "id", rec.ID, "from", rec.From, "rcpts", len(rec.To), "size", size, "kind", string(kind))
	return rec.ID, nil
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

func (q *Queue) kick() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run delivers queued messages until ctx is done, then waits for the
// deliveries in progress (which see ctx cancelled) and returns ctx's
// error. Call it once, typically in its own goroutine.
func (q *Queue) Run(ctx context.Context) error {
	for {
		q.mu.Lock()
		now := q.clock.Now()
		for !q.closed && q.due.Len() > 0 && !q.due[0].st.NextAttempt.After(now) && q.active < q.opts.MaxDeliveries {
			e := heap.Pop(&q.due).(*entry)
			e.busy = true
			q.active++
			q.workers.Add(1)
			go q.attempt(ctx, e)
		}
		var timer <-chan time.Time
		if !q.closed && q.due.Len() > 0 && q.active < q.opts.MaxDeliveries {
			next := q.due[0].st.NextAttempt
			timer = q.clock.After(next.Sub(now))
			if !q.clock.Now().Before(next) {
				// The clock moved past next while the timer was set up.
				q.mu.Unlock()
				continue
			}
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			q.workers.Wait()
			if c, ok := q.tr.(interface{ CloseIdle() }); ok {
				c.CloseIdle()
			}
			return ctx.Err()
		case <-timer:
		case <-q.wake:
		}
	}
}

// Close stops Enqueue from accepting messages and releases the
// directory. Stop Run through its context first.
func (q *Queue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil
	}
	q.closed = true
	if q.active == 0 && len(q.entries) > 0 {
		// Nothing runs and nothing can be enqueued: snapshot the index
		// for a fast Open (index.go). Failing costs only speed.
		if err := q.st.writeIndex(q.entries); err != nil {
			q.log.Warn("smtpqueue: cannot write the index; the next Open reads every file", "err", err)
		}
	}
	return q.lock.Close()
}

// dueHeap orders the messages waiting for an attempt by their time.
type dueHeap []*entry

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	return h[i].st.NextAttempt.Before(h[j].st.NextAttempt)
}
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}
func (h *dueHeap) Push(x any) {
	e := x.(*entry)
	e.heapIdx = len(*h)
	*h = append(*h, e)
}
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.heapIdx = -1
	return e
}

func (h *dueHeap) fix(i int) { heap.Fix(h, i) }
