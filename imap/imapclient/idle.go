package imapclient

import (
	"context"
	"sync"
	"time"
)

// IdleCommand is an IDLE in progress (RFC 9051 §6.3.13, RFC 2177).
// While it runs, updates reach the Handler and the mailbox state; other
// commands wait until Done is called, since none may be sent during IDLE.
type IdleCommand struct {
	c    *Client
	cmd  *command
	once sync.Once
	err  error
}

// Idle starts IDLE and returns once the server accepted it.
func (c *Client) Idle(ctx context.Context) (*IdleCommand, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.wmu.Lock()
	cmd, err := c.newCommand("IDLE", nil)
	if err != nil {
		c.wmu.Unlock()
		return nil, err
	}
	undo := c.writeCtx(ctx)
	c.bw.WriteString(cmd.tag)
	c.bw.WriteString(" IDLE\r\n")
	_, err = c.continuation(ctx, cmd)
	undo()
	if err != nil {
		c.wmu.Unlock()
		if isImapError(err) {
			return nil, err
		}
		if ctx.Err() != nil {
			// The server may still answer "+"; we cannot tell when, so
			// the connection is closed rather than left in doubt.
			c.fail(ctx.Err())
			return nil, ctx.Err()
		}
		return nil, c.writeFailed(ctx, err)
	}
	return &IdleCommand{c: c, cmd: cmd}, nil
}

// Done ends IDLE (sends DONE) and waits for the server's completion. It
// may be called more than once; later calls return the first result.
func (ic *IdleCommand) Done(ctx context.Context) error {
	ic.once.Do(func() {
		c := ic.c
		undo := c.writeCtx(ctx)
		c.bw.WriteString("DONE\r\n")
		err := c.bw.Flush()
		undo()
		c.wmu.Unlock()
		if err != nil {
			ic.err = c.writeFailed(ctx, err)
			return
		}
		ic.err = c.wait(ctx, ic.cmd)
	})
	return ic.err
}

// IdleOptions adjust IdleLoop. The zero value works.
type IdleOptions struct {
	// Restart is how long one IDLE lasts before it is restarted, to stay
	// under the servers' inactivity timeout of at least 30 minutes
	// (RFC 9051 §5.4, RFC 2177). Default 28 minutes.
	Restart time.Duration
	// PollInterval is the NOOP interval used when the server does not
	// offer IDLE. Default 1 minute.
	PollInterval time.Duration
}

// IdleLoop waits for updates until ctx ends, with IDLE (restarted every
// Restart) or, when the server lacks IDLE, NOOP every PollInterval.
// Updates reach the Handler. When ctx ends, IDLE is ended with DONE so
// the connection stays usable, and ctx's error is returned.
func (c *Client) IdleLoop(ctx context.Context, opts *IdleOptions) error {
	var o IdleOptions
	if opts != nil {
		o = *opts
	}
	if o.Restart <= 0 {
		o.Restart = 28 * time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Minute
	}
	if !c.Has(ctx, "IDLE") {
		t := time.NewTicker(o.PollInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-c.closedCh:
				return c.Err()
			case <-t.C:
				if err := c.Noop(ctx); err != nil {
					return err
				}
			}
		}
	}
	for {
		ic, err := c.Idle(ctx)
		if err != nil {
			return err
		}
		t := time.NewTimer(o.Restart)
		select {
		case <-ctx.Done():
			t.Stop()
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			err := ic.Done(dctx)
			cancel()
			if err != nil {
				return err
			}
			return ctx.Err()
		case <-c.closedCh:
			t.Stop()
			return c.Err()
		case <-t.C:
			if err := ic.Done(ctx); err != nil {
				return err
			}
		}
	}
}
