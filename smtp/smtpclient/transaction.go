package smtpclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/lineio"
	"github.com/posthorn/posthorn/smtp"
)

// parseAddr parses an address given by the caller; "" is the null path
// (allowed only for a sender) and "Postmaster" the special recipient.
// What ParseMailbox accepts always formats back into a valid path (the
// package smtp fuzz tests check it), so nothing else can reach the wire.
func parseAddr(s string, sender bool) (smtp.Mailbox, error) {
	if s == "" {
		if sender {
			return smtp.Mailbox{}, nil
		}
		return smtp.Mailbox{}, &smtp.AddressError{Addr: s, Reason: "empty recipient"}
	}
	if !sender && strings.EqualFold(s, "postmaster") {
		return smtp.Mailbox{Local: s}, nil
	}
	return smtp.ParseMailbox(s)
}

// appendMail appends "MAIL FROM:<from> params CRLF" to b after
// validating everything.
func appendMail(b []byte, from string, opts *smtp.MailOptions) ([]byte, error) {
	m, err := parseAddr(from, true)
	if err != nil {
		return b, err
	}
	b = append(b, "MAIL FROM:<"...)
	b = m.AppendTo(b)
	b = append(b, '>')
	if opts != nil {
		if b, err = opts.AppendParams(b); err != nil {
			return b, err
		}
	}
	return append(b, '\r', '\n'), nil
}

// appendRcpt appends "RCPT TO:<to> params CRLF" to b.
func appendRcpt(b []byte, to string, opts *smtp.RcptOptions) ([]byte, error) {
	m, err := parseAddr(to, false)
	if err != nil {
		return b, err
	}
	b = append(b, "RCPT TO:<"...)
	b = m.AppendTo(b)
	b = append(b, '>')
	if opts != nil {
		if b, err = opts.AppendParams(b); err != nil {
			return b, err
		}
	}
	return append(b, '\r', '\n'), nil
}

// cmdLine sends a ready line (with CRLF) and reads the reply.
func (c *Client) cmdLine(ctx context.Context, timeout time.Duration, line []byte) (*smtp.Reply, error) {
	if c.broken != nil {
		return nil, ErrClosed
	}
	stop := c.watch(ctx)
	_, err := c.bw.Write(line)
	if err == nil {
		err = c.flush(ctx, timeout)
	}
	var r *smtp.Reply
	if err == nil {
		r, err = c.readReply(ctx, timeout)
	}
	if err == nil {
		err = r.Err()
	}
	return r, c.done(ctx, stop, err)
}

// Mail sends MAIL FROM (RFC 5321 §4.1.1.2). from "" is the null
// reverse-path. Parameters are checked, never passed through raw.
func (c *Client) Mail(ctx context.Context, from string, opts *smtp.MailOptions) error {
	if err := c.ensureHello(ctx); err != nil {
		return err
	}
	line, err := appendMail(c.lineBuf[:0], from, opts)
	if err != nil {
		return err
	}
	c.lineBuf = line
	c.accepted = c.accepted[:0]
	_, err = c.cmdLine(ctx, c.to.Mail, line)
	return err
}

// Rcpt sends RCPT TO (RFC 5321 §4.1.1.3).
func (c *Client) Rcpt(ctx context.Context, to string, opts *smtp.RcptOptions) error {
	line, err := appendRcpt(c.lineBuf[:0], to, opts)
	if err != nil {
		return err
	}
	c.lineBuf = line
	if _, err = c.cmdLine(ctx, c.to.Rcpt, line); err != nil {
		return err
	}
	c.accepted = append(c.accepted, to)
	return nil
}

// DataWriter is the message body being sent after DATA. Write dot-stuffs
// and turns bare CR or LF into CRLF; Close ends the body and reads the
// result.
type DataWriter struct {
	c   *Client
	ctx context.Context
	dw  *lineio.DotWriter
	err error
}

// Data sends DATA (RFC 5321 §4.1.1.4) and returns a writer for the body.
func (c *Client) Data(ctx context.Context) (*DataWriter, error) {
	if _, err := c.cmd(ctx, c.to.DataInit, "DATA"); err != nil {
		return nil, err
	}
	return &DataWriter{c: c, ctx: ctx, dw: lineio.NewDotWriter(&blockWriter{c: c, ctx: ctx})}, nil
}

// blockWriter writes message data with the data-block timeout.
type blockWriter struct {
	c   *Client
	ctx context.Context
}

func (w *blockWriter) Write(p []byte) (int, error) {
	if w.c.bw.Available() < len(p) {
		_ = w.c.conn.SetWriteDeadline(w.c.deadline(w.ctx, w.c.to.DataBlock))
	}
	return w.c.bw.Write(p)
}

