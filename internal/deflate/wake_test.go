package deflate

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// A read timeout that strikes while the peer is quiet between two flushed
// writes is not final: a server wakes a reader by moving its deadline (IMAP
// IDLE), and the stream goes on, back-references into data read before the
// timeout included.
func TestReadTimeoutBetweenFlushesIsRecoverable(t *testing.T) {
	client, server := pair(t)
	first := strings.Repeat("* 1 FETCH (FLAGS (\\Seen))\r\n", 50)
	readN := func(n int) string {
		t.Helper()
		server.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, n)
		if _, err := io.ReadFull(server, buf); err != nil {
			t.Fatal(err)
		}
		return string(buf)
	}
	if _, err := client.Write([]byte(first)); err != nil {
		t.Fatal(err)
	}
	if got := readN(len(first)); got != first {
		t.Fatalf("got %q", got)
	}
	for i := 0; i < 3; i++ {
		// The wake: the deadline moves to now while nothing is coming.
		server.SetReadDeadline(time.Now())
		_, err := server.Read(make([]byte, 10))
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("round %d: got %v, want a timeout", i, err)
		}
		// More of the same text: the compressor refers back to first.
		if _, err := client.Write([]byte(first + "DONE\r\n")); err != nil {
			t.Fatal(err)
		}
		if got := readN(len(first) + 6); got != first+"DONE\r\n" {
			t.Fatalf("round %d: got %q", i, got)
		}
	}
}

// A timeout in the middle of a block loses the stream position: it is
// final, as every later Read reports.
func TestReadTimeoutInsideBlockIsFinal(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c, err := NewConn(b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	go a.Write([]byte{0x02}) // a block header and nothing more
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := c.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("got %v, want a timeout", err)
	}
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := c.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("second read: got %v, want the same final timeout", err)
	}
}
