package spf

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

// The outcome for a client address and domain is cached for the shortest
// TTL of the answers it used, with each message's own sender and HELO;
// outcomes that depend on the sender (a macro) or on answers without a
// TTL are evaluated every time.
func TestOutcomeCache(t *testing.T) {
	z := dnstest.NewServer(t)
	txt := func(name string, ttl uint32, s string) {
		z.Add(name, ttl, &dnsmessage.TXTResource{TXT: []string{s}})
	}
	txt("cached.test", 300, "v=spf1 ip4:192.0.2.0/24 -all")
	txt("personal.test", 300, "v=spf1 exists:%{l}.ok.personal.test -all")
	z.A("a.ok.personal.test", "127.0.0.2")
	txt("short.test", 0, "v=spf1 ip4:192.0.2.0/24 -all")
	r := &txtCounter{Client: &dns.Client{Servers: []netip.AddrPort{z.Addr}, Timeout: time.Second}}
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	c := &Checker{Resolver: r, Now: func() time.Time { return now }}
	ctx := context.Background()
	ip := netip.MustParseAddr("192.0.2.1")

	o := c.CheckMailFrom(ctx, ip, "h1.example", "a@cached.test")
	require.Equal(t, Pass, o.Result)
	assert.Equal(t, 1, r.txt)
	o = c.CheckMailFrom(ctx, ip, "h2.example", "b@cached.test")
	assert.Equal(t, Pass, o.Result)
	assert.Equal(t, 1, r.txt, "answered from the outcome cache")
	assert.Equal(t, "b@cached.test", o.Sender)
	assert.Equal(t, "h2.example", o.Helo)
	assert.Equal(t, IdentityMailFrom, o.Identity)
	assert.Contains(t, string(o.ReceivedSPF()), "b@cached.test")

	// Another client address is another key.
	o = c.CheckMailFrom(ctx, netip.MustParseAddr("198.51.100.1"), "h1.example", "a@cached.test")
	assert.Equal(t, Fail, o.Result)
	assert.Equal(t, 2, r.txt)

	// Past the TTL, evaluated again.
	now = now.Add(301 * time.Second)
	assert.Equal(t, Pass, c.CheckMailFrom(ctx, ip, "h1.example", "a@cached.test").Result)
	assert.Equal(t, 3, r.txt)

	// %{l} makes the outcome the sender's own.
	assert.Equal(t, Pass, c.CheckMailFrom(ctx, ip, "h1.example", "a@personal.test").Result)
	assert.Equal(t, Fail, c.CheckMailFrom(ctx, ip, "h1.example", "b@personal.test").Result)

	// An answer with TTL 0 is never cached, nor what rests on it.
	n := r.txt
	c.CheckMailFrom(ctx, ip, "h1.example", "a@short.test")
	c.CheckMailFrom(ctx, ip, "h1.example", "a@short.test")
	assert.Equal(t, n+2, r.txt)

	// CacheSize < 0 turns it off.
	off := &Checker{Resolver: r, CacheSize: -1}
	n = r.txt
	off.CheckMailFrom(ctx, ip, "h1.example", "a@cached.test")
	off.CheckMailFrom(ctx, ip, "h1.example", "a@cached.test")
	assert.Equal(t, n+2, r.txt)
}
