package pop3server

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/posthorn/posthorn/internal/lineio"
	"github.com/posthorn/posthorn/internal/serve"
	"github.com/posthorn/posthorn/internal/wiretrace"
	"github.com/posthorn/posthorn/pop3"
	"github.com/posthorn/posthorn/sasl"
)

// state is the session state of RFC 1939 §3.
type state int

const (
	stateAuthorization state = iota
	stateTransaction
	stateUpdate
)

// bufSize is the size of the read and write buffers. The write buffer is
// large so that RETR moves big chunks per system call.
const (
	readBufSize  = 4096
	writeBufSize = 64 * 1024
)

// conn is one client session. All fields but the embedded Stop are used
// by the session goroutine only.
type conn struct {
	serve.Stop // Shutdown and Abort, from the Server's goroutine
	srv        *Server
	nc         net.Conn
	trace      *wiretrace.Tracer
	br         *bufio.Reader
	lr         *lineio.Reader
	bw         *bufio.Writer
	log        *slog.Logger
	ctx        context.Context
	remote     netip.Addr

	state     state
	tls       bool
	tlsState  tls.ConnectionState // valid when tls
	cb        *sasl.ChannelBinding
	utf8      bool
	utf8Text  bool              // UTF-8 allowed in response text (after UTF8 or LANG)
	lang      string            // tag of the response language (RFC 6856 §3); "" until LANG
	texts     map[string]string // its translations; nil for English
	user      string            // after USER, and the logged-in user in TRANSACTION
	id        sasl.Identity     // the logged-in identity, in TRANSACTION
	info      ConnInfo          // what the Backend was told at login
	authFails int
	badCmds   int
	apopStamp string // greeting timestamp when APOP is offered
	closing   bool   // the session must end after the current command

	// dw and top are reused by every RETR and TOP of the session, so
	// that sending a message allocates no buffer.
	dw  lineio.DotWriter
	top *bufio.Reader

	drop    Maildrop
	msgs    []Message
	deleted []bool
	locked  bool // holds srv.locks[user]
}

func (s *Server) newConn(nc net.Conn, ip netip.Addr) *conn {
	c := &conn{srv: s, nc: nc, remote: ip}
	c.ctx = c.Init(nc)
	c.trace = wiretrace.New(s.Trace, wiretrace.POP3, true, nc.RemoteAddr().String()+" ")
	c.setReaders(nc)
	c.log = s.logger.With("remote", nc.RemoteAddr().String())
	return c
}

func (c *conn) setReaders(nc net.Conn) {
	c.nc = nc
	c.br = bufio.NewReaderSize(c.trace.Reader(nc), readBufSize)
	// Lines of a SASL exchange may be longer than commands (RFC 5034 §4);
	// commands are checked against 255 octets by pop3.ParseCommand.
	c.lr = lineio.NewReader(c.br, c.srv.Limits.MaxSASLResponse)
	if c.bw == nil {
		c.bw = bufio.NewWriterSize(c.trace.Writer(nc), writeBufSize)
	} else {
		c.bw.Reset(c.trace.Writer(nc))
	}
}

// Serve implements serve.Conn: it runs the session until QUIT, an error,
// or Shutdown.
func (c *conn) Serve() {
	defer c.close()
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("pop3 session panic", "panic", r)
		}
	}()
	if tc, ok := c.nc.(*tls.Conn); ok {
		// Implicit TLS: the shell ran the handshake.
		c.setTLSState(tc)
	}
	c.log.Debug("pop3 connection")
	c.greet()
	for {
		line, err := c.readLine()
		if err != nil {
			var tooLong *lineio.LineTooLongError
			if errors.As(err, &tooLong) {
				if !c.bad("-ERR line too long") {
					return
				}
				continue
			}
			c.readFailed(err)
			return
		}
		cmd, err := pop3.ParseCommand(line)
		if err != nil {
			if !c.bad("-ERR %s", err.Error()) {
				return
			}
			continue
		}
		if c.dispatch(cmd) {
			// The last reply goes out even with commands still queued.
			c.flush()
			return
		}
	}
}

// readLine flushes pending replies when no pipelined command is waiting
// (RFC 2449 §6.6), then reads the next line under the idle timeout.
func (c *conn) readLine() ([]byte, error) {
	if err := c.flushIfIdle(); err != nil {
		return nil, err
	}
	return c.ReadLine(c.lr, time.Now().Add(c.srv.Limits.IdleTimeout))
}

