package pop3client_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/posthorn/posthorn/pop3/internal/pop3test"
	"github.com/posthorn/posthorn/pop3/pop3server"
)

// bigMessage returns a message of about size bytes: header, then text
// lines of up to 78 characters, some starting with a dot.
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

// BenchmarkRetr10MB compares RETR of a 10 MB message, our client against
// our server over loopback, with a raw io.Copy of the same bytes over a
// loopback TCP connection.
func BenchmarkRetr10MB(b *testing.B) {
	msg := bigMessage(10 << 20)
	b.Run("raw-loopback-copy", func(b *testing.B) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
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
		defer nc.Close()
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		buf := make([]byte, 64<<10)
		b.ResetTimer()
		for b.Loop() {
			nc.Write([]byte{1})
			// A 64 KiB read buffer, as the client uses: the fastest way
			// to pull the bytes off the socket.
			for left := len(msg); left > 0; {
				n, err := nc.Read(buf[:min(len(buf), left)])
				if err != nil {
					b.Fatal(err)
				}
				left -= n
			}
		}
	})
	b.Run("pop3-retr", func(b *testing.B) {
		e := pop3test.Start(b, &pop3server.Server{AllowInsecureAuth: true})
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
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			r, err := c.Retr(ctx, 1)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, r)
			if err != nil || n != int64(len(msg)) {
				b.Fatalf("RETR: %d bytes, %v", n, err)
			}
		}
	})
}
