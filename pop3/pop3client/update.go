package pop3client

import (
	"context"
	"fmt"

	"github.com/posthorn/posthorn/pop3"
)

// Dele marks message n deleted; the server removes it when Quit succeeds
// (RFC 1939 §5, §6).
func (c *Client) Dele(ctx context.Context, n int) error {
	_, err := c.simple(ctx, "DELE %d", n)
	return err
}

// DeleMany marks several messages deleted. When the server advertises
// PIPELINING (RFC 2449 §6.6) the commands go out in one write. It returns
// the first -ERR, after reading every reply.
func (c *Client) DeleMany(ctx context.Context, nums []int) error {
	caps, err := c.capabilities(ctx)
	if err != nil {
		return err
	}
	if !caps.Has("PIPELINING") {
		for _, n := range nums {
			if err := c.Dele(ctx, n); err != nil {
				return err
			}
		}
		return nil
	}
	return c.do(ctx, func() error {
		for _, n := range nums {
			c.writeCmd("DELE %d", n)
		}
		if err := c.bw.Flush(); err != nil {
			return err
		}
		var first error
		for range nums {
			if _, err := c.readOK(); err != nil {
				if _, isErr := pop3.AsError(err); !isErr {
					return err
				}
				if first == nil {
					first = err
				}
			}
		}
		return first
	})
}

// Rset unmarks all messages marked deleted (RFC 1939 §5).
func (c *Client) Rset(ctx context.Context) error {
	_, err := c.simple(ctx, "RSET")
	return err
}

// Noop does nothing; it keeps the session alive (RFC 1939 §5).
func (c *Client) Noop(ctx context.Context) error {
	_, err := c.simple(ctx, "NOOP")
	return err
}

// Quit ends the session. In the TRANSACTION state the server removes the
// messages marked deleted; an error means they may not have been removed
// (RFC 1939 §6). The connection is closed in every case.
func (c *Client) Quit(ctx context.Context) error {
	_, err := c.simple(ctx, "QUIT")
	if cerr := c.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("pop3client: closing after QUIT: %w", cerr)
	}
	return err
}
