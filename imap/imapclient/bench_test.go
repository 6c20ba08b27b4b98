package imapclient

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap"
)

// cannedConn answers every command line with the same canned untagged
// data and a tagged OK, so benchmarks measure the client alone.
type cannedConn struct {
	mu     sync.Mutex
	cond   *sync.Cond
	out    bytes.Buffer
	resp   []byte
	closed bool
}

func newCannedConn(resp []byte) *cannedConn {
	c := &cannedConn{resp: resp}
	c.cond = sync.NewCond(&c.mu)
	c.out.WriteString("* OK [CAPABILITY IMAP4rev1 LITERAL+] bench\r\n")
	return c
}

func (c *cannedConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.out.Len() == 0 && !c.closed {
		c.cond.Wait()
	}
	if c.closed {
		return 0, net.ErrClosed
	}
	n, _ := c.out.Read(p)
	return n, nil
}

func (c *cannedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, line := range bytes.Split(p, []byte("\r\n")) {
		if len(line) == 0 || line[0] != 'T' {
			continue
		}
		tag, _, _ := bytes.Cut(line, []byte(" "))
		c.out.Write(c.resp)
		c.out.Write(tag)
		c.out.WriteString(" OK done\r\n")
	}
	c.cond.Broadcast()
	return len(p), nil
}

func (c *cannedConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.cond.Broadcast()
	c.mu.Unlock()
	return nil
}
func (c *cannedConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (c *cannedConn) RemoteAddr() net.Addr               { return &net.TCPAddr{} }
func (c *cannedConn) SetDeadline(t time.Time) error      { return nil }
func (c *cannedConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *cannedConn) SetWriteDeadline(t time.Time) error { return nil }

func cannedEnvelopes(n int) []byte {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `* %d FETCH (UID %d FLAGS (\Seen $Label1) RFC822.SIZE 4321 INTERNALDATE "17-Jul-2024 02:44:25 -0700" `+
			`ENVELOPE ("Wed, 17 Jul 2024 02:23:25 -0700" "Re: message number %d" (("Alice Example" NIL "alice" "example.org")) `+
			`(("Alice Example" NIL "alice" "example.org")) (("Alice Example" NIL "alice" "example.org")) ((NIL NIL "bob" "example.com")) `+
			`NIL NIL "<parent@example.org>" "<msg%d@example.org>"))`+"\r\n", i, i, i, i)
	}
	return []byte(b.String())
}

func cannedBodies(n, size int) []byte {
	body := strings.Repeat(strings.Repeat("x", 76)+"\r\n", size/78)
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "* %d FETCH (UID %d BODY[] {%d}\r\n%s)\r\n", i, i, len(body), body)
	}
	return []byte(b.String())
}

func benchFetch(b *testing.B, resp []byte, atts []imap.FetchAtt) {
	ctx := context.Background()
	c, err := NewClient(ctx, newCannedConn(resp), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	all := imap.NumSet{Ranges: []imap.Range{{Start: 1, Stop: imap.Star}}}
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(resp)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fc := c.UIDFetch(ctx, all, atts, nil)
		for m := fc.Next(); m != nil; m = fc.Next() {
			for it := m.Next(); it != nil; it = m.Next() {
				if s, ok := it.(FetchItemBodySection); ok {
					io.CopyBuffer(io.Discard, onlyReader{s.Literal}, buf)
				}
			}
		}
		if err := fc.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

type onlyReader struct{ io.Reader }

// BenchmarkFetchEnvelope: 1000 messages of UID FLAGS RFC822.SIZE
// INTERNALDATE ENVELOPE per op, parsed and streamed to the caller.
func BenchmarkFetchEnvelope(b *testing.B) {
	benchFetch(b, cannedEnvelopes(1000), []imap.FetchAtt{{Item: imap.FetchUID}, {Item: imap.FetchFlags}, {Item: imap.FetchRFC822Size}, {Item: imap.FetchInternalDate}, {Item: imap.FetchEnvelope}})
}

// BenchmarkFetchBody: 100 messages of 20 kB BODY[] per op, streamed.
func BenchmarkFetchBody(b *testing.B) {
	benchFetch(b, cannedBodies(100, 20000), []imap.FetchAtt{{Item: imap.FetchUID}, {Item: imap.FetchBodySection, Section: &imap.FetchSection{Peek: true}}})
}
