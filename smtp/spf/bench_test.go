package spf

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
)

func BenchmarkParseRecord(b *testing.B) {
	const rec = "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx include:_spf.example.com exists:%{ir}.%{l1r-}.lp._spf.%{d2} ~all"
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		if _, err := ParseRecord(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckMailFromWarm is the per-message cost of an SPF check once
// the DNS answers are cached: an include and an mx, as a typical sender's
// policy has.
func BenchmarkCheckMailFromWarm(b *testing.B) {
	s := dnstest.NewServer(b)
	s.TXT("example.test", "v=spf1 include:_spf.example.test -all")
	s.TXT("_spf.example.test", "v=spf1 ip4:192.0.2.0/24 mx ~all")
	s.MX("_spf.example.test", 10, "mx.example.test")
	s.A("mx.example.test", "198.51.100.25")
	c := &Checker{Resolver: &dns.Client{Servers: []netip.AddrPort{s.Addr}, Timeout: time.Second}}
	ip := netip.MustParseAddr("198.51.100.25")
	ctx := context.Background()
	c.CheckMailFrom(ctx, ip, "mx.example.test", "a@example.test")
	b.ReportAllocs()
	for b.Loop() {
		if o := c.CheckMailFrom(ctx, ip, "mx.example.test", "a@example.test"); o.Result != Pass {
			b.Fatal(o.Result, o.Problem)
		}
	}
}
