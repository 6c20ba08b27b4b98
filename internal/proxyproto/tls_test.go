package proxyproto

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/tlsutil"
)

// TestImplicitTLSBehindProxy stacks the listeners as an IMAPS server behind
// HAProxy in TCP mode does: PROXY header first, then TLS.
func TestImplicitTLSBehindProxy(t *testing.T) {
	cert, err := tlsutil.NewTestCert()
	if err != nil {
		t.Fatal(err)
	}
	ln := tlsutil.NewListener(listen(t, Config{Trusted: loopback}), tlsutil.ServerConfig(cert.ServerConfig(), tlsutil.ALPNIMAP))
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "PROXY TCP6 2001:db8::42 2001:db8::1 50000 993\r\n")
		tc := tls.Client(c, tlsutil.ClientConfig(cert.ClientConfig(), "", tlsutil.ALPNIMAP))
		bufio.NewReader(tc).ReadString('\n')
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "* OK IMAP4rev2 ready\r\n"); err != nil {
		t.Fatal(err)
	}
	if got := c.RemoteAddr().String(); got != "[2001:db8::42]:50000" {
		t.Fatalf("RemoteAddr = %s", got)
	}
	if p := c.(*tls.Conn).ConnectionState().NegotiatedProtocol; p != tlsutil.ALPNIMAP {
		t.Fatalf("ALPN %q", p)
	}
}
