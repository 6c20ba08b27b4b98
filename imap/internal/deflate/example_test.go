package deflate_test

import (
	"bufio"
	"compress/flate"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/posthorn/posthorn/imap/internal/deflate"
)

// A server switches to compression right after the CRLF of its tagged OK to
// COMPRESS DEFLATE (RFC 4978 §3); the client does the same on reading it.
func Example() {
	srvRaw, cliRaw := net.Pipe()
	go func() {
		// Server: the tagged OK goes out uncompressed, then everything is
		// compressed. Each bufio flush is a sync flush.
		br := bufio.NewReader(srvRaw)
		br.ReadString('\n') // C: a COMPRESS DEFLATE
		srvRaw.Write([]byte("a OK DEFLATE active\r\n"))
		c, _ := deflate.NewConn(srvRaw, deflate.Options{Reader: br})
		cr := bufio.NewReader(c)
		line, _ := cr.ReadString('\n') // C: b NOOP (compressed)
		w := bufio.NewWriter(c)
		fmt.Fprintf(w, "%s OK NOOP completed\r\n", line[:1])
		w.Flush()
		srvRaw.Close()
	}()
	cliRaw.Write([]byte("a COMPRESS DEFLATE\r\n"))
	br := bufio.NewReader(cliRaw)
	ok, _ := br.ReadString('\n')
	fmt.Println(strings.TrimSpace(ok))
	c, _ := deflate.NewConn(cliRaw, deflate.Options{Reader: br})
	defer c.Close()
	c.Write([]byte("b NOOP\r\n"))
	resp, _ := bufio.NewReader(c).ReadString('\n')
	fmt.Println(strings.TrimSpace(resp))
	// Output:
	// a OK DEFLATE active
	// b OK NOOP completed
}

// An idle Conn parks its compressor in a pool shared by all connections;
// the next Write takes one back. The peer reads one continuous stream.
func ExampleConn_Park() {
	srv, cli := net.Pipe()
	pool := &deflate.WriterPool{} // one per server
	go func() {
		c, _ := deflate.NewConn(srv, deflate.Options{Pool: pool, ParkAfter: 30 * time.Second})
		c.Write([]byte("* OK first response\r\n"))
		c.Park() // idle: the 1.2 MiB compressor goes to the pool
		c.Write([]byte("* OK after the park\r\n"))
		c.Close()
	}()
	plain, _ := io.ReadAll(flate.NewReader(cli))
	fmt.Print(strings.ReplaceAll(string(plain), "\r\n", "\n"))
	// Output:
	// * OK first response
	// * OK after the park
}
