package smtpclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/lineio"
	"github.com/posthorn/posthorn/internal/wiretrace"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp"
)

// Timeouts are the per-command timeouts of RFC 5321 §4.5.3.2. A zero
// field takes the RFC's value. The context given to each call bounds it
// as well; the earlier of the two wins.
type Timeouts struct {
	Greeting  time.Duration // 220 greeting: 5 min
	Mail      time.Duration // MAIL: 5 min
	Rcpt      time.Duration // RCPT: 5 min
	DataInit  time.Duration // DATA → 354: 2 min
	DataBlock time.Duration // each write of message data: 3 min
	DataTerm  time.Duration // after the final dot (or BDAT LAST): 10 min
	Command   time.Duration // other commands (EHLO, AUTH, RSET, …): 5 min
}

func (t Timeouts) withDefaults() Timeouts {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&t.Greeting, 5*time.Minute)
	def(&t.Mail, 5*time.Minute)
	def(&t.Rcpt, 5*time.Minute)
	def(&t.DataInit, 2*time.Minute)
	def(&t.DataBlock, 3*time.Minute)
	def(&t.DataTerm, 10*time.Minute)
	def(&t.Command, 5*time.Minute)
	return t
}

// Options configure a Client. The zero value works.
type Options struct {
	// LocalName is the name sent with EHLO/LHLO; "" means "localhost".
	LocalName string
	// TLSConfig is used by DialTLS and StartTLS; nil means a default
	// configuration. ServerName defaults to the host dialled.
	TLSConfig *tls.Config
	// LMTP makes the client speak LMTP (RFC 2033): LHLO and one reply per
	// recipient.
	LMTP bool
	// DialTimeout bounds connecting (and the TLS handshake for DialTLS);
	// default 30 s.
	DialTimeout time.Duration
	// Timeouts are the per-command timeouts.
	Timeouts Timeouts
	// Dialer, when set, opens the TCP connection (e.g. through a proxy).
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
	// AllowInsecureAuth lets Login and Auth send a password or token
	// over a connection without TLS (PLAIN, LOGIN, OAUTHBEARER, XOAUTH2).
	// The default refuses with sasl.ErrInsecureAuth, also on loopback:
	// a man in the middle who strips STARTTLS must not get the password.
	AllowInsecureAuth bool
	// Trace, when not nil, receives a trace of the session for debugging:
	// each line sent ("C: ") and received ("S: "), with AUTH exchanges
	// redacted and message data elided after a few lines.
	Trace io.Writer
}

// ErrClosed is returned by calls on a client whose connection failed,
// timed out or was closed; open a new one.
var ErrClosed = errors.New("smtpclient: connection closed")

// Client is a connection to an SMTP or LMTP server. It is not safe for
// concurrent use: one goroutine sends one command at a time (commands of
// one transaction go out pipelined when the server allows).
type Client struct {
	conn       net.Conn
	trace      *wiretrace.Tracer
	out        io.Writer // conn, traced: for writes that bypass bw
	br         *bufio.Reader
	bw         *bufio.Writer
	opts       Options
	to         Timeouts
	serverName string
	greeting   string
	ext        map[string]string
	extOrder   []string // ext's keys as advertised
	hello      bool
	tls        bool
	// authByCallback: the TLS configuration skipped crypto/tls's
	// verification for its own VerifyConnection, which passed.
	authByCallback bool
	authed         bool
	broken         error
	buf            []byte
	lim            smtp.ReplyLimits
	accepted       []string // recipients accepted in the current transaction
	needReset      bool
	scratch        []byte            // message I/O buffer, reused
	lineBuf        []byte            // command line scratch
	group          []byte            // MAIL and RCPT lines of a Send
	ends           []int             // end offset of each line in group
	final          []RecipientResult // a failed Send left a transaction open
	// What the current Send got to, for a Submitter deciding whether a
	// failed send may be retried: the server answered MAIL (something
	// may have been accepted), the end of the message went out.
	mailReplied, endSent bool
	cb                   *sasl.ChannelBinding // the TLS channel binding, made at first use
	replies              smtp.ReplyReader     // reused for every reply
	dw                   *lineio.DotWriter    // writeDotBody's, reused
	bw2                  *blockWriter         // under dw
	// transactions counts MAIL commands the server accepted, against
	// LIMITS MAILMAX (RFC 9422 §4.2).
	transactions int
}

