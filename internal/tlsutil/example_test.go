package tlsutil_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/posthorn/posthorn/internal/tlsutil"
)

// A STARTTLS exchange between a server and a client (RFC 3207), with the
// checks against pipelined and injected plaintext on both sides.
func ExampleServerUpgrade() {
	cert, err := tlsutil.NewTestCert()
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	clientConn, serverConn := net.Pipe()

	done := make(chan error)
	go func() { // the server
		br := bufio.NewReader(serverConn)
		br.ReadString('\n') // "STARTTLS\r\n"
		// Before the reply, nothing more may have been sent.
		if err := tlsutil.CheckPipelined(serverConn, br); err != nil {
			done <- err
			return
		}
		io.WriteString(serverConn, "220 2.0.0 Ready to start TLS\r\n")
		conn, err := tlsutil.ServerUpgrade(ctx, serverConn, br, tlsutil.ServerConfig(cert.ServerConfig(), tlsutil.ALPNSMTP))
		if errors.Is(err, tlsutil.ErrPipelinedAfterSTARTTLS) {
			serverConn.Close()
		}
		if err != nil {
			done <- err
			return
		}
		io.WriteString(conn, "250 hello over TLS\r\n")
		done <- nil
	}()

	// The client.
	io.WriteString(clientConn, "STARTTLS\r\n")
	br := bufio.NewReader(clientConn)
	reply, _ := br.ReadString('\n')
	fmt.Println(strings.TrimSpace(reply))
	tlsutil.DiscardBuffered(br) // never read plaintext after the reply
	conn, err := tlsutil.ClientUpgrade(ctx, clientConn, tlsutil.ClientConfig(cert.ClientConfig(), "", tlsutil.ALPNSMTP))
	if err != nil {
		panic(err)
	}
	line, _ := bufio.NewReader(conn).ReadString('\n')
	fmt.Println(strings.TrimSpace(line))
	fmt.Println(conn.ConnectionState().NegotiatedProtocol, <-done)
	// Output:
	// 220 2.0.0 Ready to start TLS
	// 250 hello over TLS
	// smtp <nil>
}
