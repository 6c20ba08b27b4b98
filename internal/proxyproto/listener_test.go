package proxyproto

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

func listen(t *testing.T, cfg Config) net.Listener {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewListener(inner, cfg)
	t.Cleanup(func() { ln.Close() })
	return ln
}

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// dial connects and sends raw bytes.
func dial(t *testing.T, ln net.Listener, send string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if send != "" {
		if _, err := io.WriteString(c, send); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func accept(t *testing.T, ln net.Listener) net.Conn {
	t.Helper()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func TestListenerProxied(t *testing.T) {
	v2h, _ := (&Header{Version: 2, Command: Proxy,
		Source:      &net.TCPAddr{IP: net.ParseIP("2001:db8::7"), Port: 40000},
		Destination: &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 143}}).Marshal()
	local, _ := (&Header{Version: 2, Command: Local}).Marshal()
	tests := []struct {
		name     string
		header   string
		src, dst string // "" = the connection's own
	}{
		{"v1", "PROXY TCP4 192.0.2.1 198.51.100.7 56324 25\r\n", "192.0.2.1:56324", "198.51.100.7:25"},
		{"v1 UNKNOWN", "PROXY UNKNOWN\r\n", "", ""},
		{"v2", string(v2h), "[2001:db8::7]:40000", "[2001:db8::1]:143"},
		{"v2 LOCAL (health check)", string(local), "", ""},
	}
	ln := listen(t, Config{Trusted: loopback, HeaderTimeout: 5 * time.Second})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The client sends the header and its first command together.
			client := dial(t, ln, tt.header+"a1 NOOP\r\n")
			c := accept(t, ln)
			pc, ok := c.(*Conn)
			if !ok {
				t.Fatalf("Accept returned %T for a trusted peer", c)
			}
			wantSrc, wantDst := tt.src, tt.dst
			if wantSrc == "" {
				wantSrc, wantDst = client.LocalAddr().String(), client.RemoteAddr().String()
			}
			if got := c.RemoteAddr().String(); got != wantSrc {
				t.Errorf("RemoteAddr = %s, want %s", got, wantSrc)
			}
			if got := c.LocalAddr().String(); got != wantDst {
				t.Errorf("LocalAddr = %s, want %s", got, wantDst)
			}
			if got := pc.ProxyAddr().String(); got != client.LocalAddr().String() {
				t.Errorf("ProxyAddr = %s", got)
			}
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || line != "a1 NOOP\r\n" {
				t.Fatalf("after the header: %q, %v", line, err)
			}
			io.WriteString(c, "a1 OK\r\n")
			reply, err := bufio.NewReader(client).ReadString('\n')
			if err != nil || reply != "a1 OK\r\n" {
				t.Fatalf("reply %q, %v", reply, err)
			}
		})
	}
}

// TestListenerServerSpeaksFirst: an SMTP client sends the header and then
// waits for the greeting. Reading the header must not wait for more.
func TestListenerServerSpeaksFirst(t *testing.T) {
	ln := listen(t, Config{Trusted: loopback, HeaderTimeout: 5 * time.Second})
	client := dial(t, ln, "PROXY TCP4 192.0.2.1 198.51.100.7 56324 25\r\n")
	c := accept(t, ln)
	start := time.Now()
	if got := c.RemoteAddr().String(); got != "192.0.2.1:56324" {
		t.Fatalf("RemoteAddr = %s", got)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatal("reading the header waited for more data")
	}
	io.WriteString(c, "220 mx.example ESMTP\r\n")
	if l, _ := bufio.NewReader(client).ReadString('\n'); l != "220 mx.example ESMTP\r\n" {
		t.Fatalf("greeting %q", l)
	}
}

func TestListenerUntrusted(t *testing.T) {
	ln := listen(t, Config{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}})
	const forged = "PROXY TCP4 192.0.2.1 198.51.100.7 56324 25\r\n"
	client := dial(t, ln, forged)
	c := accept(t, ln)
	if _, ok := c.(*Conn); ok {
		t.Fatal("untrusted peer's connection was wrapped")
	}
	if c.RemoteAddr().String() != client.LocalAddr().String() {
		t.Fatalf("RemoteAddr = %s", c.RemoteAddr())
	}
	// The forged header reaches the application as data.
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != forged {
		t.Fatalf("read %q, %v", line, err)
	}
}

func TestListenerMalformed(t *testing.T) {
	ln := listen(t, Config{Trusted: loopback})
	for _, in := range []string{"EHLO client\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", "PROXY TCP4 999.2.3.4 5.6.7.8 1 2\r\n"} {
		dial(t, ln, in)
		c := accept(t, ln)
		var he *HeaderError
		if _, err := c.Read(make([]byte, 10)); !errors.As(err, &he) {
			t.Errorf("%q: Read error %v, want *HeaderError", in, err)
		}
		if _, err := c.Write([]byte("220 hi\r\n")); !errors.As(err, &he) {
			t.Errorf("%q: Write error %v, want *HeaderError", in, err)
		}
		if _, err := c.(*Conn).Header(); !errors.As(err, &he) {
			t.Errorf("%q: Header error %v", in, err)
		}
	}
}

// TestListenerSlowClient: a trusted peer that sends nothing must not hold
// up Accept, and its connection fails after HeaderTimeout.
func TestListenerSlowClient(t *testing.T) {
	ln := listen(t, Config{Trusted: loopback, HeaderTimeout: 200 * time.Millisecond})
	dial(t, ln, "")     // silent
	dial(t, ln, "PROX") // stalls mid-header
	dial(t, ln, "PROXY TCP4 192.0.2.9 198.51.100.7 1 25\r\n")
	var conns []net.Conn
	start := time.Now()
	for range 3 {
		conns = append(conns, accept(t, ln))
	}
	if time.Since(start) > 150*time.Millisecond {
		t.Fatalf("Accept took %v", time.Since(start))
	}
	timeouts, ok := 0, 0
	for _, c := range conns {
		// A later deadline of the caller's does not extend HeaderTimeout.
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := c.(*Conn).Header()
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			timeouts++
		case err == nil:
			ok++
			// The caller's deadline is back in force after the header.
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if _, err := c.Read(make([]byte, 1)); !(errors.As(err, &ne) && ne.Timeout()) {
				t.Errorf("read after header: %v, want a timeout", err)
			}
		default:
			t.Errorf("Header: %v", err)
		}
	}
	if timeouts != 2 || ok != 1 {
		t.Fatalf("%d timeouts, %d headers; want 2 and 1", timeouts, ok)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("header timeouts took %v", d)
	}
}

func TestListenerCallerDeadlineBoundsHeader(t *testing.T) {
	ln := listen(t, Config{Trusted: loopback, HeaderTimeout: time.Minute})
	dial(t, ln, "")
	c := accept(t, ln)
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	start := time.Now()
	c.RemoteAddr()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("header read ignored the caller's deadline: %v", d)
	}
	if c.RemoteAddr().String() == "" {
		t.Fatal("no RemoteAddr")
	}
}

// Without trusted prefixes no connection may carry a header, so the
// listener is not wrapped at all: a server can call NewListener always.
func TestNewListenerWithoutTrustedIsInner(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	if ln := NewListener(inner, Config{}); ln != inner {
		t.Fatalf("NewListener without Trusted = %T, want the inner listener", ln)
	}
	if ln := NewListener(inner, Config{Trusted: loopback}); ln == inner {
		t.Fatal("NewListener with Trusted returned the inner listener")
	}
}
