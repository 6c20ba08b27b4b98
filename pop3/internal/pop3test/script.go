package pop3test

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

// Dial opens a raw connection to addr.
func Dial(t testing.TB, addr string) *Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return Wrap(t, nc)
}

// Wrap makes a Conn of an established connection (a *tls.Conn, say).
func Wrap(t testing.TB, nc net.Conn) *Conn {
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	return &Conn{t: t, nc: nc, br: bufio.NewReader(nc)}
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

// ReadLine reads one line without CRLF.
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

// Script runs an exchange written as in the RFCs, one line each:
//
//	C: LIST        sent (CRLF added)
//	S: +OK 2 320   expected exactly
//	S: +OK *       expected to start with "+OK "
//
// Lines "C: " may be grouped to pipeline them: all C: lines before the
// next S: line go out in one write.
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
			want := strings.TrimPrefix(strings.TrimPrefix(l, "S:"), " ")
			got := c.ReadLine()
			if strings.HasSuffix(want, "*") {
				if !strings.HasPrefix(got, strings.TrimSuffix(want, "*")) {
					c.t.Fatalf("S: %q, want %q", got, want)
				}
			} else if got != want {
				c.t.Fatalf("S: %q, want %q", got, want)
			}
		case l == "":
		default:
			c.t.Fatalf("bad script line %q", l)
		}
	}
	if out.Len() > 0 {
		c.Send(out.String())
	}
}

// ExpectClosed checks that the server closes the connection.
func (c *Conn) ExpectClosed() {
	c.t.Helper()
	line, err := c.br.ReadString('\n')
	if err == nil {
		c.t.Fatalf("connection still open, got %q", line)
	}
}
