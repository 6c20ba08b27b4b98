package dns

import (
	"context"
	"sync"
	"time"
)

// WithTimeout is context.WithTimeout for evaluations that usually finish
// from the cache: neither the clock is read nor a timer made until
// something asks for the deadline (Deadline, Done or Err), which only a
// query that goes to the network does. The timeout so counts from the
// first network query of the evaluation rather than from its start,
// which differs by the microseconds of the work answered from the cache
// before it. An SPF or DMARC check answered from the cache so costs no
// clock read and no timer. Call stop when done, as with a CancelFunc. A
// parent deadline that comes first is kept as it is.
func WithTimeout(parent context.Context, d time.Duration) (ctx context.Context, stop func()) {
	l := &lazyDeadline{Context: parent, timeout: d}
	return l, l.stop
}

// lazyDeadline is a context whose deadline and timer are made on first
// use.
type lazyDeadline struct {
	context.Context
	timeout  time.Duration
	once     sync.Once
	deadline time.Time
	ctx      context.Context
	cancel   context.CancelFunc
	stopped  bool // stop came before any use
}

// closedChan is the Done channel of a context stopped before use.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func (l *lazyDeadline) init() {
	l.once.Do(func() {
		l.deadline = time.Now().Add(l.timeout)
		if dl, ok := l.Context.Deadline(); ok && !dl.After(l.deadline) {
			l.deadline, l.ctx, l.cancel = dl, l.Context, func() {}
			return
		}
		l.ctx, l.cancel = context.WithDeadline(l.Context, l.deadline)
	})
}

func (l *lazyDeadline) Deadline() (time.Time, bool) {
	l.init()
	if l.stopped {
		return time.Time{}, false
	}
	return l.deadline, true
}

func (l *lazyDeadline) Done() <-chan struct{} {
	l.init()
	if l.stopped {
		return closedChan
	}
	return l.ctx.Done()
}

func (l *lazyDeadline) Err() error {
	l.init()
	if l.stopped {
		return context.Canceled
	}
	return l.ctx.Err()
}

func (l *lazyDeadline) stop() {
	l.once.Do(func() { l.stopped = true }) // nothing started: nothing to stop
	if l.cancel != nil {
		l.cancel()
	}
}
