package pop3client

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/lineio"
	"github.com/posthorn/posthorn/internal/tlsutil"
	"github.com/posthorn/posthorn/internal/wiretrace"
	"github.com/posthorn/posthorn/pop3"
	"github.com/posthorn/posthorn/sasl"
)

// Options configures a Client. The zero value works.
type Options struct {
	// TLSConfig is used by DialTLS and StartTLS. nil means a default
	// configuration with ServerName taken from the address dialled.
	TLSConfig *tls.Config
	// Dialer dials the TCP connection; nil means a net.Dialer with a
	// 30-second timeout.
	Dialer *net.Dialer
	// AllowInsecureAuth lets Login, User and Auth send a password or
	// token over a connection without TLS (USER/PASS, PLAIN, LOGIN,
	// OAUTHBEARER, XOAUTH2). The default refuses with
	// sasl.ErrInsecureAuth, also on loopback; APOP, which sends no
	// password, is always allowed.
	AllowInsecureAuth bool
	// MaxMessageSize bounds a message read by Retr or Top; a longer one
	// fails with *lineio.TooLargeError after it has been consumed. 0 means
	// no limit.
	MaxMessageSize int64
	// Trace, when not nil, receives a trace of the session for debugging:
	// each line sent ("C: ") and received ("S: "), with PASS, APOP and
	// AUTH exchanges redacted and messages elided after a few lines.
	Trace io.Writer
}

// ErrBusy is returned when a command is issued while the reader returned
// by Retr or Top has not been closed.
var ErrBusy = errors.New("pop3client: previous RETR/TOP reader not closed")

// ErrClosed is returned by commands after the connection failed, was
// cancelled in the middle of a command, or was closed.
var ErrClosed = errors.New("pop3client: connection closed")

// Client is a POP3 client connection. Its methods must not be called
// concurrently. Every method takes a context; cancelling it interrupts the
// socket operation and leaves the Client unusable (the server's state is
// unknown then), so the next command returns ErrClosed.
type Client struct {
	opts       Options
	trace      *wiretrace.Tracer
	serverName string
	nc         net.Conn
	br         *bufio.Reader
	lr         *lineio.Reader
	bw         *bufio.Writer
	greeting   pop3.Response
	caps       pop3.Capabilities // nil until Capa; reset by StartTLS
	isTLS      bool
	cb         *sasl.ChannelBinding
	broken     error
	busy       bool // a Retr/Top reader is open
}

// Dial connects to a POP3 server in plaintext (port 110), reads the
// greeting and returns the Client. Use StartTLS before logging in.
func Dial(ctx context.Context, addr string, opts *Options) (*Client, error) {
	o := optionsOf(opts)
	nc, err := o.Dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return newClient(ctx, nc, o, hostOf(addr), false)
}

// DialTLS connects with implicit TLS (RFC 8314, port 995).
func DialTLS(ctx context.Context, addr string, opts *Options) (*Client, error) {
	o := optionsOf(opts)
	nc, err := o.Dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc, err := tlsutil.ClientUpgrade(ctx, nc, tlsutil.ClientConfig(o.TLSConfig, hostOf(addr), "pop3"))
	if err != nil {
		nc.Close()
		return nil, err
	}
	return newClient(ctx, tc, o, hostOf(addr), true)
}

// NewClient starts a session on an established connection (plaintext,
// or a *tls.Conn for implicit TLS) by reading the greeting.
func NewClient(ctx context.Context, conn net.Conn, opts *Options) (*Client, error) {
	_, isTLS := conn.(*tls.Conn)
	return newClient(ctx, conn, optionsOf(opts), hostOf(conn.RemoteAddr().String()), isTLS)
}

