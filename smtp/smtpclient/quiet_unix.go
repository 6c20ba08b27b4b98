//go:build unix

package smtpclient

import (
	"crypto/tls"
	"net"
	"syscall"
)

// connQuiet reports, without blocking, that nothing has arrived on an idle
// connection: no data (a server's 421 on its idle timeout, a TLS alert)
// and no end of stream. A server that dropped the connection while it sat
// in the pool fails this check, so the next message goes on a new one.
func connQuiet(c net.Conn) bool {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	quiet := true
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// n > 0: unsolicited bytes; n == 0 with no error: end of stream;
		// EAGAIN: nothing there, the quiet case.
		quiet = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		_ = n
		return true
	})
	return err == nil && quiet
}
