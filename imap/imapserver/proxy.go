package imapserver

import (
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
