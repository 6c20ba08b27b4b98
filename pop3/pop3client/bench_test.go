package pop3client_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/posthorn/posthorn/pop3/internal/pop3fake"
	"github.com/posthorn/posthorn/pop3/pop3server"
)

// bigMessage returns a message of about size bytes: header, then text
// lines of up to 78 characters, one in 50 starting with a dot.
func bigMessage(size int) []byte {
	var b bytes.Buffer
	b.WriteString("From: bench@example.org\r\nTo: alice@example.org\r\nSubject: 10 MB\r\n\r\n")
	for i := 0; b.Len() < size; i++ {
		if i%50 == 0 {
			b.WriteString(".this line starts with a dot and must be stuffed\r\n")
			continue
		}
		fmt.Fprintf(&b, "line %07d: the quick brown fox jumps over the lazy dog, again and again\r\n", i)
	}
	return b.Bytes()
}

// rawCopy serves msg on a loopback TCP connection each time a byte
// arrives, the baseline for RETR.
type rawCopy struct {
	nc  net.Conn
	buf []byte
	n   int
}

func newRawCopy(b *testing.B, msg []byte) *rawCopy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	go func() {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		one := make([]byte, 1)
		for {
			if _, err := nc.Read(one); err != nil {
				return
			}
			if _, err := io.Copy(nc, bytes.NewReader(msg)); err != nil {
				return
			}
		}
	}()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	return &rawCopy{nc: nc, buf: make([]byte, 64<<10), n: len(msg)}
}

func (r *rawCopy) run(b *testing.B) {
	r.nc.Write([]byte{1})
	// 64 KiB reads, as the client's buffer: the fastest way to pull the
	// bytes off the socket.
	for left := r.n; left > 0; {
		n, err := r.nc.Read(r.buf[:min(len(r.buf), left)])
		if err != nil {
			b.Fatal(err)
		}
		left -= n
	}
}

// BenchmarkRetr10MB measures RETR of a 10 MB message, our client against
// our server over loopback, and in the same loop a raw io.Copy of the
// same bytes over a loopback TCP connection. Interleaving the two keeps
// the comparison fair on a busy machine: pop3-MB/s, raw-MB/s and
// pop3/raw-% are reported; ns/op and MB/s cover both transfers.
func BenchmarkRetr10MB(b *testing.B) {
	msg := bigMessage(10 << 20)
	raw := newRawCopy(b, msg)
	e := pop3fake.Start(b, &pop3server.Server{AllowInsecureAuth: true})
	e.Backend.Deliver("alice", msg)
	ctx := context.Background()
	c, err := dialPlain(ctx, e.Addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.User(ctx, "alice", "secret"); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(2 * int64(len(msg)))
	b.ReportAllocs()
	var tRaw, tPOP3 time.Duration
	for b.Loop() {
		t0 := time.Now()
		raw.run(b)
		t1 := time.Now()
		r, err := c.Retr(ctx, 1)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, r)
		if err != nil || n != int64(len(msg)) {
			b.Fatalf("RETR: %d bytes, %v", n, err)
		}
		tRaw += t1.Sub(t0)
		tPOP3 += time.Since(t1)
	}
	mb := float64(b.N) * float64(len(msg)) / 1e6
	b.ReportMetric(mb/tPOP3.Seconds(), "pop3-MB/s")
	b.ReportMetric(mb/tRaw.Seconds(), "raw-MB/s")
	b.ReportMetric(100*tRaw.Seconds()/tPOP3.Seconds(), "pop3/raw-%")
}
