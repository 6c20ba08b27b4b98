package pop3server

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"io/fs"

	"github.com/posthorn/posthorn/pop3"
)

// msgArg resolves a message-number argument. It answers -ERR itself and
// returns -1 when the number is malformed, out of range or deleted
// (RFC 1939 §5: "may NOT refer to a message marked as deleted").
func (c *conn) msgArg(arg string) int {
	n, ok := pop3.ParseMsgNum(arg)
	if !ok {
		c.reply("-ERR invalid message number")
		return -1
	}
	if n > len(c.msgs) {
		c.reply("-ERR no such message")
		return -1
	}
	if c.deleted[n-1] {
		c.reply("-ERR message already deleted")
		return -1
	}
	return n - 1
}

// cmdStat answers STAT with the messages not marked deleted (RFC 1939 §5).
func (c *conn) cmdStat(cmd pop3.Command) {
	if len(cmd.Args) != 0 {
		c.reply("-ERR STAT takes no argument")
		return
	}
	var n int
	var size int64
	for i, m := range c.msgs {
		if !c.deleted[i] {
			n++
			size += m.Size
		}
	}
	// RFC 1939 §5: clients parse the drop listing; never translated.
	c.replyRaw("+OK %d %d", n, size)
}

// cmdList answers LIST (RFC 1939 §5) or UIDL (§7), for one message or as a
// multi-line listing of the messages not marked deleted.
func (c *conn) cmdList(cmd pop3.Command, uidl bool) {
	item := func(i int) {
		if uidl {
			c.replyf("%d %s", i+1, c.msgs[i].UID)
		} else {
			c.replyf("%d %d", i+1, c.msgs[i].Size)
		}
	}
	switch len(cmd.Args) {
	case 0:
		c.reply("+OK listing follows")
		for i := range c.msgs {
			if !c.deleted[i] {
				item(i)
			}
		}
		c.reply(".")
	case 1:
		i := c.msgArg(cmd.Args[0])
		if i < 0 {
			return
		}
		c.bw.WriteString("+OK ")
		item(i)
	default:
		c.reply("-ERR too many arguments")
	}
}

// cmdDele marks a message deleted; it is removed only in UPDATE
// (RFC 1939 §5). Marking a message that is gone from the store since the
// snapshot is harmless: the backend ignores it at QUIT.
func (c *conn) cmdDele(cmd pop3.Command) {
	if len(cmd.Args) != 1 {
		c.reply("-ERR DELE takes one message number")
		return
	}
	i := c.msgArg(cmd.Args[0])
	if i < 0 {
		return
	}
	c.deleted[i] = true
	c.replyf("+OK message %d deleted", i+1)
}

// cmdRset unmarks every message (RFC 1939 §5).
func (c *conn) cmdRset(cmd pop3.Command) {
	if len(cmd.Args) != 0 {
		c.reply("-ERR RSET takes no argument")
		return
	}
	clear(c.deleted)
	c.replyf("+OK maildrop has %d messages", len(c.msgs))
}

// cmdRetr sends a whole message (RFC 1939 §5).
func (c *conn) cmdRetr(cmd pop3.Command) {
	if len(cmd.Args) != 1 {
		c.reply("-ERR RETR takes one message number")
		return
	}
	i := c.msgArg(cmd.Args[0])
	if i < 0 {
		return
	}
	c.send(i, -1)
}

// cmdTop sends the header, the blank line and n body lines (RFC 1939 §7).
func (c *conn) cmdTop(cmd pop3.Command) {
	if len(cmd.Args) != 2 {
		c.reply("-ERR TOP takes a message number and a line count")
		return
	}
	i := c.msgArg(cmd.Args[0])
	if i < 0 {
		return
	}
	n, ok := pop3.ParseLineCount(cmd.Args[1])
	if !ok {
		c.reply("-ERR invalid line count")
		return
	}
	c.send(i, n)
}

// send streams message i, whole (lines < 0) or as for TOP, dot-stuffed and
// with CRLF line ends. After the +OK line has gone out no -ERR is possible,
// so a store error in the middle closes the connection: the client sees a
// truncated response, never a short message passed as complete.
func (c *conn) send(i, lines int) {
	m := c.msgs[i]
	if m.UTF8 && !c.utf8 {
		c.reply("-ERR [UTF8] message needs UTF8 mode")
		return
	}
	r, err := c.drop.Open(c.ctx, m.UID)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			c.replyf("-ERR message %d is gone, it was deleted by another program", i+1)
			return
		}
		c.replyErr("reading the message", err)
		return
	}
	if cl, ok := r.(io.Closer); ok {
		defer cl.Close()
	}
	if c.top == nil {
		c.top = bufio.NewReaderSize(r, 16*1024)
	} else {
		c.top.Reset(r)
	}
	br := c.top
	defer br.Reset(nil) // let go of the message
	// RFC 6856 §2: without UTF8 mode, no UTF-8 header content goes out
	// as is. A backend that does not mark such messages (Message.UTF8)
	// gets them found here, in the first 16 KiB.
	if !c.utf8 && headerUTF8(br) {
		c.reply("-ERR [UTF8] message needs UTF8 mode")
		return
	}
	if lines < 0 {
		// Clients read the size; never translated.
		c.replyRaw("+OK %d octets", m.Size)
	} else {
		c.reply("+OK top of message follows")
	}
	c.dw.Reset(c.bw)
	dw := &c.dw
	if lines >= 0 {
		err = copyTop(dw, br, lines)
	} else {
		_, err = io.Copy(dw, br)
	}
	if err == nil {
		err = dw.Close()
	}
	if err != nil {
		c.log.Warn("pop3 sending message failed", "user", c.user, "uid", m.UID, "err", err)
		c.closing = true
		return
	}
	c.log.Debug("pop3 message sent", "user", c.user, "uid", m.UID, "size", m.Size)
}

// headerUTF8 reports whether the message header in br, as far as br's
// buffer holds it, has an octet outside ASCII (RFC 6532). It consumes
// nothing.
func headerUTF8(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Size())
	switch {
	case len(b) > 0 && b[0] == '\n', len(b) > 1 && b[0] == '\r' && b[1] == '\n':
		return false // no header at all
	}
	end := len(b)
	if i := bytes.Index(b, []byte("\n\r\n")); i >= 0 {
		end = i
	}
	if i := bytes.Index(b[:end], []byte("\n\n")); i >= 0 {
		end = i
	}
	for _, ch := range b[:end] {
		if ch >= 0x80 {
			return true
		}
	}
	return false
}

// copyTop copies the header, the empty line and n body lines of a message
// read through br. Lines may end in LF or CRLF; the DotWriter makes them
// CRLF.
func copyTop(w io.Writer, br *bufio.Reader, n int) error {
	inBody, partial := false, false
	for !inBody || n > 0 {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A very long line: copy it piecewise.
			if _, werr := w.Write(line); werr != nil {
				return werr
			}
			partial = true
			continue
		}
		continued := partial
		partial = false
		if len(line) > 0 {
			if _, werr := w.Write(line); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if inBody {
			n--
		} else if !continued && (len(line) == 1 || (len(line) == 2 && line[0] == '\r')) {
			inBody = true
		}
	}
	return nil
}
