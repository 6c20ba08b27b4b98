package limit

import (
	"net"
	"net/netip"
)

// Default network sizes for per-client accounting.
const (
	DefaultIPv4Prefix = 32
	DefaultIPv6Prefix = 64
)

// AddrOf returns the IP address of a *net.TCPAddr, *net.UDPAddr or
// *net.IPAddr, unmapped from IPv4-in-IPv6, or the zero netip.Addr for any
// other address (a Unix socket). Limiters count the zero address only
// against global limits.
func AddrOf(a net.Addr) netip.Addr {
	var ip netip.Addr
	switch a := a.(type) {
	case *net.TCPAddr:
		ip = a.AddrPort().Addr()
	case *net.UDPAddr:
		ip = a.AddrPort().Addr()
	case *net.IPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	}
	return ip.Unmap().WithZone("")
}

// network returns the prefix addr is counted under, and false for an
// invalid address.
func network(addr netip.Addr, v4, v6 int) (netip.Prefix, bool) {
	if !addr.IsValid() {
		return netip.Prefix{}, false
	}
	addr = addr.Unmap().WithZone("")
	bits := v6
	if addr.Is4() {
		bits = v4
	}
	p, err := addr.Prefix(bits)
	return p, err == nil
}

func prefixLen(n, def, max int) int {
	if n <= 0 || n > max {
		return def
	}
	return n
}
