package imapclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/internal/imapwire"
	"github.com/posthorn/posthorn/internal/tlsutil"
	"github.com/posthorn/posthorn/internal/wiretrace"
	"github.com/posthorn/posthorn/sasl"
)

// ErrClosed is returned by commands on a connection that has been closed,
// by Close, LOGOUT, a BYE or an I/O error. Client.Err tells which.
var ErrClosed = errors.New("imapclient: connection closed")

// ErrPreauthStartTLS is returned by DialStartTLS when the server greets with
// PREAUTH: the session is already authenticated, so STARTTLS is impossible
// and continuing would run the session in the clear (RFC 9051 §6.2.1,
// RFC 8314 §5.1... the classic STARTTLS downgrade).
var ErrPreauthStartTLS = errors.New("imapclient: server sent PREAUTH on a connection that requires STARTTLS")

// Limits bound what the client accepts from a server. A zero field takes
// the default named in its comment.
type Limits struct {
	// MaxLine bounds a response line between literals. Default 16 MiB
	// (SEARCH results of large mailboxes come on one line).
	MaxLine int
	// MaxString bounds a literal read into memory (envelope fields, names,
	// unsolicited body sections). Default 16 MiB.
	MaxString int64
	// MaxSection bounds a body section streamed to the caller. Default
	// 4 GiB.
	MaxSection int64
	// MaxDepth bounds list nesting (body structures, threads). Default 64.
	MaxDepth int
}

func (l Limits) withDefaults() Limits {
	if l.MaxLine <= 0 {
		l.MaxLine = 16 << 20
	}
	if l.MaxString <= 0 {
		l.MaxString = 16 << 20
	}
	if l.MaxSection <= 0 {
		l.MaxSection = 4 << 30
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = 64
	}
	return l
}

// Options configure a Client. The zero value works.
type Options struct {
	// TLSConfig is used by DialTLS, DialStartTLS and StartTLS. nil means a
	// default configuration whose ServerName is the host dialled; the
	// certificate is always verified (RFC 7817 §3, RFC 6125).
	TLSConfig *tls.Config
	// Handler receives unsolicited server data; nil ignores it (the
	// tracked mailbox state is updated either way).
	Handler *Handler
	// Logger receives debug records of protocol events; nil discards.
	// Credentials and message contents are never logged.
	Logger *slog.Logger
	// Limits bound what is read from the server.
	Limits Limits
	// Dialer dials the connection in Dial, DialTLS and DialStartTLS; nil
	// means a net.Dialer with a 30 s timeout.
	Dialer *net.Dialer
	// AllowInsecureAuth lets Login and Auth send a password or token over
	// a connection without TLS (the LOGIN command, PLAIN, LOGIN,
	// OAUTHBEARER, XOAUTH2). The default refuses with sasl.ErrInsecureAuth,
	// also on loopback, whether or not the server announces LOGINDISABLED.
	AllowInsecureAuth bool
	// Trace, when not nil, receives a trace of the session for debugging:
	// each line sent ("C: ") and received ("S: "), with LOGIN arguments
	// (literals too) and AUTHENTICATE exchanges redacted and literals
	// (message bodies) elided after a few lines.
	Trace io.Writer
}

// ConnState is the IMAP connection state (RFC 9051 §3).
type ConnState int

// Connection states.
const (
	StateNotAuthenticated ConnState = iota
	StateAuthenticated
	StateSelected
	StateLogout
)

// String names the state as RFC 9051 §3 does.
func (s ConnState) String() string {
	switch s {
	case StateNotAuthenticated:
		return "not authenticated"
	case StateAuthenticated:
		return "authenticated"
	case StateSelected:
		return "selected"
	}
	return "logout"
}