// Dial connects to addr ("host:port") in plaintext and reads the greeting.
// Call StartTLS to upgrade.
func Dial(ctx context.Context, addr string, opts *Options) (*Client, error) {
	o := optsOrZero(opts)
	conn, err := dial(ctx, addr, o)
	if err != nil {
		return nil, err
	}
	c, err := newClient(ctx, conn, hostOf(addr), o)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return c, nil
}

// DialTLS connects to addr with implicit TLS (RFC 8314, port 465) and
// reads the greeting.
func DialTLS(ctx context.Context, addr string, opts *Options) (*Client, error) {
	o := optsOrZero(opts)
	raw, err := dial(ctx, addr, o)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(raw, clientTLSConfig(o.TLSConfig, hostOf(addr)))
	hctx, cancel := context.WithTimeout(ctx, dialTimeout(o))
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		_ = raw.Close()
		return nil, err
	}
	c, err := newClient(ctx, tc, hostOf(addr), o)
	if err != nil {
		_ = tc.Close()
		return nil, err
	}
	c.tls = true
	return c, nil
}

// NewClient runs the protocol over an open connection (plaintext, or a
// *tls.Conn for implicit TLS) and reads the greeting. The certificate is
// verified on StartTLS against Options.TLSConfig.ServerName, or else the
// host of the connection's remote address.
func NewClient(ctx context.Context, conn net.Conn, opts *Options) (*Client, error) {
	o := optsOrZero(opts)
	serverName := hostOf(conn.RemoteAddr().String())
	if o.TLSConfig != nil && o.TLSConfig.ServerName != "" {
		serverName = o.TLSConfig.ServerName
	}
	c, err := newClient(ctx, conn, serverName, o)
	if err != nil {
		return nil, err
	}
	_, c.tls = conn.(*tls.Conn)
	return c, nil
}

func optsOrZero(o *Options) Options {
	if o == nil {
		return Options{}
	}
	return *o
}

func dialTimeout(o Options) time.Duration {
	if o.DialTimeout > 0 {
		return o.DialTimeout
	}
	return 30 * time.Second
}

func dial(ctx context.Context, addr string, o Options) (net.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout(o))
	defer cancel()
	if o.Dialer != nil {
		return o.Dialer(dctx, "tcp", addr)
	}
	var d net.Dialer
	return d.DialContext(dctx, "tcp", addr)
}

func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}

func clientTLSConfig(base *tls.Config, serverName string) *tls.Config {
	var cfg *tls.Config
	if base != nil {
		cfg = base.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = serverName
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

func newClient(ctx context.Context, conn net.Conn, serverName string, o Options) (*Client, error) {
	trace := wiretrace.New(o.Trace, wiretrace.SMTP, false, "")
	c := &Client{
		conn:       conn,
		trace:      trace,
		out:        trace.Writer(conn),
		br:         bufio.NewReaderSize(trace.Reader(conn), 4096),
		bw:         bufio.NewWriterSize(trace.Writer(conn), 16*1024),
		opts:       o,
		to:         o.Timeouts.withDefaults(),
		serverName: serverName,
	}
	stop := c.watch(ctx)
	r, err := c.readReply(ctx, c.to.Greeting)
	if err = c.done(ctx, stop, err); err != nil {
		return nil, err
	}
	if r.Code != 220 {
		c.broken = ErrClosed
		return nil, r.Err()
	}
	c.greeting = r.Text()
	return c, nil
}

// watch makes ctx's cancellation interrupt blocked socket calls.
func (c *Client) watch(ctx context.Context) func() bool {
	if ctx.Done() == nil {
		return func() bool { return true }
	}
	return context.AfterFunc(ctx, func() {
		_ = c.conn.SetDeadline(time.Unix(1, 0))
	})
}

// done ends a call started with watch: a context error wins over the I/O
// error it caused, and any I/O error breaks the connection.
func (c *Client) done(ctx context.Context, stop func() bool, err error) error {
	stop()
	if err == nil {
		return nil
	}
	var se *smtp.Error
	if errors.As(err, &se) {
		if se.Code == 421 {
			// RFC 5321 §3.8: the server is closing the channel.
			c.broken = err
		}
		return err
	}
	if ctx.Err() != nil {
		err = ctx.Err()
	} else if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		// The socket deadline was the context's: report it as such.
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			err = context.DeadlineExceeded
		}
	}
	if c.broken == nil {
		c.broken = err
	}
	_ = c.conn.Close()
	return err
}

