package pop3server

import (
	"crypto/tls"
	"net"

	"github.com/posthorn/posthorn/internal/proxyproto"
)

// proxyListener wraps ln so that connections from Server.ProxyTrusted
// must start with a PROXY protocol header (HAProxy's proxy-protocol.txt,
// versions 1 and 2), whose client address then replaces the peer address
// everywhere. Without ProxyTrusted ln is returned as is.
func (s *Server) proxyListener(ln net.Listener) net.Listener {
	if len(s.ProxyTrusted) == 0 {
		return ln
	}
	return proxyproto.NewListener(ln, proxyproto.Config{Trusted: s.ProxyTrusted, HeaderTimeout: s.ProxyHeaderTimeout})
}

// proxyHeaderErr reads the PROXY header of a connection from a trusted
// proxy, looking through implicit TLS (the header comes before the TLS
// handshake), and returns the error when it is missing or malformed. It
// returns nil for every other connection. It blocks for at most the
// header timeout, so it runs in the connection's goroutine, never in the
// accept loop.
func proxyHeaderErr(nc net.Conn) error {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	pc, ok := nc.(*proxyproto.Conn)
	if !ok {
		return nil
	}
	_, err := pc.Header()
	return err
}

// proxyPeer is the address to log for a connection whose header failed:
// the proxy's own address.
func proxyPeer(nc net.Conn) string {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	if pc, ok := nc.(*proxyproto.Conn); ok {
		return pc.ProxyAddr().String()
	}
	return nc.RemoteAddr().String()
}
