package dns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// lookup runs Lookup and turns a negative answer into the *net.DNSError
// net.Resolver would return.
func (c *Client) lookup(ctx context.Context, name string, typ dnsmessage.Type) (*Response, error) {
	resp, err := c.Lookup(ctx, name, typ)
	if err != nil {
		return nil, err
	}
	if resp.NotFound() {
		msg := "no such host" // NXDOMAIN, in net.Resolver's words
		if resp.RCode == dnsmessage.RCodeSuccess {
			msg = "no records of the asked type"
		}
		return resp, &net.DNSError{Err: msg, Name: name, IsNotFound: true}
	}
	return resp, nil
}

// LookupTXT returns the TXT records at name, the strings of each record
// joined into one (RFC 7208 §3.3, RFC 6376 §3.6.2.2).
func (c *Client) LookupTXT(ctx context.Context, name string) ([]string, error) {
	if txt, ok, err := c.cachedTXT(ctx, name); ok {
		if err != nil {
			return nil, err
		}
		return slices.Clone(txt), nil
	}
	resp, err := c.lookup(ctx, name, dnsmessage.TypeTXT)
	if err != nil {
		return nil, err
	}
	if resp.txt != nil {
		return slices.Clone(resp.txt), nil
	}
	out := make([]string, 0, len(resp.Records))
	for _, r := range resp.Records {
		if t, ok := r.Body.(*dnsmessage.TXTResource); ok {
			out = append(out, strings.Join(t.TXT, ""))
		}
	}
	return out, nil
}

// LookupNetIP returns the addresses of host: network "ip4" asks for A
// records, "ip6" for AAAA, "ip" for both (a name with either is found).
func (c *Client) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	var types []dnsmessage.Type
	switch network {
	case "ip4":
		types = []dnsmessage.Type{dnsmessage.TypeA}
	case "ip6":
		types = []dnsmessage.Type{dnsmessage.TypeAAAA}
	case "ip":
		types = []dnsmessage.Type{dnsmessage.TypeA, dnsmessage.TypeAAAA}
	default:
		return nil, &net.DNSError{Err: "unknown network " + network, Name: host}
	}
	var out []netip.Addr
	var firstErr error
	for _, t := range types {
		resp, err := c.lookup(ctx, host, t)
		if err != nil {
			if firstErr == nil || isTemporary(err) {
				firstErr = err
			}
			continue
		}
		for _, r := range resp.Records {
			switch b := r.Body.(type) {
			case *dnsmessage.AResource:
				out = append(out, netip.AddrFrom4(b.A))
			case *dnsmessage.AAAAResource:
				out = append(out, netip.AddrFrom16(b.AAAA))
			}
		}
	}
	if len(out) == 0 || isTemporary(firstErr) {
		return nil, firstErr
	}
	return out, nil
}

func isTemporary(err error) bool {
	de, ok := err.(*net.DNSError)
	return ok && (de.IsTemporary || de.IsTimeout)
}

// LookupMX returns the MX records at name, sorted by preference.
func (c *Client) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	resp, err := c.lookup(ctx, name, dnsmessage.TypeMX)
	if err != nil {
		return nil, err
	}
	out := make([]*net.MX, 0, len(resp.Records))
	for _, r := range resp.Records {
		if m, ok := r.Body.(*dnsmessage.MXResource); ok {
			out = append(out, &net.MX{Host: m.MX.String(), Pref: m.Pref})
		}
	}
	slices.SortStableFunc(out, func(a, b *net.MX) int { return int(a.Pref) - int(b.Pref) })
	return out, nil
}

// LookupAddr returns the PTR names of an IP address (reverse lookup).
func (c *Client) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: "unrecognized address", Name: addr}
	}
	resp, err := c.lookup(ctx, ReverseName(ip), dnsmessage.TypePTR)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(resp.Records))
	for _, r := range resp.Records {
		if p, ok := r.Body.(*dnsmessage.PTRResource); ok {
			out = append(out, p.PTR.String())
		}
	}
	return out, nil
}

