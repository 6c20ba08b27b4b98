package proxyproto

import (
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

// CheckHeader and PeerAddr see through implicit TLS to the proxied
// connection, and leave untrusted connections alone.
func TestCheckHeaderAndPeerAddr(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	trusted := NewListener(inner, Config{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, HeaderTimeout: 2 * time.Second})

	// A trusted peer sending garbage instead of a header.
	c, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("HELLO not a proxy header\r\n"))
	nc, err := trusted.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	wrapped := tls.Server(nc, &tls.Config{}) // as ServeTLS would wrap it
	var he *HeaderError
	if err := CheckHeader(wrapped); !errors.As(err, &he) {
		t.Fatalf("CheckHeader through TLS = %v, want *HeaderError", err)
	}
	if got, want := PeerAddr(wrapped).String(), c.LocalAddr().String(); got != want {
		t.Fatalf("PeerAddr = %s, want the proxy's address %s", got, want)
	}

	// A plain connection that never went through the proxy listener.
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if err := CheckHeader(a); err != nil {
		t.Fatalf("CheckHeader(untrusted) = %v", err)
	}
	if PeerAddr(a) != a.RemoteAddr() {
		t.Fatal("PeerAddr of an untrusted conn is not its RemoteAddr")
	}
}