// Client is an IMAP client connection. Its methods are safe for concurrent
// use: commands from several goroutines are written one after another in
// the order they take the write lock and pipelined, each waiting for its
// own tagged completion.
type Client struct {
	opts  Options
	lim   Limits
	log   *slog.Logger
	trace *wiretrace.Tracer

	cbMu sync.Mutex
	cb   *sasl.ChannelBinding // the TLS channel binding, made at first use

	// Owned by the reader goroutine (swapped under wmu with the reader
	// paused, for STARTTLS and COMPRESS).
	conn net.Conn
	tr   io.Reader // conn, traced (Options.Trace), under br
	br   *bufio.Reader
	dec  *imapwire.Decoder
	// secKey and secVal cache the last body section name parsed, so the
	// messages of one FETCH share one *imap.FetchSection.
	secKey string
	secVal *imap.FetchSection

	wmu sync.Mutex // held while writing a command (and its continuations)
	bw  *bufio.Writer

	mu         sync.Mutex
	tagNum     uint64
	pending    []*command
	caps       map[string]bool // nil: unknown, ask the server
	enabled    map[string]bool
	state      ConnState
	mbox       *MailboxState
	contWaiter chan string
	err        error // why the connection ended
	greeted    bool
	preauth    bool

	// serial holds one token per group of commands whose untagged data
	// cannot be told apart when a server runs them concurrently
	// (RFC 9051 §5.5 lets it): two FETCHes, two SEARCHes, two LISTs.
	serial map[string]chan struct{}

	greetCh  chan error
	closedCh chan struct{}
}

// Dial connects to addr ("host:port") without TLS and reads the greeting.
// Use DialStartTLS or DialTLS unless the connection is protected otherwise.
func Dial(ctx context.Context, addr string, opts *Options) (*Client, error) {
	conn, err := dial(ctx, addr, opts)
	if err != nil {
		return nil, err
	}
	return NewClient(ctx, conn, opts)
}

// DialTLS connects to addr with implicit TLS (RFC 8314, port 993).
func DialTLS(ctx context.Context, addr string, opts *Options) (*Client, error) {
	conn, err := dial(ctx, addr, opts)
	if err != nil {
		return nil, err
	}
	cfg := tlsConfigFor(opts, addr)
	tc, err := tlsutil.ClientUpgrade(ctx, conn, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return NewClient(ctx, tc, opts)
}

// DialStartTLS connects to addr, reads the greeting, refuses PREAUTH
// (ErrPreauthStartTLS) and runs STARTTLS before returning.
func DialStartTLS(ctx context.Context, addr string, opts *Options) (*Client, error) {
	c, err := Dial(ctx, addr, opts)
	if err != nil {
		return nil, err
	}
	if err := c.StartTLS(ctx, tlsConfigFor(opts, addr)); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func dial(ctx context.Context, addr string, opts *Options) (net.Conn, error) {
	d := &net.Dialer{Timeout: 30 * time.Second}
	if opts != nil && opts.Dialer != nil {
		d = opts.Dialer
	}
	return d.DialContext(ctx, "tcp", addr)
}

func tlsConfigFor(opts *Options, addr string) *tls.Config {
	var base *tls.Config
	if opts != nil {
		base = opts.TLSConfig
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	name := host
	if base != nil && base.ServerName != "" {
		name = base.ServerName
	}
	return tlsutil.ClientConfig(base, name, "imap")
}

// NewClient starts a client on an established connection and waits for
// the server's greeting (RFC 9051 §7.1.1, §7.1.4, §7.1.5). A BYE greeting
// is returned as *imap.Error and the connection is closed.
func NewClient(ctx context.Context, conn net.Conn, opts *Options) (*Client, error) {
	var trace *wiretrace.Tracer
	if opts != nil {
		trace = wiretrace.New(opts.Trace, wiretrace.IMAP, false, "")
	}
	c := &Client{
		conn:     conn,
		trace:    trace,
		bw:       bufio.NewWriterSize(trace.Writer(conn), 16<<10),
		greetCh:  make(chan error, 1),
		closedCh: make(chan struct{}),
		serial:   map[string]chan struct{}{},
	}
	for _, g := range []string{"FETCH", "SEARCH", "LIST"} {
		c.serial[g] = make(chan struct{}, 1)
	}
	if opts != nil {
		c.opts = *opts
	}
	c.lim = c.opts.Limits.withDefaults()
	c.log = c.opts.Logger
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.tr = c.trace.Reader(conn)
	c.br = bufio.NewReaderSize(c.tr, 32<<10)
	c.dec = imapwire.NewDecoder(c.br, c.decLimits())
	go c.readLoop()
	select {
	case err := <-c.greetCh:
		if err != nil {
			c.Close()
			return nil, err
		}
	case <-ctx.Done():
		c.Close()
		return nil, ctx.Err()
	}
	return c, nil
}

func (c *Client) decLimits() imapwire.Limits {
	return imapwire.Limits{
		MaxLine:     c.lim.MaxLine,
		MaxLiteral:  c.lim.MaxString,
		MaxLiterals: 1 << 30,
		MaxDepth:    c.lim.MaxDepth,
	}
}

// Close closes the connection at once, without LOGOUT. Pending commands
// fail with ErrClosed.
func (c *Client) Close() error {
	c.fail(ErrClosed)
	<-c.closedCh
	return nil
}

// Closed returns a channel closed when the connection has ended.
func (c *Client) Closed() <-chan struct{} { return c.closedCh }

// Err returns why the connection ended (an *imap.Error for a BYE, an I/O
// error, or ErrClosed), or nil while it is open.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// fail records the reason the connection ends and closes the socket, which
// stops the reader goroutine. The first reason wins.
func (c *Client) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	conn := c.conn
	c.mu.Unlock()
	conn.Close()
}

// State returns the connection state.
func (c *Client) State() ConnState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

func (c *Client) setState(s ConnState) {
	c.mu.Lock()
	c.state = s
	if s != StateSelected {
		c.mbox = nil
	}
	c.mu.Unlock()
}

// Caps returns the capabilities last announced by the server, upper-cased,
// or nil when they are not known (after STARTTLS or authentication without
// a CAPABILITY response code); Capability asks the server.
func (c *Client) Caps() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.caps == nil {
		return nil
	}
	l := make([]string, 0, len(c.caps))
	for k := range c.caps {
		l = append(l, k)
	}
	return l
}

// Has reports whether the server announced the capability (asking with
// CAPABILITY first when the list is not known).
func (c *Client) Has(ctx context.Context, capability string) bool {
	c.mu.Lock()
	known := c.caps != nil
	c.mu.Unlock()
	if !known {
		c.Capability(ctx)
	}
	return c.hasCap(capability)
}

func (c *Client) hasCap(capability string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.caps[strings.ToUpper(capability)]
}

// Enabled reports whether ENABLE turned the capability on.
func (c *Client) Enabled(capability string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.enabled[strings.ToUpper(capability)]
}

func (c *Client) utf8() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.enabled["UTF8=ACCEPT"] || c.enabled["IMAP4REV2"]
}