// ReverseName returns the in-addr.arpa or ip6.arpa name of ip.
func ReverseName(ip netip.Addr) string {
	ip = ip.Unmap()
	var b strings.Builder
	const hex = "0123456789abcdef"
	if ip.Is4() {
		a := ip.As4()
		for i := 3; i >= 0; i-- {
			b.WriteString(strconv.Itoa(int(a[i])))
			b.WriteByte('.')
		}
		b.WriteString("in-addr.arpa.")
		return b.String()
	}
	a := ip.As16()
	for i := 15; i >= 0; i-- {
		b.WriteByte(hex[a[i]&0xf])
		b.WriteByte('.')
		b.WriteByte(hex[a[i]>>4])
		b.WriteByte('.')
	}
	b.WriteString("ip6.arpa.")
	return b.String()
}

// TLSA is one TLSA record (RFC 6698 §2.1).
type TLSA struct {
	Usage        uint8
	Selector     uint8
	MatchingType uint8
	// Data is the certificate association data.
	Data []byte
}

// TypeTLSA is the TLSA record type (RFC 6698 §7.1).
const TypeTLSA dnsmessage.Type = 52

// LookupTLSA returns the TLSA records at name (such as
// "_25._tcp.mx.example.com") and whether the answer is authentic: the AD
// bit from a trusted resolver. DANE uses the records only when it is
// (RFC 7672 §2.2).
func (c *Client) LookupTLSA(ctx context.Context, name string) ([]TLSA, bool, error) {
	resp, err := c.lookup(ctx, name, TypeTLSA)
	if err != nil {
		return nil, resp != nil && resp.Authentic, err
	}
	out := make([]TLSA, 0, len(resp.Records))
	for _, r := range resp.Records {
		u, ok := r.Body.(*dnsmessage.UnknownResource)
		if !ok || len(u.Data) < 3 {
			continue
		}
		out = append(out, TLSA{Usage: u.Data[0], Selector: u.Data[1], MatchingType: u.Data[2], Data: slices.Clone(u.Data[3:])})
	}
	return out, resp.Authentic, nil
}

// Check that both stand in for each other.
var (
	_ Resolver = (*Client)(nil)
	_ Resolver = (*net.Resolver)(nil)
)

// DomainExists reports whether name exists in the DNS: false only for
// NXDOMAIN (RFC 8020), true for a name with records of any type or none
// ("no data"). DMARC's np= policy asks this of the Author Domain
// (RFC 9989 §3.2.13).
func (c *Client) DomainExists(ctx context.Context, name string) (bool, error) {
	resp, err := c.Lookup(ctx, name, dnsmessage.TypeA)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound && !de.IsTemporary {
			return false, nil // a name no DNS message can carry
		}
		return false, err
	}
	return resp.RCode != dnsmessage.RCodeNameError, nil
}

// cachedTXT answers from a cached, unexpired answer without an alias,
// without copying the Response as Lookup does: the joined TXT records, or
// for a negative answer the error lookup would return. This is the common
// case of an MX checking SPF and DMARC (whose tree walk meets negative
// answers) for a sender it saw before.
func (c *Client) cachedTXT(ctx context.Context, name string) (txt []string, ok bool, err error) {
	if c.CacheSize < 0 {
		return nil, false, nil
	}
	c.init()
	key := cacheKey{strings.ToLower(strings.TrimSuffix(name, ".")), dnsmessage.TypeTXT}
	now := c.now()
	c.mu.Lock()
	resp, expires, found := c.cache.Get(key, now)
	c.mu.Unlock()
	if !found || len(resp.CNAMEs) > 0 {
		return nil, false, nil
	}
	if resp.NotFound() {
		observeTTL(ctx, expires.Sub(now))
		msg := "no such host" // as lookup says it
		if resp.RCode == dnsmessage.RCodeSuccess {
			msg = "no records of the asked type"
		}
		return nil, true, &net.DNSError{Err: msg, Name: name, IsNotFound: true}
	}
	if resp.txt == nil {
		return nil, false, nil
	}
	observeTTL(ctx, expires.Sub(now))
	return resp.txt, true, nil
}
