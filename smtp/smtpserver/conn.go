package smtpserver

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
	"runtime/debug"
	"time"

	"github.com/posthorn/posthorn/internal/lineio"
	"github.com/posthorn/posthorn/internal/serve"
	"github.com/posthorn/posthorn/internal/wiretrace"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp"
)

// conn is one client connection. Everything but the embedded Stop's
// Shutdown and Abort runs on the connection's goroutine.
type conn struct {
	serve.Stop
	chanBind *sasl.ChannelBinding // the TLS channel binding, made at first use
	srv      *Server
	lim      Limits
	nc       net.Conn
	in       io.Reader // nc, traced (Server.Trace)
	trace    *wiretrace.Tracer
	ip       netip.Addr // client address (after XCLIENT)
	fr       *flushReader
	br       *bufio.Reader
	bw       *bufio.Writer
	lr       *lineio.Reader
	log      *slog.Logger
	info     ConnInfo
	sess     Session
	// traceTaker is sess when it takes the Received: field at commit
	// (asked once, not per message).
	traceTaker traceTaker
	ctx        context.Context

	out     []byte           // reply scratch
	recvBuf []byte           // Received: field scratch
	prefix  prefixReader     // reused per message
	loop    loopReader       // reused per message (DATA, single BDAT)
	chunk   chunkReader      // reused per single-chunk BDAT message
	eol     lineio.EOLReader // reused per single-chunk BDAT message

	// Session state.
	helloKind string // "EHLO", "HELO", "LHLO"; "" before
	tls       bool
	authed    bool
	errors    int
	authFails int
	messages  int
	quit      bool

	// Transaction state (RFC 5321 §4.1.4).
	inTx     bool
	from     smtp.Mailbox
	mailOpts smtp.MailOptions
	rcpts    []smtp.Mailbox
	bdat     *bdatState
}

func newConn(s *Server, nc net.Conn, ip netip.Addr, lim Limits) *conn {
	c := &conn{srv: s, lim: lim, nc: nc, ip: ip}
	c.ctx = c.Init(nc)
	c.trace = wiretrace.New(s.Trace, wiretrace.SMTP, true, nc.RemoteAddr().String()+" ")
	c.in = c.trace.Reader(nc)
	c.bw = bufio.NewWriterSize(c.trace.Writer(nc), 4096)
	c.fr = &flushReader{c: c}
	c.br = bufio.NewReaderSize(c.fr, 32*1024)
	c.lr = lineio.NewReader(c.br, lim.MaxLineLength)
	c.info = ConnInfo{RemoteAddr: nc.RemoteAddr(), LocalAddr: nc.LocalAddr(), Service: s.Mode.service()}
	c.log = s.logger().With("remote", nc.RemoteAddr().String())
	return c
}

// flushReader sits under the bufio.Reader. The bufio.Reader calls it only
// when its buffer is empty, that is when the client has nothing more
// pipelined, so this is exactly when queued replies must go out
// (RFC 2920 §3.2: a group of replies is flushed together).
type flushReader struct {
	c *conn
	// deadline handling during message data
	dataMode bool
	idle     time.Duration
	hard     time.Time
	lastSet  time.Time
}

func (f *flushReader) Read(p []byte) (int, error) {
	c := f.c
	if c.bw.Buffered() > 0 {
		if err := c.flush(); err != nil {
			return 0, err
		}
	}
	if f.dataMode {
		// Idle timeout refreshed as data arrives, capped by the hard limit.
		now := time.Now()
		if now.Sub(f.lastSet) > min(time.Second, f.idle/4) {
			d := now.Add(f.idle)
			if !f.hard.IsZero() && d.After(f.hard) {
				d = f.hard
			}
			_ = c.nc.SetReadDeadline(d)
			f.lastSet = now
			if c.Aborted() {
				// Shutdown's deadline passed: the deadline just set
				// must not undo the one Abort set.
				return 0, errShutdown
			}
		}
	}
	return c.in.Read(p)
}

func (c *conn) flush() error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.lim.CommandTimeout))
	return c.bw.Flush()
}

// reply queues a reply; it is sent when the client has nothing more
// pipelined or before the server blocks.
func (c *conn) reply(code int, enh smtp.EnhancedCode, lines ...string) {
	c.out = smtp.AppendReply(c.out[:0], code, enh, lines...)
	_, _ = c.bw.Write(c.out)
}

// replyErr answers with err: its *smtp.Error if it carries one, else def.
func (c *conn) replyErr(err error, def *smtp.Error) {
	var se *smtp.Error
	if !errors.As(err, &se) || se.Code < 400 || se.Code > 599 {
		se = def
	}
	c.reply(se.Code, se.Enhanced, splitLines(se.Message)...)
	if se.Code >= 400 {
		c.errors++
	}
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
		if len(out) == 20 {
			break
		}
	}
	return out
}

