package spf

import (
	"context"
	"strings"
)

// match evaluates one mechanism (RFC 7208 §5).
func (e *eval) match(ctx context.Context, d Directive, domain string) (bool, *evalError) {
	switch d.Mechanism {
	case MechAll:
		return true, nil
	case MechIP4, MechIP6:
		return d.Net.Contains(e.ip), nil
	}
	// The rest query the DNS: §4.6.4.
	if err := e.countLookup(); err != nil {
		return false, err
	}
	target := domain
	if d.Domain != "" {
		var err *evalError
		if target, err = e.target(ctx, d.Domain, domain); err != nil {
			return false, err
		}
	}
	switch d.Mechanism {
	case MechInclude:
		r, err := e.checkHost(ctx, target, false)
		if err != nil {
			return false, err
		}
		// §5.2: the include table.
		switch r.result {
		case Pass:
			return true, nil
		case Fail, SoftFail, Neutral:
			return false, nil
		}
		return false, permErr("include of " + target + " found no SPF record")
	case MechA:
		return e.matchHost(ctx, target, d, true)
	case MechMX:
		mxs, err := e.res.LookupMX(ctx, target)
		if err != nil {
			notFound, derr := dnsError(err, target)
			if !notFound {
				return false, derr
			}
			return false, e.countVoid()
		}
		if len(mxs) > maxMXNames {
			return false, permErr("more than 10 MX records at " + target) // §4.6.4
		}
		for _, mx := range mxs {
			host := strings.TrimSuffix(mx.Host, ".")
			if host == "" {
				continue // RFC 7505 null MX
			}
			ok, err := e.matchHost(ctx, host, d, false)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case MechPTR:
		names, err := e.validatedNames(ctx)
		if err != nil {
			return false, err
		}
		t := strings.ToLower(target)
		for _, n := range names {
			if n == t || strings.HasSuffix(n, "."+t) {
				return true, nil
			}
		}
		return false, nil
	case MechExists:
		if !validDomain(target) {
			return false, nil
		}
		// §5.7: an A lookup whatever the client's address family.
		ips, err := e.res.LookupNetIP(ctx, "ip4", target)
		if err != nil {
			notFound, derr := dnsError(err, target)
			if !notFound {
				return false, derr
			}
			return false, e.countVoid()
		}
		return len(ips) > 0, nil
	}
	return false, permErr("unknown mechanism " + d.Mechanism)
}

// matchHost compares the client with the addresses of host of its own
// family, under the directive's prefix lengths (§5.3, §5.4). countVoid
// says whether finding nothing is a void lookup of this term.
func (e *eval) matchHost(ctx context.Context, host string, d Directive, countVoid bool) (bool, *evalError) {
	if !validDomain(host) {
		return false, nil
	}
	network, bits, has := "ip4", d.CIDR4, d.HasCIDR4
	if e.ip.Is6() {
		network, bits, has = "ip6", d.CIDR6, d.HasCIDR6
	}
	if !has {
		bits = e.ip.BitLen()
	}
	ips, err := e.res.LookupNetIP(ctx, network, host)
	if err != nil {
		notFound, derr := dnsError(err, host)
		if !notFound {
			return false, derr
		}
		if countVoid {
			return false, e.countVoid()
		}
		return false, nil
	}
	for _, ip := range ips {
		ip = ip.Unmap()
		if ip.BitLen() != e.ip.BitLen() {
			continue
		}
		if p, err := ip.Prefix(bits); err == nil && p.Contains(e.ip) {
			return true, nil
		}
	}
	return false, nil
}

// validatedNames returns the client's validated domain names (RFC 7208
// §5.5), lower case without trailing dot. A DNS error in the PTR lookup
// means no names (the mechanism does not match); errors in the forward
// lookups skip that name.
func (e *eval) validatedNames(ctx context.Context) ([]string, *evalError) {
	if e.ptrDone {
		return e.ptrNames, nil
	}
	e.ptrDone = true
	names, err := e.res.LookupAddr(ctx, e.ip.String())
	if err != nil {
		if notFound, _ := dnsError(err, ""); notFound {
			if verr := e.countVoid(); verr != nil {
				return nil, verr
			}
		}
		return nil, nil
	}
	if len(names) > maxPTRNames {
		names = names[:maxPTRNames] // §4.6.4: the rest MUST be ignored
	}
	network := "ip4"
	if e.ip.Is6() {
		network = "ip6"
	}
	for _, n := range names {
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		if !validDomain(n) {
			continue
		}
		ips, err := e.res.LookupNetIP(ctx, network, n)
		if err != nil {
			continue
		}
		for _, ip := range ips {
			if ip.Unmap() == e.ip {
				e.ptrNames = append(e.ptrNames, n)
				break
			}
		}
	}
	return e.ptrNames, nil
}
