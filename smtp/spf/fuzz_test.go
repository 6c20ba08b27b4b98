package spf

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{
		"v=spf1 -all",
		"v=spf1 a mx/24//64 ip4:192.0.2.0/24 ip6:2001:db8::/32 include:_spf.example.com ~all",
		"v=spf1 exists:%{ir}.%{l1r-}.lp._spf.%{d2} redirect=%{d}.x exp=e.%{d}",
		"v=spf1 ptr:%{d2r+} ?a:%{o}/0 moo=%{s}",
		"v=spf1 a:foo-bar ip4:1.2.3.4/33",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRecord(s)
		if err != nil {
			return
		}
		// What we parsed formats into a record that parses the same.
		again, err := ParseRecord(r.String())
		if err != nil {
			t.Fatalf("%q formatted as %q: %v", s, r.String(), err)
		}
		if again.String() != r.String() {
			t.Fatalf("%q -> %q -> %q", s, r.String(), again.String())
		}
	})
}

func FuzzExpandMacros(f *testing.F) {
	for _, s := range []string{"%{ir}.%{v}._spf.%{d2}", "%{l1r-}.%{S}%%%_%-", "%{d999999999999r+-.,/_=}", "%{c}%{r}%{t}%{p}", "%{"} {
		f.Add(s, "local.part@sender.example", true)
	}
	f.Fuzz(func(t *testing.T, s, sender string, exp bool) {
		local, domain := splitSender(sender)
		e := &eval{c: &Checker{}, res: zone(nil), sender: sender, local: local, senderDomain: domain,
			ip: netip.MustParseAddr("2001:db8::1"), helo: "helo.example", maxLookups: 10, maxVoids: 2}
		out, err := expandMacros(s, exp, e.macros(context.Background(), domain, exp))
		if err == nil && len(out) > maxExpansion+len(s) {
			t.Fatalf("expansion of %d bytes to %d", len(s), len(out))
		}
	})
}

// countingResolver answers every name with the fuzzed record, an MX list
// and addresses, counting queries: however the record is built, one
// evaluation stays within the §4.6.4 limits.
type countingResolver struct {
	record  string
	queries atomic.Int64
}

func (r *countingResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	r.queries.Add(1)
	return []string{r.record}, nil
}

func (r *countingResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r.queries.Add(1)
	if strings.HasPrefix(host, "void") {
		return nil, &net.DNSError{Err: "no such host", IsNotFound: true}
	}
	return []netip.Addr{netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("2001:db8::2")}, nil
}

func (r *countingResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	r.queries.Add(1)
	var mx []*net.MX
	for i := range 10 {
		mx = append(mx, &net.MX{Host: "mx" + string(rune('a'+i)) + ".example.", Pref: 10})
	}
	return mx, nil
}

func (r *countingResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	r.queries.Add(1)
	var names []string
	for i := range 20 {
		names = append(names, "ptr"+string(rune('a'+i))+".example.")
	}
	return names, nil
}

func FuzzCheckHost(f *testing.F) {
	for _, s := range []string{
		"v=spf1 include:a.example include:b.example mx mx mx ptr a -all",
		"v=spf1 redirect=%{d}.again",
		"v=spf1 a:void1.x a:void2.x a:void3.x",
		"v=spf1 exists:%{i}.%{p}.%{s} -all exp=%{d}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, record string) {
		r := &countingResolver{record: record}
		c := &Checker{Resolver: r}
		o := c.CheckMailFrom(context.Background(), netip.MustParseAddr("192.0.2.1"), "helo.example", "a@start.example")
		if o.Lookups > DefaultMaxLookups+1 {
			t.Fatalf("%d lookups", o.Lookups)
		}
		// 10 terms, each at most 1 + 10 address lookups, plus PTR
		// validation, the top record and exp.
		if n := r.queries.Load(); n > 10*11+12+3 {
			t.Fatalf("%d DNS queries for %q", n, record)
		}
	})
}
