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
	"github.com/posthorn/posthorn/internal/imapwire"
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
	UID         uint32
}

// Append adds a message of size octets read from r to a mailbox
// (RFC 9051 §6.3.12). The message is streamed: with LITERAL+ (or LITERAL-
// and at most 4096 octets) without waiting, otherwise after the server's
// continuation request. If ctx ends while the message is being sent the
// connection is closed, since a literal cannot be cut short.
func (c *Client) Append(ctx context.Context, mailbox string, size int64, r io.Reader, opts *AppendOptions) (*AppendData, error) {
	if opts == nil {
		opts = &AppendOptions{}
	}
	b := c.appendMailbox([]byte("APPEND "), mailbox)
	if len(opts.Flags) > 0 {
		b = append(b, " ("...)
		for i, f := range opts.Flags {
			if !imap.ValidStoreFlag(f) {
				return nil, errors.New("imapclient: invalid flag for APPEND: " + string(f))
			}
			if i > 0 {
				b = append(b, ' ')
			}
			b = append(b, f...)
		}
		b = append(b, ')')
	}
	if !opts.Time.IsZero() {
		b = append(b, ' ')
		b = imapwire.AppendDateTime(b, opts.Time)
	}
	b = append(b, ' ')
	if opts.Binary {
		b = append(b, '~')
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
	err = c.writeAppend(ctx, cmd, b, size, r)
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
		f := strings.Fields(cmd.resp.arg)
		if len(f) == 2 {
			v, _ := strconv.ParseUint(f[0], 10, 32)
			u, _ := strconv.ParseUint(f[1], 10, 32)
			d.UIDValidity, d.UID = uint32(v), uint32(u)
		}
	}
	return d, nil
}

func (c *Client) writeAppend(ctx context.Context, cmd *command, line []byte, size int64, r io.Reader) error {
	w := c.bw
	w.WriteString(cmd.tag)
	w.WriteByte(' ')
	w.Write(line)
	w.WriteByte('{')
	w.WriteString(strconv.FormatInt(size, 10))
	if c.nonSyncOK(size) {
		w.WriteString("+}\r\n")
	} else {
		w.WriteString("}\r\n")
		if err := c.waitContinuation(ctx, cmd); err != nil {
			return err
		}
	}
	n, err := io.CopyN(w, ctxReader{ctx, r}, size)
	if err != nil {
		if err == io.EOF {
			return fmt.Errorf("imapclient: APPEND message shorter (%d) than its size (%d)", n, size)
		}
		return err
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