func (c *Client) deadline(ctx context.Context, d time.Duration) time.Time {
	dl := time.Now().Add(d)
	if cd, ok := ctx.Deadline(); ok && cd.Before(dl) {
		dl = cd
	}
	return dl
}

// readReply reads one reply within timeout. A 4xx/5xx reply is returned
// as a reply, not an error.
func (c *Client) readReply(ctx context.Context, timeout time.Duration) (*smtp.Reply, error) {
	_ = c.conn.SetReadDeadline(c.deadline(ctx, timeout))
	// The Reply is reused by the next read: callers take what they keep.
	c.replies.Limits = c.lim
	return c.replies.Read(c.br)
}

func (c *Client) flush(ctx context.Context, timeout time.Duration) error {
	_ = c.conn.SetWriteDeadline(c.deadline(ctx, timeout))
	return c.bw.Flush()
}

// writeLine queues one command line. The parts were validated by the
// caller; writeLine still refuses CR and LF as a last line of defence.
func (c *Client) writeLine(parts ...string) error {
	c.buf = c.buf[:0]
	for _, p := range parts {
		c.buf = append(c.buf, p...)
	}
	for _, b := range c.buf {
		if b == '\r' || b == '\n' {
			return errors.New("smtpclient: CR or LF in command")
		}
	}
	c.buf = append(c.buf, '\r', '\n')
	_, err := c.bw.Write(c.buf)
	return err
}

// cmd sends one command and reads its reply; a 4xx/5xx reply is an
// *smtp.Error.
func (c *Client) cmd(ctx context.Context, timeout time.Duration, parts ...string) (*smtp.Reply, error) {
	if c.broken != nil {
		return nil, ErrClosed
	}
	stop := c.watch(ctx)
	if err := c.writeLine(parts...); err != nil {
		stop()
		return nil, err
	}
	err := c.flush(ctx, timeout)
	var r *smtp.Reply
	if err == nil {
		r, err = c.readReply(ctx, timeout)
	}
	if err == nil {
		err = r.Err()
	}
	return r, c.done(ctx, stop, err)
}

// Greeting returns the text of the server's 220 greeting.
func (c *Client) Greeting() string { return c.greeting }

// TLSConnectionState returns the state of the connection's TLS layer
// (after DialTLS or StartTLS), for certificate details or a channel
// binding; ok is false without TLS.
func (c *Client) TLSConnectionState() (tls.ConnectionState, bool) {
	if tc, ok := c.conn.(*tls.Conn); ok {
		return tc.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}

// Hello sends EHLO (LHLO in LMTP mode) with the local name and records the
// extensions; an SMTP server that refuses EHLO gets HELO (RFC 5321
// §3.2). Send, Mail and the others call it when needed.
func (c *Client) Hello(ctx context.Context) error {
	name := c.opts.LocalName
	if name == "" {
		name = "localhost"
	}
	if strings.ContainsAny(name, " \r\n\t") {
		return errors.New("smtpclient: bad local name")
	}
	verb := "EHLO "
	if c.opts.LMTP {
		verb = "LHLO "
	}
	r, err := c.cmd(ctx, c.to.Command, verb, name)
	if err != nil {
		var se *smtp.Error
		if c.opts.LMTP || !errors.As(err, &se) || se.Code < 500 {
			return err
		}
		if _, err := c.cmd(ctx, c.to.Command, "HELO ", name); err != nil {
			return err
		}
		c.ext = map[string]string{}
		c.extOrder = c.extOrder[:0]
		c.hello = true
		return nil
	}
	c.ext = map[string]string{}
	c.extOrder = c.extOrder[:0]
	for _, l := range r.Lines[1:] {
		k, v, _ := strings.Cut(l, " ")
		k = strings.ToUpper(k)
		if _, dup := c.ext[k]; !dup {
			c.extOrder = append(c.extOrder, k)
		}
		c.ext[k] = v
	}
	c.hello = true
	return nil
}

func (c *Client) ensureHello(ctx context.Context) error {
	if c.hello {
		return nil
	}
	return c.Hello(ctx)
}

// Extension reports whether the server advertised the EHLO keyword ext
// and returns its parameters.
func (c *Client) Extension(ext string) (params string, ok bool) {
	params, ok = c.ext[strings.ToUpper(ext)]
	return params, ok
}

// Extensions returns the EHLO keywords the server advertised, upper-cased,
// in the order it listed them (nil after HELO or before Hello). The
// parameters of each are given by Extension.
func (c *Client) Extensions() []string {
	if len(c.extOrder) == 0 {
		return nil
	}
	return append([]string(nil), c.extOrder...)
}

// MaxMessageSize returns the SIZE the server advertised, 0 for none or
// no limit.
func (c *Client) MaxMessageSize() int64 {
	v, ok := c.ext["SIZE"]
	if !ok {
		return 0
	}
	var n int64
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0
		}
		n = n*10 + int64(v[i]-'0')
	}
	return n
}

