package pop3client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/posthorn/posthorn/internal/lineio"
	"github.com/posthorn/posthorn/pop3"
)

// MessageInfo is one line of a LIST or UIDL listing.
type MessageInfo struct {
	// Num is the message number in this session.
	Num int
	// Size is the size in octets (LIST); -1 when unknown.
	Size int64
	// UID is the unique-id (UIDL); "" when unknown.
	UID string
}

// Stat returns the number of messages and their total size (RFC 1939 §5).
func (c *Client) Stat(ctx context.Context) (count int, size int64, err error) {
	r, err := c.simple(ctx, "STAT")
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(r.Text)
	if len(f) < 2 {
		return 0, 0, c.fail(ctx, &pop3.SyntaxError{What: "response", Msg: "STAT reply without count and size"})
	}
	count, err1 := strconv.Atoi(f[0])
	size, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || count < 0 || size < 0 {
		return 0, 0, c.fail(ctx, &pop3.SyntaxError{What: "response", Msg: "STAT reply malformed"})
	}
	return count, size, nil
}

// List returns the number and size of every message not marked deleted
// (RFC 1939 §5).
func (c *Client) List(ctx context.Context) ([]MessageInfo, error) {
	return c.listing(ctx, "LIST", false)
}

// Uidl returns the number and unique-id of every message not marked
// deleted (RFC 1939 §7).
func (c *Client) Uidl(ctx context.Context) ([]MessageInfo, error) {
	return c.listing(ctx, "UIDL", true)
}

// ListOne returns the size of message n.
func (c *Client) ListOne(ctx context.Context, n int) (int64, error) {
	r, err := c.simple(ctx, "LIST %d", n)
	if err != nil {
		return 0, err
	}
	mi, perr := parseItem([]byte(r.Text), false)
	if perr != nil {
		return 0, c.fail(ctx, perr)
	}
	return mi.Size, nil
}

// UidlOne returns the unique-id of message n.
func (c *Client) UidlOne(ctx context.Context, n int) (string, error) {
	r, err := c.simple(ctx, "UIDL %d", n)
	if err != nil {
		return "", err
	}
	mi, perr := parseItem([]byte(r.Text), true)
	if perr != nil {
		return "", c.fail(ctx, perr)
	}
	return mi.UID, nil
}

func (c *Client) listing(ctx context.Context, cmd string, uidl bool) ([]MessageInfo, error) {
	var out []MessageInfo
	err := c.do(ctx, func() error {
		if err := c.writeCmd("%s", cmd); err != nil {
			return err
		}
		if err := c.bw.Flush(); err != nil {
			return err
		}
		return c.readListing(uidl, &out)
	})
	return out, err
}

func (c *Client) readListing(uidl bool, out *[]MessageInfo) error {
	if _, err := c.readOK(); err != nil {
		return err
	}
	return c.readLines(func(line []byte) error {
		mi, err := parseItem(line, uidl)
		if err != nil {
			return err
		}
		*out = append(*out, mi)
		return nil
	})
}

// parseItem parses "n size" or "n uid" (RFC 1939 §5 scan listing, §7
// unique-id listing); text after them is ignored.
func parseItem(line []byte, uidl bool) (MessageInfo, error) {
	f := bytes.Fields(line)
	bad := &pop3.SyntaxError{What: "listing", Msg: fmt.Sprintf("%.40q", line)}
	if len(f) < 2 {
		return MessageInfo{}, bad
	}
	n, ok := pop3.ParseMsgNum(string(f[0]))
	if !ok {
		return MessageInfo{}, bad
	}
	mi := MessageInfo{Num: n, Size: -1}
	if uidl {
		mi.UID = string(f[1])
		return mi, nil
	}
	size, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil || size < 0 {
		return MessageInfo{}, bad
	}
	mi.Size = size
	return mi, nil
}

// Retr retrieves message n (RFC 1939 §5). The returned reader streams the
// message off the socket, dot-unstuffed, with the lines exactly as sent
// (CRLF). It must be read to io.EOF or closed before the next command;
// Close discards the rest. ctx keeps watching the socket until then.
func (c *Client) Retr(ctx context.Context, n int) (io.ReadCloser, error) {
	return c.body(ctx, fmt.Sprintf("RETR %d", n))
}

// Top retrieves the header and the first lines of the body of message n
// (RFC 1939 §7), as Retr does.
func (c *Client) Top(ctx context.Context, n, lines int) (io.ReadCloser, error) {
	if lines < 0 {
		return nil, fmt.Errorf("pop3client: negative line count")
	}
	return c.body(ctx, fmt.Sprintf("TOP %d %d", n, lines))
}

func (c *Client) body(ctx context.Context, cmd string) (io.ReadCloser, error) {
	if c.broken != nil {
		return nil, c.broken
	}
	if c.busy {
		return nil, ErrBusy
	}
	if _, err := c.simple(ctx, "%s", cmd); err != nil {
		return nil, err
	}
	c.busy = true
	m := &msgReader{c: c, ctx: ctx}
	m.dr = lineio.NewDotReader(c.br, lineio.DotOptions{Policy: lineio.NormalizeBareEOL, MaxSize: c.opts.MaxMessageSize})
	m.stop = c.watch(ctx)
	return m, nil
}

// msgReader streams one multi-line body and frees the Client at its end.
type msgReader struct {
	c    *Client
	ctx  context.Context
	dr   *lineio.DotReader
	stop func()
	done bool
	err  error
}

func (m *msgReader) Read(p []byte) (int, error) {
	if m.done {
		if m.err != nil {
			return 0, m.err
		}
		return 0, io.EOF
	}
	n, err := m.dr.Read(p)
	if err != nil {
		m.finish(err)
		if m.err != nil {
			return n, m.err
		}
	}
	return n, err
}

// Close discards the rest of the body, so the next command stays in step.
func (m *msgReader) Close() error {
	if m.done {
		return nil
	}
	err := m.dr.Close()
	if err == nil {
		err = io.EOF
	}
	m.finish(err)
	return m.err
}

func (m *msgReader) finish(err error) {
	m.done = true
	m.stop()
	m.c.busy = false
	if err == io.EOF {
		return
	}
	var tooLarge *lineio.TooLargeError
	if errors.As(err, &tooLarge) {
		// The body was consumed to its end: the session is still in step.
		m.err = err
		return
	}
	m.err = m.c.fail(m.ctx, err)
}