func (c *conn) readFailed(err error) {
	switch {
	case errors.Is(err, serve.ErrShutdown):
		// The session ends without entering UPDATE (RFC 1939 §6).
		c.reply("-ERR [SYS/TEMP] server shutting down")
		c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		c.bw.Flush()
	case errors.Is(err, io.EOF):
		c.log.Debug("pop3 client went away", "state", c.state)
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			// RFC 1939 §3: the autologout timer ends the session without
			// entering the UPDATE state.
			c.reply("-ERR autologout timer expired")
			c.flush()
		}
		c.log.Info("pop3 read failed", "err", err)
	}
}

// bad answers an unknown or malformed command and reports whether the
// session may go on.
func (c *conn) bad(format string, args ...any) bool {
	c.badCmds++
	c.replyf(format, args...)
	if c.badCmds >= c.srv.Limits.MaxBadCommands {
		c.reply("-ERR too many bad commands, closing")
		c.flush()
		return false
	}
	return true
}

func (c *conn) flushIfIdle() error {
	if c.br.Buffered() > 0 || c.bw.Buffered() == 0 {
		return nil
	}
	return c.flush()
}

func (c *conn) flush() error {
	c.nc.SetWriteDeadline(time.Now().Add(c.srv.Limits.WriteTimeout))
	return c.bw.Flush()
}

// reply queues one line, its text in the session's language (RFC 6856
// §3); write errors surface at the next flush.
func (c *conn) reply(line string) {
	c.bw.WriteString(c.localize(line))
	c.bw.WriteString("\r\n")
}

// replyf is reply with a format string; the format is what is translated.
func (c *conn) replyf(format string, args ...any) {
	fmt.Fprintf(c.bw, c.localize(format), args...)
	c.bw.WriteString("\r\n")
}

// replyErr answers a failed backend call. A *pop3.Error is passed on as
// is; anything else is a temporary failure (RFC 3206 §4).
func (c *conn) replyErr(what string, err error) {
	if pe, ok := pop3.AsError(err); ok {
		if pe.Code != "" {
			c.bw.WriteString("-ERR [" + pe.Code + "] " + c.sanitize(pe.Text) + "\r\n")
		} else {
			c.bw.WriteString("-ERR " + c.sanitize(pe.Text) + "\r\n")
		}
		return
	}
	c.log.Warn("pop3 backend error", "op", what, "user", c.user, "err", err)
	c.replyf("-ERR [SYS/TEMP] %s failed, try again later", c.translate(what))
}

// sanitize keeps backend text on one line, and in ASCII unless the
// client accepts UTF-8 (RFC 6856 §2.1).
func (c *conn) sanitize(s string) string {
	return c.textOut(sanitizeLine(s))
}

// sanitizeLine keeps backend text on one line.
func sanitizeLine(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if ch < 0x20 || ch == 0x7f {
			b[i] = ' '
		}
	}
	if len(b) > 400 {
		b = b[:400]
	}
	return string(b)
}

func (c *conn) greet() {
	if c.srv.apopOffered() {
		// RFC 1939 §7: the timestamp must be different each time.
		c.apopStamp = fmt.Sprintf("<%d.%d@%s>", time.Now().UnixNano(), c.srv.nextConnID(), c.srv.hostname)
		c.reply("+OK POP3 server ready " + c.apopStamp)
	} else {
		c.reply("+OK POP3 server ready")
	}
}

// setTLSState records the state of a completed TLS handshake and the
// connection's channel binding.
func (c *conn) setTLSState(tc *tls.Conn) {
	c.tlsState = tc.ConnectionState()
	c.cb = sasl.ChannelBindingFromTLS(&c.tlsState)
	c.tls = true
}

// close ends the session without entering UPDATE: nothing marked deleted
// is removed (RFC 1939 §6).
func (c *conn) close() {
	c.releaseMaildrop()
	c.nc.Close()
	c.End()
}

func (c *conn) releaseMaildrop() {
	if c.drop != nil {
		if err := c.drop.Close(); err != nil {
			c.log.Warn("pop3 maildrop close failed", "user", c.user, "err", err)
		}
		c.drop = nil
	}
	if c.locked {
		c.srv.unlock(c.user)
		c.locked = false
	}
}
