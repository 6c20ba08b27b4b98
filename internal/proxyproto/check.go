package proxyproto

import (
	"crypto/tls"
	"net"
)

// unwrap returns the *Conn under nc, looking through implicit TLS (the
// PROXY header comes before the TLS handshake), or nil when nc did not come
// from a trusted proxy.
func unwrap(nc net.Conn) *Conn {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	pc, _ := nc.(*Conn)
	return pc
}

// CheckHeader reads the PROXY header of a connection accepted from a
// trusted proxy, through implicit TLS if need be, and returns the error
// when it is missing or malformed; it returns nil for every other
// connection. It blocks for at most the listener's header timeout, so a
// server calls it in the connection's goroutine, never in its accept loop,
// and closes the connection without a greeting when it fails.
func CheckHeader(nc net.Conn) error {
	pc := unwrap(nc)
	if pc == nil {
		return nil
	}
	_, err := pc.Header()
	return err
}

// PeerAddr returns the address of the host at the other end of the TCP
// connection: the proxy's address for a connection from a trusted proxy,
// otherwise the remote address. Servers log it when a header fails, since
// the client address is then unknown.
func PeerAddr(nc net.Conn) net.Addr {
	if pc := unwrap(nc); pc != nil {
		return pc.ProxyAddr()
	}
	return nc.RemoteAddr()
}
