package imapclient

import (
	"bufio"
	"compress/flate"
	"context"
	"errors"
	"io"

	"github.com/posthorn/posthorn/internal/wiretrace"
)

// Compress turns on COMPRESS=DEFLATE (RFC 4978): both directions are
// compressed with raw DEFLATE from the server's OK on. The client flushes
// the compressor at the end of every write (RFC 4978 §4, Z_SYNC_FLUSH), so
// commands are never held back. It cannot be undone.
func (c *Client) Compress(ctx context.Context) error {
	if !c.Has(ctx, "COMPRESS=DEFLATE") {
		return errors.New("imapclient: server does not offer COMPRESS=DEFLATE")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	cmd, err := c.sendPausing(ctx, "COMPRESS", "COMPRESS DEFLATE")
	if err != nil {
		return err
	}
	// Unlike STARTTLS, what the old reader holds beyond the OK is already
	// compressed data: the inflater reads on from it.
	zr := flate.NewReader(c.br)
	zw, err := flate.NewWriter(c.currentConn(), flate.DefaultCompression)
	if err != nil {
		c.fail(err)
		close(cmd.pause)
		return err
	}
	c.bw.Reset(c.trace.Writer(&flushWriter{zw}))
	wiretrace.Stop(c.tr) // the trace follows the inflated stream
	c.tr = c.trace.Reader(zr)
	c.br = bufio.NewReaderSize(c.tr, 32<<10)
	cmd.pause <- c.br
	return nil
}

// flushWriter flushes the compressor after each write, which bufio makes
// once per Flush of a command.
type flushWriter struct{ zw *flate.Writer }

func (w *flushWriter) Write(p []byte) (int, error) {
	n, err := w.zw.Write(p)
	if err != nil {
		return n, err
	}
	return n, w.zw.Flush()
}

var _ io.Writer = (*flushWriter)(nil)

// sendPausing sends a command after whose tagged OK the connection changes
// under the reader goroutine (STARTTLS, COMPRESS): the reader stops after
// the OK and waits on cmd.pause for the caller to hand it a new reader. It
// returns once the OK has arrived; on any failure the reader is released
// or the connection failed. The caller holds c.wmu and keeps it until it
// has sent the new reader on cmd.pause.
func (c *Client) sendPausing(ctx context.Context, name, line string) (*command, error) {
	cmd, err := c.newCommand(name, nil)
	if err != nil {
		return nil, err
	}
	cmd.pause = make(chan *bufio.Reader)
	undo := c.writeCtx(ctx)
	err = c.sendLine(ctx, cmd, newLine(line))
	undo()
	if err != nil {
		return nil, c.writeFailed(ctx, err)
	}
	select {
	case <-cmd.done:
	case <-ctx.Done():
		c.fail(ctx.Err())
		close(cmd.pause)
		return nil, ctx.Err()
	}
	if err := cmd.result(); err != nil {
		return nil, err
	}
	return cmd, nil
}
