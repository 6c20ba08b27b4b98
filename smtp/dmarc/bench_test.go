package dmarc

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
)

func BenchmarkParseRecord(b *testing.B) {
	const rec = "v=DMARC1; p=reject; sp=quarantine; np=reject; adkim=s; aspf=r; rua=mailto:a@example.com,mailto:b@example.net; fo=1"
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		if _, err := ParseRecord(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvaluateWarm is the per-message cost of DMARC with the DNS
// answers cached: a subdomain author, relaxed alignment through a tree
// walk for the DKIM domain.
func BenchmarkEvaluateWarm(b *testing.B) {
	s := dnstest.NewServer(b)
	s.TXT("_dmarc.example.test", "v=DMARC1; p=reject; rua=mailto:d@example.test")
	s.A("news.example.test", "192.0.2.1")
	e := &Evaluator{Resolver: &dns.Client{Servers: []netip.AddrPort{s.Addr}, Timeout: time.Second}}
	m := &Message{From: "news.example.test", SPF: SPFResult{Domain: "bounce.other.test", Result: "pass"},
		DKIM: []DKIMResult{{Domain: "mail.example.test", Selector: "s1", Result: "pass"}}}
	ctx := context.Background()
	e.Evaluate(ctx, m)
	b.ReportAllocs()
	for b.Loop() {
		if ev := e.Evaluate(ctx, m); ev.Result != Pass {
			b.Fatal(ev.Result, ev.Problem)
		}
	}
}
