// Package wiretrace writes a protocol trace of an SMTP, IMAP or POP3
// session for debugging, the same way for the three clients and the three
// servers, which turn it on with their Trace field.
//
// Each line that crosses the connection is written as "C: " (client to
// server) or "S: " (server to client) and the line, after an optional
// prefix that tells sessions apart. What must not reach a log never does:
//
//   - SASL: the initial response on AUTH/AUTHENTICATE and every line of
//     the exchange that follows, in both directions (challenges and
//     responses, RFC 4954 §4, RFC 9051 §6.2.2, RFC 5034 §4), until the
//     server's final reply;
//   - IMAP LOGIN's arguments, also when they are sent as literals
//     (RFC 9051 §6.2.3), POP3 PASS and the APOP digest (RFC 1939 §7);
//   - message bodies are elided after a few lines: SMTP DATA and BDAT,
//     POP3 RETR and TOP, IMAP literals (APPEND, FETCH BODY[]).
//
// Implementation notes: the tracer sits between the socket (or the TLS or
// COMPRESS layer) and the session's buffered reader and writer, so it sees
// bytes as they cross the wire, in whatever chunks the peer sent. Each
// direction keeps a partial line and a count of literal or chunk octets
// still due; the session state (an AUTH in progress, a DATA body, the POP3
// replies still owed) is shared by both directions under one mutex, which
// also keeps the trace lines of a session whole. A nil *Tracer traces
// nothing and returns readers and writers unchanged.
package wiretrace

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Protocol is the protocol a Tracer parses.
type Protocol int

// Protocols.
const (
	SMTP Protocol = iota
	IMAP
	POP3
)

// BodyLines is how many lines of a message body a trace shows before it
// elides the rest.
const BodyLines = 5

// maxLine bounds one traced line; the rest is counted, not shown.
const maxLine = 512

// maxOwed bounds the POP3 replies a trace waits for; past it, a pipelined
// burst's replies are traced as single-line ones.
const maxOwed = 1024

// Tracer writes the trace of one session.
type Tracer struct {
	mu     sync.Mutex
	w      io.Writer
	proto  Protocol
	server bool
	prefix string

	c2s, s2c dir

	// Session state, seen from both directions.
	auth     bool   // a SASL exchange is running
	authTag  string // IMAP: the AUTHENTICATE command's tag
	dataWait bool   // SMTP: DATA sent, 354 not yet seen
	data     bool   // SMTP: in the DATA body
	owed     []byte // POP3: per command sent, the reply kind expected
	multi    byte   // POP3: kind of the multi-line reply being read, or 0
	body     int    // lines of the current body seen
}

// POP3 reply kinds.
const (
	single  = 's'
	multi   = 'm' // a multi-line reply shown in full
	msgBody = 'b' // a message: elided after BodyLines
)

// dir is the parse state of one direction.
type dir struct {
	fromClient bool
	line       []byte
	tail       []byte // the last octets of the current line, for a literal header
	over       int    // bytes of the current line beyond maxLine
	due        int64  // literal or BDAT octets still to come
	redact     bool   // the octets due are a secret
	elide      bool   // the octets due are message data shown in part
	lines      int    // lines of the literal shown
	secretCmd  bool   // IMAP: the rest of this command is a secret (LOGIN)
}

// New returns a Tracer writing to w, or nil when w is nil. server says
// which end of the connection it sits on; prefix starts every line (a
// session number or the peer's address, say; may be empty).
func New(w io.Writer, p Protocol, server bool, prefix string) *Tracer {
	if w == nil {
		return nil
	}
	t := &Tracer{w: w, proto: p, server: server, prefix: prefix}
	t.c2s.fromClient = true
	return t
}

// Reader returns r traced as what the peer sends; a nil Tracer returns r.
func (t *Tracer) Reader(r io.Reader) io.Reader {
	if t == nil {
		return r
	}
	return &reader{t: t, r: r, d: t.peer()}
}

// Writer returns w traced as what this end sends; a nil Tracer returns w.
func (t *Tracer) Writer(w io.Writer) io.Writer {
	if t == nil {
		return w
	}
	return &writer{t: t, w: w, d: t.self()}
}

func (t *Tracer) peer() *dir {
	if t.server {
		return &t.c2s
	}
	return &t.s2c
}

func (t *Tracer) self() *dir {
	if t.server {
		return &t.s2c
	}
	return &t.c2s
}

type reader struct {
	t   *Tracer
	r   io.Reader
	d   *dir
	off atomic.Bool
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 && !r.off.Load() {
		r.t.feed(r.d, p[:n])
	}
	return n, err
}

// Stop stops tracing a reader returned by Reader, for a layer that goes
// under another (COMPRESS: the compressed bytes are not the protocol's;
// the inflated stream gets a Reader of its own). Other readers are left
// alone.
func Stop(r io.Reader) {
	if tr, ok := r.(*reader); ok {
		tr.off.Store(true)
	}
}

type writer struct {
	t *Tracer
	w io.Writer
	d *dir
}

