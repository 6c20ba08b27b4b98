package imapserver_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
	"github.com/posthorn/posthorn/imap/internal/deflate"
)

// countConn counts the octets read from the connection.
type countConn struct {
	net.Conn
	n atomic.Int64
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// A compressed session that sits in IDLE long enough for its compressor to
// be parked (500 ms without writing) still sends its updates, and the
// stream goes on across the park: the same body fetched before and after
// a park compresses to a fraction of its first size the second time, so
// the new compressor was primed with what the client's window holds
// (RFC 4978 §3 one stream; RFC 1951 §2 the 32 KiB window).
func TestCompressIdleAcrossPark(t *testing.T) {
	ts := newTestServer(t)
	var body strings.Builder
	body.WriteString("From: Bob <bob@example.org>\r\nSubject: big\r\n\r\n")
	for i := 0; body.Len() < 20000; i++ {
		fmt.Fprintf(&body, "line %d of a body that must come through the same after a park %x\r\n", i, i*7919)
	}
	ts.deliver(body.String())
	c := ts.login()
	cc := &countConn{Conn: c.conn}
	c.conn, c.br = cc, bufio.NewReader(cc)
	c.compress()
	c.run(`
C: a SELECT INBOX
S: ~ a OK`)
	fetch := func(tag string) int64 {
		before := cc.n.Load()
		c.send(tag + " FETCH 1 BODY.PEEK[]")
		if l := c.readLine(); !strings.HasPrefix(l, "* 1 FETCH (BODY[] {") {
			t.Fatalf("got %q", l)
		}
		c.run(`S: ~ ` + tag + ` OK FETCH completed`)
		return cc.n.Load() - before
	}
	first := fetch("b")
	time.Sleep(800 * time.Millisecond) // parked
	c.run(`
C: c IDLE
S: + idling`)
	time.Sleep(800 * time.Millisecond) // parked again, in IDLE
	ts.deliver(msg1)
	c.run(`
S: * 2 EXISTS
S: * 2 RECENT`)
	time.Sleep(800 * time.Millisecond)
	c.run(`
C: DONE
S: c OK IDLE completed`)
	time.Sleep(800 * time.Millisecond)
	second := fetch("d")
	t.Logf("FETCH of %d octets: %d compressed octets, %d after a park", body.Len(), first, second)
	if second > first/4 {
		t.Errorf("the repeat after a park took %d octets, the first FETCH %d: history not primed?", second, first)
	}
	c.run(`
C: e FETCH 2 (UID)
S: * 2 FETCH (UID 2)
S: e OK FETCH completed`)
}

// BenchmarkIdleCompressedConnections is BenchmarkIdleConnections with
// COMPRESS=DEFLATE: the server's memory per connection in IDLE once the
// compressors are parked. The clients compress with a deflate.Conn only
// to get into IDLE and then drop it, so the figure is the server's.
func BenchmarkIdleCompressedConnections(b *testing.B) {
	const conns = 200
	store := imapmem.New()
	store.AddUser("alice", "secret")
	for range 1000 {
		store.Deliver(context.Background(), "alice", strings.NewReader(msg1))
	}
	srv := &imapserver.Server{Backend: store, AllowInsecureAuth: true, Limits: imapserver.Limits{MaxConnectionsPerIP: -1}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	for range b.N {
		before := memInUse()
		cs := make([]net.Conn, 0, conns)
		for range conns {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			cs = append(cs, c)
			br := bufio.NewReader(c)
			fmt.Fprintf(c, "a LOGIN alice secret\r\nz COMPRESS DEFLATE\r\n")
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					b.Fatal(err)
				}
				if strings.HasPrefix(l, "z OK") {
					break
				}
			}
			zc, err := deflate.NewConn(c, deflate.Options{Reader: br})
			if err != nil {
				b.Fatal(err)
			}
			fmt.Fprintf(zc, "b SELECT INBOX\r\nc FETCH 1:20 BODY.PEEK[]\r\nd IDLE\r\n")
			zr := bufio.NewReader(zc)
			for {
				l, err := zr.ReadString('\n')
				if err != nil {
					b.Fatal(err)
				}
				if strings.HasPrefix(l, "+ idling") {
					break
				}
			}
		}
		time.Sleep(time.Second) // the server parks compressors after 500 ms
		after := memInUse()
		b.ReportMetric(float64(after-before)/conns/1024, "KiB/conn")
		for _, c := range cs {
			c.Close()
		}
	}
}