func (c *Client) setCaps(list []string) {
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[strings.ToUpper(s)] = true
	}
	c.mu.Lock()
	c.caps = m
	c.mu.Unlock()
}

// statusResp is a status response: tagged completion or untagged condition.
type statusResp struct {
	typ  imap.StatusType
	code imap.ResponseCode
	arg  string
	text string
}

func (r *statusResp) err() error {
	if r.typ == imap.StatusOK || r.typ == imap.StatusPREAUTH {
		return nil
	}
	return &imap.Error{Type: r.typ, Code: r.code, CodeArg: r.arg, Text: r.text}
}

// command is one command in flight. Fields written by the reader goroutine
// are read by the issuer only after done is closed.
type command struct {
	tag   string
	name  string   // command name as written, e.g. "UID FETCH"
	wants []string // untagged response names routed to this command
	done  chan struct{}
	resp  statusResp
	err   error // connection error, if it ended first

	abandonOnce sync.Once
	abandoned   chan struct{}

	data      []any         // untagged data routed here
	selecting *MailboxState // SELECT/EXAMINE: the mailbox being opened
	fetch     *FetchCommand // streaming FETCH target, if any
	// fetchCollect makes FETCH responses routed here be collected into
	// data as *FetchMessageBuffer (STORE, SELECT).
	fetchCollect bool
	// pause makes the reader goroutine wait after a successful tagged
	// completion for a new reader (STARTTLS, COMPRESS); nil when closed.
	pause chan *bufio.Reader
	// onOK runs in the reader goroutine when the command completes OK,
	// before done is closed.
	onOK func()
	// release returns the command's serial token (see Client.serial)
	// when it completes; nil when it holds none.
	release func()
	// key narrows routing: a STATUS command takes only the STATUS
	// response for its mailbox.
	key string
}