// Write traces p before it is written, so that a line sent comes before
// the reply to it in the trace.
func (w *writer) Write(p []byte) (int, error) {
	w.t.feed(w.d, p)
	return w.w.Write(p)
}

// feed parses b, the next bytes of direction d.
func (t *Tracer) feed(d *dir, b []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(b) > 0 {
		if d.due > 0 {
			n := int64(len(b))
			if n > d.due {
				n = d.due
			}
			t.octets(d, b[:n])
			b = b[n:]
			d.due -= n
			if d.due == 0 {
				t.endOctets(d)
			}
			continue
		}
		i := bytes.IndexByte(b, '\n')
		chunk := b
		if i >= 0 {
			chunk = b[:i+1]
		}
		if room := maxLine - len(d.line); room < len(chunk) {
			if room > 0 {
				d.line = append(d.line, chunk[:room]...)
			}
			d.over += len(chunk) - max(room, 0)
		} else {
			d.line = append(d.line, chunk...)
		}
		d.tail = append(d.tail, chunk...)
		if len(d.tail) > 32 {
			d.tail = append(d.tail[:0], d.tail[len(d.tail)-32:]...)
		}
		b = b[len(chunk):]
		if i < 0 {
			return
		}
		line := strings.TrimRight(string(d.line), "\r\n")
		lit := literalAt(strings.TrimRight(string(d.tail), "\r\n"))
		over := d.over
		d.line, d.tail, d.over = d.line[:0], d.tail[:0], 0
		t.line(d, line, over, lit)
	}
}

// octets handles literal or BDAT data.
func (t *Tracer) octets(d *dir, b []byte) {
	if d.redact || !d.elide {
		return
	}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		chunk := b
		if i >= 0 {
			chunk = b[:i+1]
		}
		if d.lines < BodyLines && len(d.line) < maxLine {
			d.line = append(d.line, chunk[:min(len(chunk), maxLine-len(d.line))]...)
		}
		b = b[len(chunk):]
		if i >= 0 {
			if d.lines < BodyLines {
				t.print(d, strings.TrimRight(string(d.line), "\r\n"))
			}
			d.lines++
			d.line = d.line[:0]
		}
	}
}

func (t *Tracer) endOctets(d *dir) {
	switch {
	case d.redact:
		t.print(d, "[redacted]")
	case d.elide:
		if len(d.line) > 0 && d.lines < BodyLines {
			t.print(d, string(d.line))
			d.lines++
		}
		if d.lines > BodyLines {
			t.print(d, fmt.Sprintf("[%d more lines elided]", d.lines-BodyLines))
		}
	}
	d.line, d.redact, d.elide, d.lines = d.line[:0], false, false, 0
}

func (t *Tracer) print(d *dir, s string) {
	tag := "S: "
	if d.fromClient {
		tag = "C: "
	}
	io.WriteString(t.w, t.prefix+tag+s+"\n")
}

// printLine prints a line, noting how much of it was cut.
func (t *Tracer) printLine(d *dir, s string, over int) {
	if over > 0 {
		s += "[" + strconv.Itoa(over) + " more octets]"
	}
	t.print(d, s)
}

// line handles one whole line of direction d.
func (t *Tracer) line(d *dir, s string, over int, lit int64) {
	switch t.proto {
	case SMTP:
		t.smtp(d, s, over)
	case POP3:
		t.pop3(d, s, over)
	default:
		t.imap(d, s, over, lit)
	}
}

// verb returns the upper-cased first word of s and the rest.
func verb(s string) (string, string) {
	v, rest, _ := strings.Cut(s, " ")
	return strings.ToUpper(v), rest
}

// authLine prints AUTH's mechanism and hides its initial response.
func authLine(s string) string {
	f := strings.Fields(s)
	if len(f) > 2 {
		return f[0] + " " + f[1] + " [redacted]"
	}
	return s
}

// body counts a line of a message body and says whether to show it.
func (t *Tracer) bodyLine(d *dir, s string, over int) {
	t.body++
	if t.body <= BodyLines {
		t.printLine(d, s, over)
	}
}

func (t *Tracer) endBody(d *dir) {
	if t.body > BodyLines {
		t.print(d, fmt.Sprintf("[%d more lines elided]", t.body-BodyLines))
	}
	t.body = 0
}

// smtp: RFC 5321, RFC 4954 (AUTH), RFC 3030 (BDAT).
func (t *Tracer) smtp(d *dir, s string, over int) {
	if d.fromClient {
		switch {
		case t.data:
			if s == "." {
				t.endBody(d)
				t.data = false
				t.print(d, s)
				return
			}
			t.bodyLine(d, s, over)
			return
		case t.auth:
			t.print(d, "[redacted]")
			return
		}
		v, rest := verb(s)
		switch v {
		case "AUTH":
			t.auth = true
			s = authLine(s)
		case "DATA":
			t.dataWait = true
		case "BDAT":
			if f := strings.Fields(rest); len(f) > 0 {
				if n, err := strconv.ParseInt(f[0], 10, 64); err == nil && n > 0 {
					d.due, d.elide = n, true
				}
			}
		}
		t.printLine(d, s, over)
		return
	}
	switch {
	case t.auth && strings.HasPrefix(s, "334"):
		t.print(d, "334 [redacted]")
		return
	case t.auth:
		t.auth = false
	case t.dataWait && strings.HasPrefix(s, "354"):
		// Replies to pipelined MAIL and RCPT come first; only 354 opens
		// the body (RFC 5321 §4.1.1.4, RFC 2920).
		t.dataWait, t.data = false, true
	}
	t.printLine(d, s, over)
}

