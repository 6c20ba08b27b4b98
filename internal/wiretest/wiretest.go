// Package wiretest runs client/server exchanges written as the RFCs
// write them, one line each, against a server under test. It is the
// one transcript runner of the smtpserver, imapserver and pop3server
// tests:
//
//	C: a1 LOGIN alice secret      sent, CRLF added
//	S: a1 OK [CAPABILITY ...      expected; "..." (or "*") at the end
//	                              makes the rest of the line free
//	S: ~ a2 OK                    lines skipped up to one containing
//	                              "a2 OK"
//
// "C:" lines up to the next "S:" line go out in one write, so that a
// transcript can pipeline commands. Other lines are comments. Only
// leading white space is trimmed: "S: + " wants the space.
package wiretest

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// Conn is a raw client connection for wire-level tests.
type Conn struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

// Dial opens a raw connection to addr, closed at the end of the test.
func Dial(t testing.TB, addr string) *Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return Wrap(t, nc)
}

// Wrap makes a Conn of an established connection (a *tls.Conn, say),
// with a deadline of 20 seconds for the whole exchange.
func Wrap(t testing.TB, nc net.Conn) *Conn {
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	return New(t, nc, bufio.NewReader(nc))
}

// New makes a Conn reading through br, a reader over nc that the test
// keeps using itself.
func New(t testing.TB, nc net.Conn, br *bufio.Reader) *Conn {
	return &Conn{t: t, nc: nc, br: br}
}

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Buffered reports how many bytes were read ahead.
func (c *Conn) Buffered() int { return c.br.Buffered() }

// Send writes raw bytes.
func (c *Conn) Send(s string) {
	c.t.Helper()
	if _, err := c.nc.Write([]byte(s)); err != nil {
		c.t.Fatalf("C: %q: %v", s, err)
	}
}

// ReadLine reads one line, which must end in CRLF, and returns it
// without.
func (c *Conn) ReadLine() string {
	c.t.Helper()
	line, err := c.br.ReadString('\n')
	if err != nil {
		c.t.Fatalf("reading reply: %v (got %q)", err, line)
	}
	if !strings.HasSuffix(line, "\r\n") {
		c.t.Fatalf("S: %q does not end in CRLF", line)
	}
	return strings.TrimSuffix(line, "\r\n")
}

// Script runs an exchange (see the package comment).
func (c *Conn) Script(exchange string) {
	c.t.Helper()
	var out strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(exchange), "\n") {
		l = strings.TrimLeft(l, " \t")
		switch {
		case strings.HasPrefix(l, "C: "):
			out.WriteString(strings.TrimPrefix(l, "C: ") + "\r\n")
		case l == "C:":
			out.WriteString("\r\n")
		case strings.HasPrefix(l, "S: "), l == "S:":
			if out.Len() > 0 {
				c.Send(out.String())
				out.Reset()
			}
			c.expect(strings.TrimPrefix(strings.TrimPrefix(l, "S:"), " "))
		}
	}
	if out.Len() > 0 {
		c.Send(out.String())
	}
}

// expect reads the line a "S:" line of a script wants.
func (c *Conn) expect(want string) {
	c.t.Helper()
	got := c.ReadLine()
	if text, ok := strings.CutPrefix(want, "~ "); ok {
		for !strings.Contains(got, text) {
			got = c.ReadLine()
		}
		return
	}
	ok := got == want
	if prefix, cut := strings.CutSuffix(want, "..."); cut {
		ok = strings.HasPrefix(got, prefix)
	} else if prefix, cut := strings.CutSuffix(want, "*"); cut {
		ok = strings.HasPrefix(got, prefix)
	}
	if !ok {
		c.t.Fatalf("\n got S: %s\nwant S: %s", got, want)
	}
}

// ExpectClosed checks that the server closes the connection within five
// seconds, with nothing more said.
func (c *Conn) ExpectClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := c.br.ReadString('\n')
	if err == nil {
		c.t.Fatalf("connection still open, got %q", line)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		c.t.Fatalf("connection still open after 5s")
	}
}