func optionsOf(opts *Options) Options {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Dialer == nil {
		o.Dialer = &net.Dialer{Timeout: 30 * time.Second}
	}
	return o
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

func newClient(ctx context.Context, nc net.Conn, o Options, host string, isTLS bool) (*Client, error) {
	c := &Client{opts: o, serverName: host, trace: wiretrace.New(o.Trace, wiretrace.POP3, false, "")}
	c.setConn(nc)
	if tc, ok := nc.(*tls.Conn); ok && isTLS {
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, err
		}
		c.setTLS(tc)
	}
	if o.TLSConfig != nil && o.TLSConfig.ServerName != "" {
		c.serverName = o.TLSConfig.ServerName
	}
	err := c.do(ctx, func() error {
		r, err := c.readResponse()
		if err != nil {
			return err
		}
		c.greeting = r
		return r.Err()
	})
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

func (c *Client) setConn(nc net.Conn) {
	c.nc = nc
	c.br = bufio.NewReaderSize(c.trace.Reader(nc), 64*1024)
	// The first line of a response is at most 512 octets (RFC 2449 §4);
	// SASL challenges may be longer (RFC 5034 §4).
	c.lr = lineio.NewReader(c.br, 64*1024)
	c.bw = bufio.NewWriterSize(c.trace.Writer(nc), 4096)
}

func (c *Client) setTLS(tc *tls.Conn) {
	cs := tc.ConnectionState()
	c.isTLS = true
	c.cb = sasl.ChannelBindingFromTLS(&cs)
}

// ChannelBinding returns the TLS channel binding of the connection for
// SCRAM -PLUS clients built by hand (Login uses it itself), or nil.
func (c *Client) ChannelBinding() *sasl.ChannelBinding { return c.cb }

// Greeting returns the server's greeting line.
func (c *Client) Greeting() string { return c.greeting.Text }

// TLSConnectionState returns the state of the connection's TLS layer
// (after DialTLS or StartTLS), for certificate details or a channel
// binding; ok is false without TLS.
func (c *Client) TLSConnectionState() (tls.ConnectionState, bool) {
	if tc, ok := c.nc.(*tls.Conn); ok && c.isTLS {
		return tc.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}

// Close closes the connection without QUIT: the server does not enter
// the UPDATE state and deletes nothing (RFC 1939 §6).
func (c *Client) Close() error {
	if c.broken == nil {
		c.broken = ErrClosed
	}
	return c.nc.Close()
}

// do runs one exchange with ctx watching the socket: cancellation sets a
// past deadline, which interrupts the blocked read or write. After an I/O
// failure or cancellation the Client is unusable.
func (c *Client) do(ctx context.Context, f func() error) error {
	if c.broken != nil {
		return c.broken
	}
	if c.busy {
		return ErrBusy
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		c.nc.SetDeadline(dl)
	} else {
		c.nc.SetDeadline(time.Time{})
	}
	stop := c.watch(ctx)
	err := f()
	stop()
	return c.fail(ctx, err)
}

// watch makes cancellation of ctx interrupt the socket by setting a past
// deadline. The returned stop waits for a cancellation already under way,
// so that it cannot clobber the deadline of the next command.
func (c *Client) watch(ctx context.Context) (stop func()) {
	done := make(chan struct{})
	stopAfter := context.AfterFunc(ctx, func() {
		c.nc.SetDeadline(time.Unix(1, 0))
		close(done)
	})
	return func() {
		if !stopAfter() {
			<-done
		}
	}
}

// fail classifies err: protocol replies leave the Client usable, anything
// else breaks it.
func (c *Client) fail(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := pop3.AsError(err); ok {
		return err
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		err = fmt.Errorf("pop3client: %w (%v)", ctxErr, err)
	}
	c.broken = fmt.Errorf("%w: %v", ErrClosed, err)
	c.nc.Close()
	return err
}

// cmd writes one command line.
func (c *Client) writeCmd(format string, args ...any) error {
	line := fmt.Sprintf(format, args...)
	if len(line) > pop3.MaxCommandLine-2 || strings.ContainsAny(line, "\r\n") {
		return &pop3.SyntaxError{What: "command", Msg: "command too long or contains a line break"}
	}
	c.bw.WriteString(line)
	c.bw.WriteString("\r\n")
	return nil
}

func (c *Client) readResponse() (pop3.Response, error) {
	line, err := c.lr.ReadLine()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return pop3.Response{}, err
	}
	return pop3.ParseResponse(line)
}

// simple sends one command and reads a single-line reply.
func (c *Client) simple(ctx context.Context, format string, args ...any) (pop3.Response, error) {
	var r pop3.Response
	err := c.do(ctx, func() error {
		if err := c.writeCmd(format, args...); err != nil {
			return err
		}
		if err := c.bw.Flush(); err != nil {
			return err
		}
		var err error
		r, err = c.readOK()
		return err
	})
	return r, err
}

// readOK reads a reply and turns -ERR into *pop3.Error.
func (c *Client) readOK() (pop3.Response, error) {
	r, err := c.readResponse()
	if err != nil {
		return r, err
	}
	if r.Status == pop3.StatusContinue {
		return r, &pop3.SyntaxError{What: "response", Msg: "unexpected continuation"}
	}
	return r, r.Err()
}

// readLines reads the lines of a multi-line response up to ".", unstuffed,
// calling f for each.
func (c *Client) readLines(f func(line []byte) error) error {
	for {
		line, err := c.lr.ReadLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if len(line) > 0 && line[0] == '.' {
			if len(line) == 1 {
				return nil
			}
			line = line[1:] // RFC 1939 §3 byte-stuffing
		}
		if err := f(line); err != nil {
			return err
		}
	}
}
