package imapclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/internal/imapwire"
)

// AppendOptions adjust APPEND.
type AppendOptions struct {
	Flags []imap.Flag
	// Time is the internal date; zero lets the server choose.
	Time time.Time
	// Binary sends the message as literal8 (RFC 3516 §4.3), for
	// messages with NUL or unencoded binary content.
	Binary bool
}

// AppendData is the APPENDUID response code (RFC 4315 §3), zero when
// the server sent none.
type AppendData struct {
	UIDValidity uint32
	// UID is the UID of the (first) message appended.
	UID uint32
	// UIDs holds the UIDs of every message appended, in the order the
	// messages were given (for MULTIAPPEND, RFC 4315 §3 sends a set such
	// as "3955:3957").
	UIDs imap.NumSet
}

// AppendMessage is one message of AppendMulti.
type AppendMessage struct {
	// Size is the exact number of octets Body yields.
	Size int64
	Body io.Reader
	// Options may be nil.
	Options *AppendOptions
}

// Append adds a message of size octets read from r to a mailbox
// (RFC 9051 §6.3.12). The message is streamed: with LITERAL+ (or LITERAL-
// and at most 4096 octets) without waiting, otherwise after the server's
// continuation request. If ctx ends while the message is being sent the
// connection is closed, since a literal cannot be cut short.
func (c *Client) Append(ctx context.Context, mailbox string, size int64, r io.Reader, opts *AppendOptions) (*AppendData, error) {
	return c.appendCmd(ctx, mailbox, []AppendMessage{{Size: size, Body: r, Options: opts}})
}

// AppendMulti adds several messages to a mailbox with one APPEND command
// when the server offers MULTIAPPEND (RFC 3502): the server adds all of
// them or none. Without MULTIAPPEND the messages are appended one APPEND
// at a time, and a failure part-way leaves the earlier ones in the
// mailbox. The returned AppendData lists the new UIDs in order when the
// server offers UIDPLUS. Cancellation works as for Append.
func (c *Client) AppendMulti(ctx context.Context, mailbox string, msgs []AppendMessage) (*AppendData, error) {
	if len(msgs) == 0 {
		return nil, errors.New("imapclient: AppendMulti without messages")
	}
	if len(msgs) == 1 || c.Has(ctx, "MULTIAPPEND") {
		return c.appendCmd(ctx, mailbox, msgs)
	}
	all := &AppendData{}
	for i := range msgs {
		d, err := c.appendCmd(ctx, mailbox, msgs[i:i+1])
		if err != nil {
			return all, err
		}
		if i == 0 {
			all.UIDValidity, all.UID = d.UIDValidity, d.UID
		}
		if d.UID != 0 && d.UIDValidity == all.UIDValidity {
			all.UIDs.AddNum(d.UID)
		}
	}
	return all, nil
}

// appendCmd writes one APPEND command with one literal per message
// (RFC 3502 §6.3.11: append-message *(SP append-message)).
func (c *Client) appendCmd(ctx context.Context, mailbox string, msgs []AppendMessage) (*AppendData, error) {
	heads := make([][]byte, len(msgs))
	for i, m := range msgs {
		h, err := appendMessageHead(m.Options)
		if err != nil {
			return nil, err
		}
		heads[i] = h
	}
	c.Has(ctx, "LITERAL+") // learn the capabilities before taking the write lock
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.wmu.Lock()
	cmd, err := c.newCommand("APPEND", nil)
	if err != nil {
		c.wmu.Unlock()
		return nil, err
	}
	undo := c.writeCtx(ctx)
	prefix := newLine("APPEND ")
	c.appendMailbox(prefix, mailbox)
	err = c.writeAppend(ctx, cmd, prefix, heads, msgs)
	undo()
	c.wmu.Unlock()
	if err != nil {
		if isImapError(err) {
			return nil, err
		}
		// The literal may be cut short: the stream is out of step.
		return nil, c.writeFailed(ctx, err)
	}
	if err := c.wait(ctx, cmd); err != nil {
		return nil, err
	}
	d := &AppendData{}
	if cmd.resp.code == imap.CodeAppendUID {
		d = parseAppendUID(cmd.resp.arg)
	}
	return d, nil
}

// appendMessageHead is " [flag-list] [date-time] " before a message's
// literal.
func appendMessageHead(opts *AppendOptions) ([]byte, error) {
	if opts == nil {
		opts = &AppendOptions{}
	}
	b := make([]byte, 0, 48)
	b = append(b, ' ')
	if len(opts.Flags) > 0 {
		b = append(b, '(')
		for i, f := range opts.Flags {
			if !imap.ValidStoreFlag(f) {
				return nil, errors.New("imapclient: invalid flag for APPEND: " + string(f))
			}
			if i > 0 {
				b = append(b, ' ')
			}
			b = append(b, f...)
		}
		b = append(b, ") "...)
	}
	if !opts.Time.IsZero() {
		b = imapwire.AppendDateTime(b, opts.Time)
		b = append(b, ' ')
	}
	if opts.Binary {
		b = append(b, '~')
	}
	return b, nil
}

// parseAppendUID reads "uidvalidity uid-set" (RFC 4315 §3).
func parseAppendUID(arg string) *AppendData {
	d := &AppendData{}
	f := strings.Fields(arg)
	if len(f) != 2 {
		return d
	}
	v, err := strconv.ParseUint(f[0], 10, 32)
	if err != nil {
		return d
	}
	set, err := imap.ParseNumSet(f[1])
	if err != nil || set.Dynamic() || len(set.Ranges) == 0 {
		return d
	}
	d.UIDValidity, d.UIDs, d.UID = uint32(v), set, set.Ranges[0].Start
	return d
}

// writeAppend writes the command line: prefix, then each message's head
// and literal. Each synchronising literal waits for its own continuation
// request (RFC 9051 §7.5); a tagged NO instead ends the command.
func (c *Client) writeAppend(ctx context.Context, cmd *command, prefix *imapwire.Command, heads [][]byte, msgs []AppendMessage) error {
	w := c.bw
	w.WriteString(cmd.tag)
	w.WriteByte(' ')
	if err := c.writeLine(ctx, cmd, prefix); err != nil {
		return err
	}
	for i, m := range msgs {
		w.Write(heads[i])
		w.WriteByte('{')
		w.WriteString(strconv.FormatInt(m.Size, 10))
		if c.nonSyncOK(m.Size) {
			w.WriteString("+}\r\n")
		} else {
			w.WriteString("}\r\n")
			if err := c.waitContinuation(ctx, cmd); err != nil {
				return err
			}
		}
		n, err := io.CopyN(w, ctxReader{ctx, m.Body}, m.Size)
		if err != nil {
			if err == io.EOF {
				return fmt.Errorf("imapclient: APPEND message %d shorter (%d) than its size (%d)", i+1, n, m.Size)
			}
			return err
		}
	}
	w.WriteString("\r\n")
	return w.Flush()
}

// ctxReader stops a copy when ctx ends between reads.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
