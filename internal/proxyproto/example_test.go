package proxyproto_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/posthorn/posthorn/internal/proxyproto"
)

// A server behind HAProxy on the same host: connections from 127.0.0.1
// carry the client's address in a PROXY header.
func ExampleNewListener() {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	ln := proxyproto.NewListener(inner, proxyproto.Config{
		Trusted:       []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		HeaderTimeout: 5 * time.Second,
	})
	defer ln.Close()

	go func() { // the load balancer
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "PROXY TCP4 203.0.113.9 192.0.2.25 51234 25\r\n")
		bufio.NewReader(c).ReadString('\n')
	}()

	conn, err := ln.Accept()
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	fmt.Println("client:", conn.RemoteAddr())
	fmt.Println("server:", conn.LocalAddr())
	io.WriteString(conn, "220 mx.example.org ESMTP\r\n")
	// Output:
	// client: 203.0.113.9:51234
	// server: 192.0.2.25:25
}