// Serve implements serve.Conn: it runs the session.
func (c *conn) Serve() {
	ctx := c.ctx
	defer func() {
		if r := recover(); r != nil {
			// A backend panic ends this session only (DESIGN: never crash).
			c.log.Error("panic in session", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			c.reply(421, smtp.CodeTempLocal, c.srv.hostname()+" internal error, closing connection")
			_ = c.flush()
		}
		if c.sess != nil {
			c.closeSession()
		}
		c.End()
		_ = c.nc.Close()
	}()

	if tc, ok := c.nc.(*tls.Conn); ok {
		// Implicit TLS (RFC 8314): the shell ran the handshake.
		st := tc.ConnectionState()
		c.info.TLS = &st
		c.tls = true
	}

	sess, err := c.srv.Backend.NewSession(ctx, &c.info)
	if err != nil {
		c.replyErr(err, smtp.NewError(554, smtp.EnhancedCode{5, 3, 2}, c.srv.hostname()+" service not available"))
		_ = c.flush()
		return
	}
	c.sess = sess
	c.traceTaker, _ = sess.(traceTaker)
	c.log.Debug("connection accepted", "tls", c.tls)
	c.greet()

	for !c.quit {
		line, err := c.readCommand()
		if err != nil {
			var tl *lineio.LineTooLongError
			if errors.As(err, &tl) {
				c.reply(500, smtp.EnhancedCode{5, 5, 6}, "Line too long")
				if c.tooManyErrors() {
					break
				}
				continue
			}
			if errors.Is(err, errShutdown) || c.Stopping() {
				c.sayShutdown()
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				// RFC 5321 §4.5.3.2.7: 421 on timeout.
				c.reply(421, smtp.CodeTimeout, c.srv.hostname()+" timeout, closing connection")
				_ = c.flush()
			}
			return
		}
		c.dispatch(line)
		if c.tooManyErrors() {
			break
		}
	}
	_ = c.flush()
}

func (c *conn) greet() {
	proto := "ESMTP"
	if c.srv.Mode == ModeLMTP {
		proto = "LMTP"
	}
	c.reply(220, smtp.EnhancedCode{}, c.srv.hostname()+" "+proto+" ready")
}

func (c *conn) tooManyErrors() bool {
	if c.lim.MaxErrors > 0 && c.errors >= c.lim.MaxErrors {
		c.reply(421, smtp.EnhancedCode{4, 7, 0}, c.srv.hostname()+" too many errors, closing connection")
		_ = c.flush()
		c.log.Info("closing after too many errors", "errors", c.errors)
		c.quit = true
		return true
	}
	return false
}

// readCommand reads one command line with the command timeout.
func (c *conn) readCommand() ([]byte, error) {
	return c.ReadLine(c.lr, time.Now().Add(c.lim.CommandTimeout))
}

var errShutdown = serve.ErrShutdown

// sayShutdown answers 421 because the server is shutting down (RFC 5321
// §3.8), with a write deadline of its own: a client that reads nothing
// cannot hold Shutdown up.
func (c *conn) sayShutdown() {
	c.reply(421, smtp.CodeShutdown, c.srv.hostname()+" shutting down")
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_ = c.bw.Flush()
}

func (c *conn) closeSession() {
	if c.inTx {
		c.resetTx()
	}
	_ = c.sess.Close(c.ctx)
	c.sess = nil
}

// resetTx ends the transaction and tells the backend (RFC 5321 §4.1.1.5).
func (c *conn) resetTx() {
	if c.bdat != nil {
		c.bdat.abort()
		c.bdat = nil
	}
	if c.inTx {
		c.sess.Reset(c.ctx)
	}
	c.inTx = false
	c.from = smtp.Mailbox{}
	c.mailOpts = smtp.MailOptions{}
	c.rcpts = c.rcpts[:0]
}

func (c *conn) connState() sasl.ConnState {
	cs := sasl.ConnState{TLS: c.tls, RemoteAddr: c.info.RemoteAddr, TLSState: c.info.TLS}
	if c.info.TLS != nil {
		// One binding per TLS connection, kept: the first -PLUS exchange
		// consumes it, and -PLUS is then neither offered nor accepted
		// again (RFC 9266 §4.1). A fresh one per AUTH had let a client
		// run SCRAM-PLUS twice on one connection.
		if c.chanBind == nil {
			c.chanBind = sasl.ChannelBindingFromTLS(c.info.TLS)
		}
		cs.ChannelBinding = c.chanBind
	}
	return cs
}

func (c *conn) dispatch(line []byte) {
	verb, arg, err := smtp.ParseCommand(line)
	if err != nil {
		c.reply(500, smtp.CodeBadSyntax, "Syntax error, command unrecognized")
		c.errors++
		return
	}
	switch verb {
	case "EHLO", "HELO", "LHLO":
		c.cmdHello(verb, arg)
	case "MAIL":
		c.cmdMail(arg)
	case "RCPT":
		c.cmdRcpt(arg)
	case "DATA":
		c.cmdData(arg)
	case "BDAT":
		c.cmdBdat(arg)
	case "RSET":
		if arg != "" {
			c.reply(501, smtp.CodeBadSyntax, "RSET takes no argument")
			c.errors++
			return
		}
		c.resetTx()
		c.reply(250, smtp.CodeOK, "Reset OK")
	case "NOOP":
		c.reply(250, smtp.CodeOK, "OK")
	case "QUIT":
		c.reply(221, smtp.EnhancedCode{2, 0, 0}, c.srv.hostname()+" closing connection")
		c.quit = true
	case "VRFY":
		// RFC 5321 §3.5.3: 252 when the server will not verify.
		c.reply(252, smtp.EnhancedCode{2, 5, 2}, "Cannot VRFY user, but will accept message and attempt delivery")
	case "EXPN":
		c.reply(502, smtp.EnhancedCode{5, 5, 1}, "EXPN not available")
	case "HELP":
		c.reply(214, smtp.EnhancedCode{2, 0, 0}, "See RFC 5321 (https://www.rfc-editor.org/rfc/rfc5321)")
	case "STARTTLS":
		c.cmdStartTLS(arg)
	case "AUTH":
		c.cmdAuth(arg)
	case "XCLIENT":
		c.cmdXclient(arg)
	default:
		c.reply(500, smtp.CodeBadCommand, "Command not recognized")
		c.errors++
	}
}
