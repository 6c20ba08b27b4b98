package tlsutil

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"time"
)

// ErrPipelinedAfterSTARTTLS is returned by [ServerUpgrade] and
// [CheckPipelined] when the client sent bytes after the STARTTLS command
// without waiting for the server's reply. The caller must close the
// connection: those bytes were sent in plaintext (CVE-2011-0411).
var ErrPipelinedAfterSTARTTLS = errors.New("tlsutil: client sent data after STARTTLS before the TLS handshake")

// pipelineProbe is how long CheckPipelined waits for a byte on the socket.
const pipelineProbe = time.Millisecond

// CheckPipelined reports [ErrPipelinedAfterSTARTTLS] if br holds buffered
// bytes, or if a byte can be read from conn within a millisecond, unless
// those bytes are the start of a TLS handshake record (a client may send
// its ClientHello right behind STARTTLS; RFC 9051 §6.2.1 lets the server
// take it as the start of the handshake, and ServerUpgrade does). Call it
// after reading the STARTTLS command and before writing the reply that
// invites the handshake; see the package documentation for why not later.
// A byte read from conn stays in br. Other read errors than a timeout are
// returned as they are.
//
// CheckPipelined uses conn's read deadline and clears it when done: a
// caller with its own read deadline sets it again afterwards.
func CheckPipelined(conn net.Conn, br *bufio.Reader) error {
	if br.Buffered() > 0 {
		return pipelined(br)
	}
	if err := conn.SetReadDeadline(time.Now().Add(pipelineProbe)); err != nil {
		return err
	}
	_, err := br.Peek(1)
	if derr := conn.SetReadDeadline(time.Time{}); derr != nil && err == nil {
		return derr
	}
	var ne net.Error
	switch {
	case err == nil:
		return pipelined(br)
	case errors.As(err, &ne) && ne.Timeout():
		return nil
	default:
		return err
	}
}

// ServerUpgrade runs the server side of a STARTTLS handshake on conn after
// the caller has read the STARTTLS command through br and written its
// positive reply. It fails with [ErrPipelinedAfterSTARTTLS], before any TLS
// byte is read, when br still holds plaintext the client sent after the
// command; the caller must then close conn. Buffered bytes that begin a
// TLS handshake record are fed to the handshake instead (RFC 9051 §6.2.1,
// option 1). The handshake honours ctx.
//
// On success, read and write through the returned *tls.Conn only, with a
// new bufio.Reader; br must not be used again.
func ServerUpgrade(ctx context.Context, conn net.Conn, br *bufio.Reader, cfg *tls.Config) (*tls.Conn, error) {
	if br != nil && br.Buffered() > 0 {
		if err := pipelined(br); err != nil {
			return nil, err
		}
		// The start of the client's handshake: hand it to TLS (RFC 9051
		// §6.2.1, option 1). The handshake authenticates it.
		head, _ := br.Peek(br.Buffered())
		conn = &prefixConn{Conn: conn, head: append([]byte(nil), head...)}
	}
	tc := tls.Server(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	return tc, nil
}

// ClientUpgrade runs the client side of a STARTTLS handshake on conn after
// the server's positive reply. The caller must stop using the bufio.Reader
// through which it read that reply and wrap the returned *tls.Conn in a new
// one: anything the old reader still buffers arrived in plaintext and is
// dropped with it. [DiscardBuffered] counts those bytes for a log line.
// The handshake honours ctx.
func ClientUpgrade(ctx context.Context, conn net.Conn, cfg *tls.Config) (*tls.Conn, error) {
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	return tc, nil
}

// pipelined returns ErrPipelinedAfterSTARTTLS unless the bytes in br
// begin like a TLS handshake record (content type 22, version 3.x, RFC 8446
// §5.1), which a client may send right behind STARTTLS without waiting: it
// is not plaintext, and TLS verifies it. No command of a text protocol
// starts with byte 22.
func pipelined(br *bufio.Reader) error {
	b, _ := br.Peek(min(br.Buffered(), 2))
	if len(b) > 0 && b[0] == 0x16 && (len(b) < 2 || b[1] == 0x03) {
		return nil
	}
	return ErrPipelinedAfterSTARTTLS
}

// prefixConn returns head before reading from Conn.
type prefixConn struct {
	net.Conn
	head []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.head) > 0 {
		n := copy(p, c.head)
		c.head = c.head[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// DiscardBuffered drops whatever br holds and returns how many bytes that
// was. A client calls it on its plaintext reader before [ClientUpgrade]; a
// non-zero count means the server or a man in the middle sent data that the
// STARTTLS exchange did not allow, worth a warning.
func DiscardBuffered(br *bufio.Reader) int {
	n, _ := br.Discard(br.Buffered())
	return n
}

// NewListener returns a listener whose connections speak TLS from the first
// byte (implicit TLS, RFC 8314). Accept returns *tls.Conn values without
// running the handshake: it happens on the first Read or Write, or on an
// explicit HandshakeContext, in the goroutine serving the connection.
func NewListener(inner net.Listener, cfg *tls.Config) net.Listener {
	return tls.NewListener(inner, cfg)
}
