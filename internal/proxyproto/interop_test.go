package proxyproto

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testpeer"
)

// TestCurlHAProxyProtocol has curl send a version 1 header
// (--haproxy-protocol) over IPv4 and IPv6; the server echoes the address
// it sees, which must be the one in curl's header.
func TestCurlHAProxyProtocol(t *testing.T) {
	curl := testpeer.Need(t, "curl", "curl")
	for _, network := range []string{"127.0.0.1", "[::1]"} {
		inner, err := net.Listen("tcp", network+":0")
		if err != nil {
			t.Skipf("no %s: %v", network, err)
		}
		ln := NewListener(inner, Config{Trusted: []netip.Prefix{
			netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}})
		seen := make(chan string, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				seen <- err.Error()
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			pc, ok := c.(*Conn)
			h, err := pc.Header()
			if !ok || err != nil {
				seen <- fmt.Sprint("no header: ", err)
				return
			}
			br := bufio.NewReader(c)
			for {
				line, err := br.ReadString('\n')
				if err != nil || line == "\r\n" {
					break
				}
			}
			// curl is its own proxy here: the carried client address is
			// its socket's, so it equals the real peer's.
			seen <- fmt.Sprintf("v%d %s %v", h.Version, c.RemoteAddr(), c.RemoteAddr().String() == pc.ProxyAddr().String())
			io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}()
		url := fmt.Sprintf("http://%s/", ln.Addr())
		out, err := testpeer.Run(t, curl, "-s", "-g", "--max-time", "10", "--haproxy-protocol", url)
		ln.Close()
		got := <-seen
		if err != nil || string(out) != "ok" {
			t.Fatalf("%s: curl %q, %v (server: %s)", network, out, err, got)
		}
		host := strings.Trim(network, "[]")
		if !strings.HasPrefix(got, "v1 "+strings.TrimSuffix(network, "]")) || !strings.HasSuffix(got, " true") || !strings.Contains(got, host) {
			t.Fatalf("%s: server saw %q", network, got)
		}
	}
}