// serialGroup names the group a command belongs to, or "".
func serialGroup(name string) string {
	switch name {
	case "FETCH", "UID FETCH", "STORE", "UID STORE", "SELECT", "EXAMINE":
		return "FETCH"
	case "SEARCH", "UID SEARCH", "SORT", "UID SORT", "THREAD", "UID THREAD":
		return "SEARCH"
	case "LIST", "LSUB":
		return "LIST"
	}
	return ""
}

// acquire takes the serial token of the command's group; the caller does
// not hold wmu. It returns the release function for newCommand.
func (c *Client) acquire(ctx context.Context, name string) (func(), error) {
	ch := c.serial[serialGroup(name)]
	if ch == nil {
		return nil, nil
	}
	select {
	case ch <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-ch }) }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.closedCh:
		return nil, c.connErr()
	}
}

// connErr is the error for commands on an ended connection: it matches
// ErrClosed and, after a BYE, *imap.Error.
func (c *Client) connErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return wrapClosed(c.err)
}

func wrapClosed(err error) error {
	if err == nil || errors.Is(err, ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrClosed, err)
}

func (cmd *command) abandon() { cmd.abandonOnce.Do(func() { close(cmd.abandoned) }) }

func (cmd *command) wantsName(name string) bool {
	for _, w := range cmd.wants {
		if w == name {
			return true
		}
	}
	return false
}

// result returns the command's error after completion.
func (cmd *command) result() error {
	if cmd.err != nil {
		return cmd.err
	}
	return cmd.resp.err()
}

// newCommand registers a command; the caller holds wmu.
func (c *Client) newCommand(name string, release func(), wants ...string) (*command, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		if release != nil {
			release()
		}
		return nil, wrapClosed(c.err)
	}
	c.tagNum++
	cmd := &command{
		tag:       "T" + strconv.FormatUint(c.tagNum, 10),
		name:      name,
		wants:     wants,
		done:      make(chan struct{}),
		abandoned: make(chan struct{}),
		release:   release,
	}
	c.pending = append(c.pending, cmd)
	return cmd, nil
}

// route returns the oldest pending command that takes untagged responses
// of the given name, or nil.
func (c *Client) route(name string) *command {
	return c.routeKey(name, "")
}

// routeKey is route for data about one mailbox (STATUS): a command with a
// key takes only data with that key.
func (c *Client) routeKey(name, key string) *command {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cmd := range c.pending {
		if cmd.wantsName(name) && (cmd.key == "" || cmd.key == key) {
			return cmd
		}
	}
	return nil
}

// writeCtx arranges for ctx to reach the socket while the caller writes:
// its deadline becomes the write deadline, and cancellation interrupts a
// blocked write. The returned function undoes it.
func (c *Client) writeCtx(ctx context.Context) func() {
	conn := c.currentConn()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetWriteDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetWriteDeadline(time.Unix(1, 0)) })
	return func() {
		stop()
		conn.SetWriteDeadline(time.Time{})
	}
}

func (c *Client) currentConn() net.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn
}

