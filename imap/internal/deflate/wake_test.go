package deflate

import (
	"bytes"
	"compress/flate"
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

// A timeout in the middle of a block is not final either: the half-read
// step is undone, and the rest of the block completes it.
func TestReadTimeoutInsideBlockIsRecoverable(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c, err := NewConn(b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	want := strings.Repeat("a7 UID FETCH 1:* (FLAGS)\r\n", 40)
	fw.Write([]byte(want))
	fw.Flush()
	data := comp.Bytes()
	go a.Write(data[:len(data)/2])
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	got := make([]byte, 0, len(want))
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	go a.Write(data[len(data)/2:])
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < len(want) {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatal(err)
		}
	}
	if string(got) != want {
		t.Fatalf("got %q", got)
	}
}
