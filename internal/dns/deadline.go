package dns

import (
	"context"
	"sync"
	"time"
)

// WithTimeout is context.WithTimeout for evaluations that usually finish
// from the cache: the returned context reports the deadline at once, but
// starts its timer only when something waits on it (Done or Err), which
// only a query that goes to the network does. An SPF or DMARC check
// answered from the cache so costs no timer. Call stop when done, as with
// a CancelFunc. A parent deadline that comes first is kept as it is.
func WithTimeout(parent context.Context, d time.Duration) (ctx context.Context, stop func()) {
	deadline := time.Now().Add(d)
	if dl, ok := parent.Deadline(); ok && !dl.After(deadline) {
		return parent, func() {}
	}
	l := &lazyDeadline{Context: parent, deadline: deadline}
	return l, l.stop
}

// lazyDeadline is a context whose deadline timer is made on first use.
type lazyDeadline struct {
	context.Context
	deadline time.Time
	once     sync.Once
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
	l.once.Do(func() { l.ctx, l.cancel = context.WithDeadline(l.Context, l.deadline) })
}

func (l *lazyDeadline) Deadline() (time.Time, bool) { return l.deadline, true }

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