// StartTLS upgrades the connection (RFC 3207) and sends EHLO again, as
// §4.2 requires. cfg nil means Options.TLSConfig; its ServerName defaults
// to the host dialled, and the certificate is verified unless the config
// says otherwise.
func (c *Client) StartTLS(ctx context.Context, cfg *tls.Config) error {
	if c.tls {
		return errors.New("smtpclient: already using TLS")
	}
	if err := c.ensureHello(ctx); err != nil {
		return err
	}
	if _, ok := c.ext["STARTTLS"]; !ok {
		return ErrNoStartTLS
	}
	if _, err := c.cmd(ctx, c.to.Command, "STARTTLS"); err != nil {
		return err
	}
	if cfg == nil {
		cfg = c.opts.TLSConfig
	}
	tcfg := clientTLSConfig(cfg, c.serverName)
	tc := tls.Client(c.conn, tcfg)
	stop := c.watch(ctx)
	_ = tc.SetDeadline(c.deadline(ctx, c.to.Command))
	err := tc.HandshakeContext(ctx)
	if err = c.done(ctx, stop, err); err != nil {
		return err
	}
	_ = tc.SetDeadline(time.Time{})
	// Anything the server sent before the handshake is dropped with the
	// old reader: it was plaintext and could have been injected.
	c.conn = tc
	c.out = c.trace.Writer(tc)
	c.br = bufio.NewReaderSize(c.trace.Reader(tc), 4096)
	c.bw.Reset(c.out)
	c.tls = true
	// The application's VerifyConnection authenticated the server in
	// place of crypto/tls (DANE, RFC 7672): as verified as a chain.
	c.authByCallback = tcfg.InsecureSkipVerify && tcfg.VerifyConnection != nil
	c.hello = false
	c.ext = nil
	return c.Hello(ctx)
}

// ErrNoStartTLS is returned when TLS is required and the server does not
// offer STARTTLS.
var ErrNoStartTLS = errors.New("smtpclient: server does not offer STARTTLS")

// Noop sends NOOP.
func (c *Client) Noop(ctx context.Context) error {
	_, err := c.cmd(ctx, c.to.Command, "NOOP")
	return err
}

// Reset sends RSET, aborting the transaction in progress.
func (c *Client) Reset(ctx context.Context) error {
	c.accepted = c.accepted[:0]
	_, err := c.cmd(ctx, c.to.Command, "RSET")
	return err
}

// Quit sends QUIT and closes the connection.
func (c *Client) Quit(ctx context.Context) error {
	var err error
	if c.broken == nil {
		_, err = c.cmd(ctx, c.to.Command, "QUIT")
	}
	cerr := c.conn.Close()
	c.broken = ErrClosed
	if err != nil {
		return err
	}
	if errors.Is(cerr, net.ErrClosed) {
		return nil
	}
	return cerr
}

// Close closes the connection without QUIT.
func (c *Client) Close() error {
	c.broken = ErrClosed
	return c.conn.Close()
}

var _ io.Closer = (*Client)(nil)