// Write writes message data.
func (d *DataWriter) Write(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	stop := d.c.watch(d.ctx)
	n, err := d.dw.Write(p)
	if err != nil {
		d.err = d.c.done(d.ctx, stop, err)
		return n, d.err
	}
	stop()
	return n, nil
}

// Close writes the end of data and waits for the server's verdict: nil
// when accepted. In LMTP mode it reads one reply per accepted recipient
// and returns a *RecipientErrors when any failed.
func (d *DataWriter) Close() error {
	if d.err != nil {
		return d.err
	}
	c := d.c
	stop := c.watch(d.ctx)
	err := d.dw.Close()
	if err == nil {
		err = c.flush(d.ctx, c.to.DataBlock)
	}
	if err != nil {
		return c.done(d.ctx, stop, err)
	}
	results, err := c.readFinal(d.ctx)
	err = c.done(d.ctx, stop, err)
	if err != nil {
		return err
	}
	return resultsErr(results)
}

// readFinal reads the replies after the end of a message: one, or one
// per accepted recipient in LMTP (RFC 2033 §4.2).
func (c *Client) readFinal(ctx context.Context) ([]RecipientResult, error) {
	n := 1
	if c.opts.LMTP {
		n = len(c.accepted)
	}
	// The slice is reused by the next message; callers copy what they keep.
	out := c.final[:0]
	for i := 0; i < n; i++ {
		r, err := c.readReply(ctx, c.to.DataTerm)
		if err != nil {
			return nil, err
		}
		rr := RecipientResult{Err: r.Err()}
		if c.opts.LMTP {
			rr.Recipient = c.accepted[i]
		}
		out = append(out, rr)
	}
	c.final = out
	c.accepted = c.accepted[:0]
	return out, nil
}

// RecipientResult is the outcome of a message for one recipient.
type RecipientResult struct {
	// Recipient is the address as given.
	Recipient string
	// Err is nil when the server accepted (SMTP) or delivered (LMTP) the
	// message for this recipient; otherwise an *smtp.Error or the local
	// reason.
	Err error
}

// RecipientErrors reports that some recipients failed.
type RecipientErrors []RecipientResult

// Error implements error.
func (e RecipientErrors) Error() string {
	var b strings.Builder
	b.WriteString("smtpclient: ")
	n := 0
	for _, r := range e {
		if r.Err == nil {
			continue
		}
		if n > 0 {
			b.WriteString("; ")
		}
		n++
		fmt.Fprintf(&b, "<%s>: %v", r.Recipient, r.Err)
	}
	return b.String()
}

// Unwrap returns the recipients' errors, so errors.As finds an *smtp.Error.
func (e RecipientErrors) Unwrap() []error {
	var out []error
	for _, r := range e {
		if r.Err != nil {
			out = append(out, r.Err)
		}
	}
	return out
}

func resultsErr(rs []RecipientResult) error {
	if len(rs) == 1 && rs[0].Recipient == "" {
		return rs[0].Err
	}
	for _, r := range rs {
		if r.Err != nil {
			return RecipientErrors(append([]RecipientResult(nil), rs...))
		}
	}
	return nil
}

// Bdat sends one BDAT chunk (RFC 3030 §2); last ends the message. The
// reply to the last chunk is the server's verdict (one per recipient in
// LMTP, as with DataWriter.Close).
func (c *Client) Bdat(ctx context.Context, chunk []byte, last bool) error {
	if _, ok := c.ext["CHUNKING"]; !ok {
		return errors.New("smtpclient: server does not offer CHUNKING")
	}
	if c.broken != nil {
		return ErrClosed
	}
	stop := c.watch(ctx)
	hdr := "BDAT " + strconv.Itoa(len(chunk))
	if last {
		hdr += " LAST"
	}
	_ = c.writeLine(hdr)
	_ = c.conn.SetWriteDeadline(c.deadline(ctx, c.to.DataBlock))
	_, err := c.bw.Write(chunk)
	if err == nil {
		err = c.bw.Flush()
	}
	if err != nil {
		return c.done(ctx, stop, err)
	}
	if !last {
		r, err := c.readReply(ctx, c.to.DataBlock)
		if err == nil {
			err = r.Err()
		}
		return c.done(ctx, stop, err)
	}
	results, err := c.readFinal(ctx)
	if err = c.done(ctx, stop, err); err != nil {
		return err
	}
	return resultsErr(results)
}

var _ io.WriteCloser = (*DataWriter)(nil)
