package bench

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

	goimap "github.com/emersion/go-imap/v2"
	goimapclient "github.com/emersion/go-imap/v2/imapclient"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/imapclient"
)

// The IMAP client benchmarks feed both clients the same canned server
// responses through an in-memory net.Conn, so that they measure response
// parsing and delivery to the caller, not a server.

// cannedIMAPConn answers each command line (after the greeting) with the
// same untagged data and a tagged OK.
type cannedIMAPConn struct {
	mu     sync.Mutex
	cond   *sync.Cond
	out    bytes.Buffer
	resp   []byte
	closed bool
}

func newCannedIMAPConn(resp []byte) *cannedIMAPConn {
	c := &cannedIMAPConn{resp: resp}
	c.cond = sync.NewCond(&c.mu)
	c.out.WriteString("* OK [CAPABILITY IMAP4rev1 LITERAL+] bench\r\n")
	return c
}

func (c *cannedIMAPConn) Read(p []byte) (int, error) {
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

func (c *cannedIMAPConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, line := range bytes.Split(p, []byte("\r\n")) {
		tag, rest, ok := bytes.Cut(line, []byte(" "))
		if !ok || !bytes.Contains(rest, []byte("FETCH")) {
			continue
		}
		c.out.Write(c.resp)
		c.out.Write(tag)
		c.out.WriteString(" OK done\r\n")
	}
	c.cond.Broadcast()
	return len(p), nil
}

func (c *cannedIMAPConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.cond.Broadcast()
	c.mu.Unlock()
	return nil
}
func (c *cannedIMAPConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (c *cannedIMAPConn) RemoteAddr() net.Addr               { return &net.TCPAddr{} }
func (c *cannedIMAPConn) SetDeadline(t time.Time) error      { return nil }
func (c *cannedIMAPConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *cannedIMAPConn) SetWriteDeadline(t time.Time) error { return nil }

func imapCannedEnvelopes(n int) []byte {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `* %d FETCH (UID %d FLAGS (\Seen $Label1) RFC822.SIZE 4321 INTERNALDATE "17-Jul-2024 02:44:25 -0700" `+
			`ENVELOPE ("Wed, 17 Jul 2024 02:23:25 -0700" "Re: message number %d" (("Alice Example" NIL "alice" "example.org")) `+
			`(("Alice Example" NIL "alice" "example.org")) (("Alice Example" NIL "alice" "example.org")) ((NIL NIL "bob" "example.com")) `+
			`NIL NIL "<parent@example.org>" "<msg%d@example.org>"))`+"\r\n", i, i, i, i)
	}
	return []byte(b.String())
}

func imapCannedBodyStructures(n int) []byte {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `* %d FETCH (UID %d BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "UTF-8") NIL NIL "QUOTED-PRINTABLE" 1234 40 NIL NIL NIL NIL)`+
			`("TEXT" "HTML" ("CHARSET" "UTF-8") NIL NIL "QUOTED-PRINTABLE" 5678 120 NIL NIL NIL NIL) "ALTERNATIVE" ("BOUNDARY" "b1") NIL NIL NIL))`+"\r\n", i, i)
	}
	return []byte(b.String())
}

func imapCannedBodies(n, size int) []byte {
	body := strings.Repeat(strings.Repeat("x", 76)+"\r\n", size/78)
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "* %d FETCH (UID %d BODY[] {%d}\r\n%s)\r\n", i, i, len(body), body)
	}
	return []byte(b.String())
}

type imapFetchCase struct {
	name string
	resp []byte
	ph   []imap.FetchAtt
	gi   *goimap.FetchOptions
}

func imapFetchCases() []imapFetchCase {
	return []imapFetchCase{
		{"Envelope", imapCannedEnvelopes(1000),
			[]imap.FetchAtt{{Item: imap.FetchUID}, {Item: imap.FetchFlags}, {Item: imap.FetchRFC822Size}, {Item: imap.FetchInternalDate}, {Item: imap.FetchEnvelope}},
			&goimap.FetchOptions{UID: true, Flags: true, RFC822Size: true, InternalDate: true, Envelope: true}},
		{"BodyStructure", imapCannedBodyStructures(1000),
			[]imap.FetchAtt{{Item: imap.FetchUID}, {Item: imap.FetchBodyStructure}},
			&goimap.FetchOptions{UID: true, BodyStructure: &goimap.FetchItemBodyStructure{Extended: true}}},
		{"Body", imapCannedBodies(100, 20000),
			[]imap.FetchAtt{{Item: imap.FetchUID}, {Item: imap.FetchBodySection, Section: &imap.FetchSection{Peek: true}}},
			&goimap.FetchOptions{UID: true, BodySection: []*goimap.FetchItemBodySection{{Peek: true}}}},
	}
}

// BenchmarkIMAPClientFetch: UID FETCH 1:* of 1000 messages (100 for
// Body, 20 kB each) per op, every item delivered to the caller and every
// body section read, by posthorn's client and go-imap v2's.
func BenchmarkIMAPClientFetch(b *testing.B) {
	for _, tc := range imapFetchCases() {
		b.Run(tc.name+"/posthorn", func(b *testing.B) {
			ctx := context.Background()
			c, err := imapclient.NewClient(ctx, newCannedIMAPConn(tc.resp), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			all := imap.NumSet{Ranges: []imap.Range{{Start: 1, Stop: imap.Star}}}
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(len(tc.resp)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				fc := c.UIDFetch(ctx, all, tc.ph, nil)
				for m := fc.Next(); m != nil; m = fc.Next() {
					for it := m.Next(); it != nil; it = m.Next() {
						if s, ok := it.(imapclient.FetchItemBodySection); ok {
							io.CopyBuffer(io.Discard, struct{ io.Reader }{s.Literal}, buf)
						}
					}
				}
				if err := fc.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/go-imap", func(b *testing.B) {
			c := goimapclient.New(newCannedIMAPConn(tc.resp), nil)
			defer c.Close()
			all := goimap.UIDSet{goimap.UIDRange{Start: 1, Stop: 0}}
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(len(tc.resp)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				fc := c.Fetch(all, tc.gi)
				for m := fc.Next(); m != nil; m = fc.Next() {
					for it := m.Next(); it != nil; it = m.Next() {
						if s, ok := it.(goimapclient.FetchItemDataBodySection); ok {
							io.CopyBuffer(io.Discard, struct{ io.Reader }{s.Literal}, buf)
						}
					}
				}
				if err := fc.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
