package proxyproto

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// Marshal encodes h as a version 1 or version 2 header, as h.Version says.
// Tests and proxies use it. Version 1 can carry only TCP addresses over
// IPv4 or IPv6 (or none: UNKNOWN); version 2 carries TCP, UDP and Unix
// addresses, and no TLVs.
func (h *Header) Marshal() ([]byte, error) {
	switch h.Version {
	case 1:
		return h.marshalV1()
	case 2:
		return h.marshalV2()
	}
	return nil, fmt.Errorf("proxyproto: cannot marshal version %d", h.Version)
}

func (h *Header) marshalV1() ([]byte, error) {
	if h.Command != Proxy {
		return nil, fmt.Errorf("proxyproto: version 1 has no LOCAL command")
	}
	if h.Source == nil && h.Destination == nil {
		return []byte("PROXY UNKNOWN\r\n"), nil
	}
	src, ok1 := h.Source.(*net.TCPAddr)
	dst, ok2 := h.Destination.(*net.TCPAddr)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("proxyproto: version 1 carries TCP addresses only")
	}
	s, d := sameFamily(src.AddrPort(), dst.AddrPort())
	proto := "TCP6"
	if s.Addr().Is4() {
		proto = "TCP4"
	}
	b := []byte("PROXY " + proto + " ")
	b = s.Addr().AppendTo(b)
	b = append(b, ' ')
	b = d.Addr().AppendTo(b)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(s.Port()), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(d.Port()), 10)
	return append(b, '\r', '\n'), nil
}

func (h *Header) marshalV2() ([]byte, error) {
	b := append([]byte(nil), v2Sig...)
	cmd := byte(0x21)
	if h.Command == Local {
		cmd = 0x20
	}
	b = append(b, cmd)
	if h.Command == Local || (h.Source == nil && h.Destination == nil) {
		return append(b, 0x00, 0, 0), nil
	}
	switch src := h.Source.(type) {
	case *net.TCPAddr, *net.UDPAddr:
		s, d, err := addrPorts(h.Source, h.Destination)
		if err != nil {
			return nil, err
		}
		trans := byte(transStream)
		if _, ok := src.(*net.UDPAddr); ok {
			trans = transDgram
		}
		if s.Addr().Is4() {
			b = append(b, famInet<<4|trans, 0, lenInet)
			b = append(b, s.Addr().AsSlice()...)
			b = append(b, d.Addr().AsSlice()...)
		} else {
			b = append(b, famInet6<<4|trans, 0, lenInet6)
			b = append(b, s.Addr().AsSlice()...)
			b = append(b, d.Addr().AsSlice()...)
		}
		b = binary.BigEndian.AppendUint16(b, s.Port())
		return binary.BigEndian.AppendUint16(b, d.Port()), nil
	case *net.UnixAddr:
		dst, ok := h.Destination.(*net.UnixAddr)
		if !ok || len(src.Name) > 108 || len(dst.Name) > 108 {
			return nil, fmt.Errorf("proxyproto: bad unix addresses")
		}
		trans := byte(transStream)
		if src.Net == "unixgram" {
			trans = transDgram
		}
		b = append(b, famUnix<<4|trans)
		b = binary.BigEndian.AppendUint16(b, lenUnix)
		var block [lenUnix]byte
		copy(block[:108], src.Name)
		copy(block[108:], dst.Name)
		return append(b, block[:]...), nil
	}
	return nil, fmt.Errorf("proxyproto: cannot marshal address %T", h.Source)
}

func addrPorts(src, dst net.Addr) (s, d netip.AddrPort, err error) {
	get := func(a net.Addr) (netip.AddrPort, bool) {
		switch a := a.(type) {
		case *net.TCPAddr:
			return a.AddrPort(), true
		case *net.UDPAddr:
			return a.AddrPort(), true
		}
		return netip.AddrPort{}, false
	}
	s, ok1 := get(src)
	d, ok2 := get(dst)
	if !ok1 || !ok2 {
		return s, d, fmt.Errorf("proxyproto: source and destination must both be IP addresses")
	}
	s, d = sameFamily(s, d)
	return s, d, nil
}

// sameFamily returns s and d both as IPv4 if both are IPv4 or IPv4-mapped,
// and both as IPv6 otherwise (mapping an IPv4 one), since a header carries
// one family.
func sameFamily(s, d netip.AddrPort) (netip.AddrPort, netip.AddrPort) {
	sa, da := s.Addr().Unmap().WithZone(""), d.Addr().Unmap().WithZone("")
	if !sa.Is4() || !da.Is4() {
		sa, da = netip.AddrFrom16(sa.As16()), netip.AddrFrom16(da.As16())
	}
	return netip.AddrPortFrom(sa, s.Port()), netip.AddrPortFrom(da, d.Port())
}
