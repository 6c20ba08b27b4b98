package dmarc

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"
)

// txtCounter counts the TXT lookups that reach the DNS client.
type txtCounter struct {
	*dns.Client
	txt int
}

func (r *txtCounter) LookupTXT(ctx context.Context, name string) ([]string, error) {
	r.txt++
	return r.Client.LookupTXT(ctx, name)
}

// A policy discovery and an Organizational Domain are cached for the
// shortest TTL of the answers of their tree walk, then walked again.
func TestDiscoveryCache(t *testing.T) {
	z := dnstest.NewServer(t)
	z.Add("_dmarc.example.test", 120, &dnsmessage.TXTResource{TXT: []string{"v=DMARC1; p=reject"}})
	r := &txtCounter{Client: &dns.Client{Servers: []netip.AddrPort{z.Addr}, Timeout: time.Second}}
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	e := &Evaluator{Resolver: r, now: func() time.Time { return now }}
	ctx := context.Background()
	m := &Message{From: "news.example.test", DKIM: []DKIMResult{{Domain: "mail.example.test", Result: "pass"}}}

	ev := e.Evaluate(ctx, m)
	require.Equal(t, Pass, ev.Result, ev.Problem)
	assert.Equal(t, "example.test", ev.PolicyDomain)
	first := r.txt
	require.Positive(t, first)
	ev = e.Evaluate(ctx, m)
	assert.Equal(t, Pass, ev.Result)
	assert.Equal(t, "example.test", ev.OrgDomain)
	assert.Equal(t, first, r.txt, "no walk while cached")

	// Discover hands out a copy: changing it changes no later result.
	d, err := e.Discover(ctx, "news.example.test")
	require.NoError(t, err)
	d.PolicyDomain = "changed.test"
	assert.Equal(t, "example.test", e.Evaluate(ctx, m).PolicyDomain)

	// The negative answers (SOA minimum 60 s) are the shortest TTL.
	now = now.Add(61 * time.Second)
	e.Evaluate(ctx, m)
	assert.Greater(t, r.txt, first)

	// Not cached with the cache off.
	off := &Evaluator{Resolver: r, CacheSize: -1}
	n := r.txt
	off.Evaluate(ctx, m)
	off.Evaluate(ctx, m)
	assert.Equal(t, n+2*first, r.txt)
}
