package deflate

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testpeer"
)

// pair returns two connected TCP sockets on 127.0.0.1, both wrapped.
func pair(t testing.TB) (client, server *Conn) { return pairLevel(t, 0) }

func pairLevel(t testing.TB, level int) (client, server *Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			acc <- nil
			return
		}
		acc <- c
	}()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc := <-acc
	if sc == nil {
		t.Fatal("accept failed")
	}
	client, err = NewConn(cc, Options{Level: level})
	if err != nil {
		t.Fatal(err)
	}
	server, err = NewConn(sc, Options{Level: 6})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// Every response flushed by the protocol's bufio.Writer must be readable by
// the peer at once, without the sender writing anything more (RFC 4978 §4;
// the stuck-compressor problem). Each read has a deadline, so data held back
// in a compressor fails the test instead of hanging it.
func TestSmallFlushedMessagesArriveAtOnce(t *testing.T) {
	client, server := pair(t)
	errc := make(chan error, 1)
	go func() {
		br := bufio.NewReader(server)
		bw := bufio.NewWriter(server)
		for {
			server.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, err := br.ReadString('\n')
			if err != nil {
				errc <- err
				return
			}
			tag, _, _ := strings.Cut(line, " ")
			// S: * OK untagged, then the tagged completion: one flush.
			fmt.Fprintf(bw, "* 1 FETCH (FLAGS (\\Seen))\r\n%s OK done\r\n", tag)
			if err := bw.Flush(); err != nil {
				errc <- err
				return
			}
			if strings.HasPrefix(line, "z LOGOUT") {
				errc <- nil
				return
			}
		}
	}()
	br := bufio.NewReader(client)
	bw := bufio.NewWriter(client)
	for i := range 500 {
		tag := fmt.Sprintf("a%d", i)
		fmt.Fprintf(bw, "%s NOOP\r\n", tag)
		if err := bw.Flush(); err != nil {
			t.Fatal(err)
		}
		client.SetReadDeadline(time.Now().Add(5 * time.Second))
		for _, want := range []string{"* 1 FETCH (FLAGS (\\Seen))\r\n", tag + " OK done\r\n"} {
			got, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("command %d: %v (response stuck in a compressor?)", i, err)
			}
			if got != want {
				t.Fatalf("command %d: got %q, want %q", i, got, want)
			}
		}
	}
	fmt.Fprintf(bw, "z LOGOUT\r\n")
	bw.Flush()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func payload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	words := []string{"Subject:", "Re:", "the", "mail", "IMAP", "=?utf-8?q?caf=C3=A9?=", "\r\n", "FETCH", "BODY[]"}
	var b bytes.Buffer
	for b.Len() < n {
		if r.IntN(10) == 0 {
			// Incompressible runs, as in base64 attachments.
			for range 64 {
				b.WriteByte(byte(r.Uint32()))
			}
			continue
		}
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(' ')
	}
	return b.Bytes()[:n]
}

func TestLargePayloadBothWays(t *testing.T) {
	client, server := pair(t)
	up := payload(1<<20, 1)
	down := payload(2<<20, 2)
	type result struct {
		sum [32]byte
		err error
	}
	readAll := func(c *Conn, n int, out chan<- result) {
		h := sha256.New()
		_, err := io.CopyN(h, c, int64(n))
		var r result
		copy(r.sum[:], h.Sum(nil))
		r.err = err
		out <- r
	}
	atServer := make(chan result, 1)
	atClient := make(chan result, 1)
	go readAll(server, len(up), atServer)
	go readAll(client, len(down), atClient)
	werr := make(chan error, 2)
	go func() { _, err := client.Write(up); werr <- err }()
	go func() {
		// Written in pieces without flushing, then one flush.
		var err error
		for p := down; len(p) > 0 && err == nil; {
			k := min(len(p), 100000)
			_, err = server.WriteNoFlush(p[:k])
			p = p[k:]
		}
		if err == nil {
			err = server.Flush()
		}
		werr <- err
	}()
	for range 2 {
		if err := <-werr; err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		ch   chan result
		want []byte
	}{{atServer, up}, {atClient, down}} {
		r := <-c.ch
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.sum != sha256.Sum256(c.want) {
			t.Fatal("payload corrupted")
		}
	}
}