// writeFailed handles an error while writing a command: the stream may be
// out of step, so the connection is closed. A context error is reported as
// such.
func (c *Client) writeFailed(ctx context.Context, err error) error {
	c.fail(fmt.Errorf("imapclient: write: %w", err))
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// nonSyncOK reports whether a literal of n octets may be sent without
// waiting for a continuation (RFC 7888).
func (c *Client) nonSyncOK(n int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.caps["LITERAL+"] || (c.caps["LITERAL-"] && n <= 4096)
}

// newLine starts a command line from parts that hold no string argument.
func newLine(parts ...string) *imapwire.Command {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	l := &imapwire.Command{Bytes: make([]byte, 0, n+64)}
	for _, p := range parts {
		l.Raw(p)
	}
	return l
}

// sendLine writes the command line (after the tag) and the final CRLF,
// and flushes.
// The caller holds wmu.
func (c *Client) sendLine(ctx context.Context, cmd *command, l *imapwire.Command) error {
	c.bw.WriteString(cmd.tag)
	c.bw.WriteByte(' ')
	if err := c.writeLine(ctx, cmd, l); err != nil {
		return err
	}
	c.bw.WriteString("\r\n")
	return c.bw.Flush()
}

// writeLine writes l, closing each literal header where l says it is:
// synchronising literals wait for the server's continuation request
// (RFC 9051 §7.5); with LITERAL+ (or LITERAL- for small ones) they are
// sent non-synchronising (RFC 7888). The literals' places come from how
// the line was built, never from scanning it, so data that reads "{1}"
// CRLF is only data. The caller holds wmu.
func (c *Client) writeLine(ctx context.Context, cmd *command, l *imapwire.Command) error {
	return l.Segments(func(b []byte, lit bool, n int64) error {
		c.bw.Write(b)
		if !lit {
			return nil
		}
		if c.nonSyncOK(n) {
			c.bw.WriteString("+}\r\n")
			return nil
		}
		c.bw.WriteString("}\r\n")
		return c.waitContinuation(ctx, cmd)
	})
}

// waitContinuation flushes and waits for a continuation request. A
// tagged completion (the server refused the literal) is returned as the
// command's error. The caller holds wmu.
func (c *Client) waitContinuation(ctx context.Context, cmd *command) error {
	_, err := c.continuation(ctx, cmd)
	return err
}

// continuation flushes and returns the text of the next continuation
// request. The caller holds wmu.
func (c *Client) continuation(ctx context.Context, cmd *command) (string, error) {
	ch := make(chan string, 1)
	c.mu.Lock()
	c.contWaiter = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.contWaiter == ch {
			c.contWaiter = nil
		}
		c.mu.Unlock()
	}()
	if err := c.bw.Flush(); err != nil {
		return "", err
	}
	select {
	case text := <-ch:
		return text, nil
	case <-cmd.done:
		if err := cmd.result(); err != nil {
			return "", err
		}
		return "", errors.New("imapclient: command completed while a continuation was due")
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// wait waits for the tagged completion of cmd. When ctx ends first the
// command is abandoned: its responses are read and dropped by the reader
// goroutine, and the connection stays usable.
func (c *Client) wait(ctx context.Context, cmd *command) error {
	select {
	case <-cmd.done:
		return cmd.result()
	case <-ctx.Done():
		cmd.abandon()
		return ctx.Err()
	}
}

// do runs a simple command: write the line, wait for completion.
func (c *Client) do(ctx context.Context, name string, line *imapwire.Command, wants ...string) (*command, error) {
	cmd, err := c.start(ctx, name, line, wants...)
	if err != nil {
		return nil, err
	}
	return cmd, c.wait(ctx, cmd)
}

// start writes a command and returns it without waiting.
func (c *Client) start(ctx context.Context, name string, line *imapwire.Command, wants ...string) (*command, error) {
	return c.startKey(ctx, name, "", line, wants...)
}

// startKey is start for a command that takes only data with the given key
// (see command.key).
func (c *Client) startKey(ctx context.Context, name, key string, line *imapwire.Command, wants ...string) (*command, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	release, err := c.acquire(ctx, name)
	if err != nil {
		return nil, err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	cmd, err := c.newCommand(name, release, wants...)
	if err != nil {
		return nil, err
	}
	cmd.key = key
	undo := c.writeCtx(ctx)
	err = c.sendLine(ctx, cmd, line)
	undo()
	if err != nil {
		if isImapError(err) {
			return cmd, err
		}
		return nil, c.writeFailed(ctx, err)
	}
	return cmd, nil
}

func isImapError(err error) bool {
	var ie *imap.Error
	return errors.As(err, &ie)
}

// appendMailbox appends a mailbox name as an astring, in modified UTF-7
// unless UTF-8 was enabled (RFC 9051 §5.1, RFC 6855 §3).
func (c *Client) appendMailbox(l *imapwire.Command, name string) {
	u := c.utf8()
	if !u {
		name = imap.EncodeMailboxName(name)
	}
	l.AString(name, u)
}

// decodeMailbox turns a name from the wire into UTF-8.
func (c *Client) decodeMailbox(name string) string {
	if c.utf8() {
		return name
	}
	if s, err := imap.DecodeMailboxName(name); err == nil {
		return s
	}
	return name
}

// discard drains r; used for literals nobody reads.
func discard(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}