// pop3: RFC 1939, RFC 2449 (CAPA), RFC 5034 (AUTH).
func (t *Tracer) pop3(d *dir, s string, over int) {
	if d.fromClient {
		if t.auth {
			t.print(d, "[redacted]")
			return
		}
		v, rest := verb(s)
		kind := byte(single)
		switch v {
		case "PASS":
			s = "PASS [redacted]"
		case "APOP":
			user, _, _ := strings.Cut(rest, " ")
			s = "APOP " + user + " [redacted]"
		case "AUTH":
			if rest == "" {
				kind = multi
			} else {
				t.auth = true
				s = authLine(s)
			}
		case "RETR", "TOP":
			kind = msgBody
		case "CAPA":
			kind = multi
		case "LIST", "UIDL", "LANG":
			if rest == "" {
				kind = multi
			}
		}
		if len(t.owed) < maxOwed {
			t.owed = append(t.owed, kind)
		}
		t.printLine(d, s, over)
		return
	}
	switch {
	case t.multi != 0:
		if s == "." {
			t.endBody(d)
			t.multi = 0
			t.print(d, s)
			return
		}
		if t.multi == msgBody {
			t.bodyLine(d, s, over)
			return
		}
	case t.auth && (s == "+" || strings.HasPrefix(s, "+ ")):
		t.print(d, "+ [redacted]")
		return
	default:
		if t.auth {
			t.auth = false
		}
		kind := byte(single)
		if len(t.owed) > 0 {
			kind, t.owed = t.owed[0], t.owed[1:]
		}
		if kind != single && strings.HasPrefix(s, "+OK") {
			t.multi = kind
		}
	}
	t.printLine(d, s, over)
}

// literalAt returns the size of the literal whose header ends s ("{n}",
// "{n+}", "~{n}"), or -1.
func literalAt(s string) int64 {
	if !strings.HasSuffix(s, "}") {
		return -1
	}
	i := strings.LastIndexByte(s, '{')
	if i < 0 {
		return -1
	}
	num := strings.TrimSuffix(s[i+1:len(s)-1], "+")
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || num == "" || num[0] == '+' || num[0] == '-' {
		return -1
	}
	return n
}

// imap: RFC 9051 (LOGIN §6.2.3, AUTHENTICATE §6.2.2, literals §4.3). n
// is the size of the literal whose header ends the line, or -1.
func (t *Tracer) imap(d *dir, s string, over int, n int64) {
	if d.fromClient {
		switch {
		case t.auth:
			t.print(d, "[redacted]")
			return
		case d.secretCmd:
			// The rest of a LOGIN after a literal.
			if s != "" {
				t.print(d, "[redacted]")
			}
		default:
			tag, rest, _ := strings.Cut(s, " ")
			v, _ := verb(rest)
			switch v {
			case "LOGIN":
				d.secretCmd = true
				t.print(d, tag+" LOGIN [redacted]")
			case "AUTHENTICATE":
				t.auth, t.authTag = true, tag
				t.print(d, tag+" "+authLine(rest))
			default:
				t.printLine(d, s, over)
			}
		}
		switch {
		case n > 0:
			d.due = n
			d.redact, d.elide = d.secretCmd, !d.secretCmd
		case n < 0:
			d.secretCmd = false // the command ends with this line
		}
		return
	}
	if t.auth {
		if s == "+" || strings.HasPrefix(s, "+ ") {
			t.print(d, "+ [redacted]")
			return
		}
		if strings.HasPrefix(s, t.authTag+" ") {
			t.auth = false
		}
	}
	t.printLine(d, s, over)
	if n > 0 {
		d.due, d.elide = n, true
	}
}

// Conn returns nc with its reads and writes traced; its other methods are
// nc's. A nil Tracer returns nc. A server wraps the connection it reads
// and writes the protocol through (again after STARTTLS or COMPRESS,
// with the same Tracer, so that the trace shows the protocol and not the
// TLS records or the compressed bytes).
func (t *Tracer) Conn(nc net.Conn) net.Conn {
	if t == nil {
		return nc
	}
	return &conn{Conn: nc, r: t.Reader(nc), w: t.Writer(nc)}
}

type conn struct {
	net.Conn
	r io.Reader
	w io.Writer
}

func (c *conn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *conn) Write(p []byte) (int, error) { return c.w.Write(p) }