// After Close, the peer reads everything written and then io.EOF.
func TestCloseDeliversPendingAndEOF(t *testing.T) {
	client, server := pair(t)
	if _, err := client.WriteNoFlush([]byte("a LOGOUT\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if err := client.Close(); err == nil {
		t.Log("second Close returned nil") // allowed, documented as the underlying Close
	}
	if _, err := client.Write([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close: %v, want ErrClosed", err)
	}
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(server)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "a LOGOUT\r\n" {
		t.Fatalf("got %q", got)
	}
}

// Deadlines are the underlying connection's; a timeout surfaces as a
// net.Error with Timeout() true, usable with errors.As.
func TestReadDeadline(t *testing.T) {
	client, _ := pair(t)
	client.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := client.Read(make([]byte, 10))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("got %v, want a timeout", err)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("got %v, want os.ErrDeadlineExceeded", err)
	}
}

// Bytes the protocol's bufio.Reader buffered before COMPRESS are not lost
// when it is passed as Options.Reader.
func TestOptionsReaderKeepsBufferedBytes(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	br := bufio.NewReader(b)
	go func() {
		var comp bytes.Buffer
		peer, _ := NewConn(nopConn{Conn: a, w: &comp}, Options{})
		peer.Write([]byte("b NOOP\r\n"))
		// Plain command and compressed bytes in one write: the reader
		// buffers both.
		a.Write(append([]byte("a COMPRESS DEFLATE\r\n"), comp.Bytes()...))
	}()
	line, err := br.ReadString('\n')
	if err != nil || line != "a COMPRESS DEFLATE\r\n" {
		t.Fatalf("%q %v", line, err)
	}
	c, err := NewConn(b, Options{Reader: br})
	if err != nil {
		t.Fatal(err)
	}
	line, err = bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "b NOOP\r\n" {
		t.Fatalf("%q %v", line, err)
	}
}

type nopConn struct {
	net.Conn
	w io.Writer
}

func (c nopConn) Write(p []byte) (int, error) { return c.w.Write(p) }

func TestBadLevel(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := NewConn(a, Options{Level: 42}); err == nil {
		t.Fatal("level 42 accepted")
	}
}

// Interoperability with zlib through Python: a peer that inflates our
// commands with decompressobj(wbits=-15) and answers each line, compressed
// with compressobj(wbits=-15) and a Z_SYNC_FLUSH, before reading on. Both
// directions, small lines and a large one, against the reference zlib.
func TestPythonZlibInterop(t *testing.T) {
	testpeer.Python(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const script = `
import os, socket, zlib, hashlib
s = socket.create_connection(("127.0.0.1", int(os.environ["PORT"])))
c = zlib.compressobj(6, zlib.DEFLATED, -15)
d = zlib.decompressobj(-15)
buf = b""
n = 0
while True:
    data = s.recv(65536)
    if not data:
        break
    buf += d.decompress(data)
    while b"\n" in buf:
        line, buf = buf.split(b"\n", 1)
        n += 1
        if line.startswith(b"BIG "):
            out = b"SUM " + hashlib.sha256(line[4:]).hexdigest().encode() + b" " + line[4:] + b"\n"
        else:
            out = line.upper() + b"\n"
        s.sendall(c.compress(out) + c.flush(zlib.Z_SYNC_FLUSH))
print(n, "lines", "eof" if d.eof else "open")
`
	type res struct {
		out []byte
		err error
	}
	done := make(chan res, 1)
	go func() {
		out, err := testpeer.RunPythonErr(t, script, fmt.Sprintf("PORT=%d", ln.Addr().(*net.TCPAddr).Port))
		done <- res{out, err}
	}()
	raw, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewConn(raw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReaderSize(c, 1<<20)
	bw := bufio.NewWriter(c)
	for i := range 300 {
		fmt.Fprintf(bw, "a%d select inbox\n", i)
		bw.Flush()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if want := fmt.Sprintf("A%d SELECT INBOX\n", i); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	big := bytes.ReplaceAll(payload(1<<20, 3), []byte("\n"), []byte("_"))
	bw.WriteString("BIG ")
	bw.Write(big)
	bw.WriteString("\n")
	bw.Flush()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("SUM %x %s\n", sha256.Sum256(big), big)
	if got != want {
		t.Fatalf("big line differs (len %d, want %d)", len(got), len(want))
	}
	c.Close()
	r := <-done
	if r.err != nil {
		t.Fatalf("python: %v\n%s", r.err, r.out)
	}
	if s := strings.TrimSpace(string(r.out)); s != "301 lines eof" {
		t.Fatalf("python says %q", s)
	}
}

func BenchmarkThroughput(b *testing.B) {
	for _, level := range []int{1, 6} {
		b.Run(fmt.Sprintf("level%d", level), func(b *testing.B) {
			client, server := pairLevel(b, level)
			chunk := payload(64<<10, 4)
			done := make(chan error, 1)
			go func() {
				_, err := io.CopyN(io.Discard, server, int64(len(chunk))*int64(b.N))
				done <- err
			}()
			b.SetBytes(int64(len(chunk)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := client.Write(chunk); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}
