package main

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/posthorn/posthorn/internal/dns"
)

// newDNSClient is the resolver of -resolver (host:port or an IP, port 53)
// or, without it, of /etc/resolv.conf.
func newDNSClient(c *common) (*dns.Client, error) {
	cl := &dns.Client{Timeout: c.timeout, Attempts: 2}
	if c.resolver != "" {
		ap, err := netip.ParseAddrPort(c.resolver)
		if err != nil {
			ip, err2 := netip.ParseAddr(c.resolver)
			if err2 != nil {
				return nil, fmt.Errorf("-resolver %s: want IP or IP:port", c.resolver)
			}
			ap = netip.AddrPortFrom(ip, 53)
		}
		cl.Servers = []netip.AddrPort{ap}
	}
	return cl, nil
}

var _ = net.JoinHostPort
