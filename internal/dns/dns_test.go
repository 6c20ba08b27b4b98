package dns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"
)

func newClient(t *testing.T, s *dnstest.Server) *Client {
	t.Helper()
	return &Client{Servers: []netip.AddrPort{s.Addr}, Timeout: 300 * time.Millisecond, Attempts: 1}
}

func dnsErr(t *testing.T, err error) *net.DNSError {
	t.Helper()
	var de *net.DNSError
	require.True(t, errors.As(err, &de), "error %v (%T) is not a *net.DNSError", err, err)
	return de
}

func TestLookupTypes(t *testing.T) {
	s := dnstest.NewServer(t)
	// RFC 7208 §3.3: the strings of one TXT record are joined without space.
	s.TXT("example.test", "v=spf1 ", "-all")
	s.TXT("example.test", "other")
	s.A("example.test", "192.0.2.1")
	s.A("example.test", "2001:db8::1")
	s.MX("example.test", 20, "mx2.example.test")
	s.MX("example.test", 10, "mx1.example.test")
	s.PTR("1.2.0.192.in-addr.arpa", "example.test")
	s.PTR("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", "v6.example.test")
	s.Add("_25._tcp.mx1.example.test", 300, &dnsmessage.UnknownResource{Type: TypeTLSA, Data: []byte{3, 1, 1, 0xab, 0xcd}})
	c := newClient(t, s)
	ctx := context.Background()

	txt, err := c.LookupTXT(ctx, "Example.TEST")
	require.NoError(t, err)
	assert.Equal(t, []string{"v=spf1 -all", "other"}, txt)

	ips, err := c.LookupNetIP(ctx, "ip", "example.test")
	require.NoError(t, err)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")}, ips)
	ips, err = c.LookupNetIP(ctx, "ip6", "example.test.")
	require.NoError(t, err)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("2001:db8::1")}, ips)

	mxs, err := c.LookupMX(ctx, "example.test")
	require.NoError(t, err)
	require.Len(t, mxs, 2)
	assert.Equal(t, net.MX{Host: "mx1.example.test.", Pref: 10}, *mxs[0])
	assert.Equal(t, net.MX{Host: "mx2.example.test.", Pref: 20}, *mxs[1])

	names, err := c.LookupAddr(ctx, "192.0.2.1")
	require.NoError(t, err)
	assert.Equal(t, []string{"example.test."}, names)
	names, err = c.LookupAddr(ctx, "2001:db8::1")
	require.NoError(t, err)
	assert.Equal(t, []string{"v6.example.test."}, names)

	tlsa, ad, err := c.LookupTLSA(ctx, "_25._tcp.mx1.example.test")
	require.NoError(t, err)
	assert.False(t, ad, "the server did not set AD")
	assert.Equal(t, []TLSA{{Usage: 3, Selector: 1, MatchingType: 1, Data: []byte{0xab, 0xcd}}}, tlsa)
}

// NXDOMAIN and "no data" are not-found; SERVFAIL and silence are temporary
// (RFC 7208 §5: temperror, never pass or fail).
func TestLookupFailures(t *testing.T) {
	s := dnstest.NewServer(t)
	s.A("nodata.test", "192.0.2.1")
	s.RCode("servfail.test", dnsmessage.RCodeServerFailure)
	s.RCode("refused.test", dnsmessage.RCodeRefused)
	s.Silent("silent.test")
	c := newClient(t, s)
	ctx := context.Background()

	_, err := c.LookupTXT(ctx, "nxdomain.test")
	de := dnsErr(t, err)
	assert.True(t, de.IsNotFound)
	assert.False(t, de.IsTemporary)

	_, err = c.LookupTXT(ctx, "nodata.test")
	de = dnsErr(t, err)
	assert.True(t, de.IsNotFound)
	assert.False(t, de.IsTemporary)
	resp, err := c.Lookup(ctx, "nodata.test", dnsmessage.TypeTXT)
	require.NoError(t, err)
	assert.Equal(t, dnsmessage.RCodeSuccess, resp.RCode, "no data is not NXDOMAIN")
	resp, err = c.Lookup(ctx, "nxdomain.test", dnsmessage.TypeTXT)
	require.NoError(t, err)
	assert.Equal(t, dnsmessage.RCodeNameError, resp.RCode)

	for _, name := range []string{"servfail.test", "refused.test"} {
		_, err = c.LookupTXT(ctx, name)
		de = dnsErr(t, err)
		assert.True(t, de.IsTemporary, name)
		assert.False(t, de.IsNotFound, name)
	}

	start := time.Now()
	_, err = c.LookupTXT(ctx, "silent.test")
	de = dnsErr(t, err)
	assert.True(t, de.IsTemporary)
	assert.True(t, de.IsTimeout)
	assert.Less(t, time.Since(start), 3*time.Second)

	// A name no DNS message can carry is not found, without a query.
	_, err = c.LookupTXT(ctx, strings.Repeat("a", 64)+".test")
	assert.True(t, dnsErr(t, err).IsNotFound)

	// A cancelled context ends the lookup.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c.LookupTXT(cctx, "other.test")
	assert.True(t, dnsErr(t, err).IsTemporary)
}

func TestCache(t *testing.T) {
	s := dnstest.NewServer(t)
	s.Add("ttl.test", 100, &dnsmessage.TXTResource{TXT: []string{"x"}})
	s.Add("ttl.test", 50, &dnsmessage.TXTResource{TXT: []string{"y"}})
	s.RCode("servfail.test", dnsmessage.RCodeServerFailure)
	c := newClient(t, s)
	now := time.Unix(1e9, 0)
	c.init()
	c.now = func() time.Time { return now }
	ctx := context.Background()

	for range 3 {
		_, err := c.LookupTXT(ctx, "ttl.test")
		require.NoError(t, err)
	}
	assert.Equal(t, 1, s.Queries("ttl.test"), "answered from the cache")
	resp, err := c.Lookup(ctx, "ttl.test", dnsmessage.TypeTXT)
	require.NoError(t, err)
	assert.Equal(t, 50*time.Second, resp.TTL, "the smallest TTL of the records")

	now = now.Add(49 * time.Second)
	c.LookupTXT(ctx, "ttl.test")
	assert.Equal(t, 1, s.Queries("ttl.test"))
	now = now.Add(2 * time.Second)
	c.LookupTXT(ctx, "ttl.test")
	assert.Equal(t, 2, s.Queries("ttl.test"), "expired after its TTL")

	// Negative answers live for the SOA's negative TTL (RFC 2308 §5; the
	// test server says 60 s).
	c.LookupTXT(ctx, "missing.test")
	c.LookupTXT(ctx, "missing.test")
	assert.Equal(t, 1, s.Queries("missing.test"))
	now = now.Add(61 * time.Second)
	c.LookupTXT(ctx, "missing.test")
	assert.Equal(t, 2, s.Queries("missing.test"))

	// Temporary failures are never cached.
	c.LookupTXT(ctx, "servfail.test")
	c.LookupTXT(ctx, "servfail.test")
	assert.Equal(t, 2, s.Queries("servfail.test"))
}

func TestCacheBounded(t *testing.T) {
	s := dnstest.NewServer(t)
	c := newClient(t, s)
	c.CacheSize = 5
	for i := range 20 {
		name := "n" + string(rune('a'+i)) + ".test"
		s.TXT(name, "x")
		_, err := c.LookupTXT(context.Background(), name)
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, c.cache.Len(), 5)
}

func TestCNAMEChain(t *testing.T) {
	s := dnstest.NewServer(t)
	// Within one answer: the test server sends the alias; the client asks
	// for the target.
	s.CNAME("alias.test", "alias2.test")
	s.CNAME("alias2.test", "real.test")
	s.TXT("real.test", "v=spf1 -all")
	s.CNAME("loop1.test", "loop2.test")
	s.CNAME("loop2.test", "loop1.test")
	c := newClient(t, s)
	txt, err := c.LookupTXT(context.Background(), "alias.test")
	require.NoError(t, err)
	assert.Equal(t, []string{"v=spf1 -all"}, txt)
	resp, err := c.Lookup(context.Background(), "alias.test", dnsmessage.TypeTXT)
	require.NoError(t, err)
	assert.Equal(t, []string{"alias2.test.", "real.test."}, resp.CNAMEs)

	_, err = c.LookupTXT(context.Background(), "loop1.test")
	assert.Error(t, err, "a CNAME loop ends")
}

func TestTruncatedFallsBackToTCP(t *testing.T) {
	s := dnstest.NewServer(t)
	s.SetTruncate(true)
	long := strings.Repeat("x", 255)
	var strs []string
	for range 10 {
		strs = append(strs, long)
	}
	s.TXT("big.test", strs...)
	c := newClient(t, s)
	txt, err := c.LookupTXT(context.Background(), "big.test")
	require.NoError(t, err)
	require.Len(t, txt, 1)
	assert.Len(t, txt[0], 2550)
	assert.Equal(t, 2, s.Queries("big.test"), "once over UDP, once over TCP")
}

// RFC 7672 §2.1.3: the AD bit counts only from a trusted resolver.
func TestAuthenticData(t *testing.T) {
	s := dnstest.NewServer(t)
	s.SetAD(true)
	s.TXT("signed.test", "x")
	c := newClient(t, s)
	resp, err := c.Lookup(context.Background(), "signed.test", dnsmessage.TypeTXT)
	require.NoError(t, err)
	assert.True(t, resp.Authentic, "a loopback resolver is trusted")

	remote := &Client{Servers: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.53:53")}}
	remote.init()
	assert.False(t, remote.conf.trusts(remote.conf.Servers[0]))
	explicit := &Client{Servers: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.53:53")}, TrustAD: true}
	explicit.init()
	assert.True(t, explicit.conf.trusts(explicit.conf.Servers[0]))
	assert.True(t, c.conf.trusts(netip.MustParseAddrPort("[::1]:53")))
}

// RFC 7672 §2.1.3: an insecure answer anywhere along a CNAME chain the
// client follows makes the result insecure, even when the last answer is
// signed.
func TestAuthenticDataAlongCNAMEChain(t *testing.T) {
	s := dnstest.NewServer(t)
	s.SetAD(true)
	s.CNAME("alias.test", "mid.test")
	s.CNAME("mid.test", "target.test")
	s.A("target.test", "192.0.2.1")
	c := newClient(t, s)
	resp, err := c.Lookup(context.Background(), "alias.test", dnsmessage.TypeA)
	require.NoError(t, err)
	assert.True(t, resp.Authentic, "secure at every stage")
	assert.Equal(t, []string{"mid.test.", "target.test."}, resp.CNAMEs)

	s.SetADFor("mid.test", false)
	c = newClient(t, s)
	resp, err = c.Lookup(context.Background(), "alias.test", dnsmessage.TypeA)
	require.NoError(t, err)
	require.Len(t, resp.Records, 1)
	assert.False(t, resp.Authentic, "the insecure middle CNAME taints the result")
}

// An answer with the wrong ID is ignored (RFC 5452 §9.1): the client keeps
// reading and takes the real one.
func TestSpoofedAnswerIgnored(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer pc.Close()
	go func() {
		buf := make([]byte, 2048)
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, _ := p.Start(buf[:n])
		q, _ := p.Question()
		reply := func(id uint16, txt string) []byte {
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, Response: true})
			b.StartQuestions()
			b.Question(q)
			b.StartAnswers()
			b.TXTResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.TXTResource{TXT: []string{txt}})
			out, _ := b.Finish()
			return out
		}
		pc.WriteTo(reply(h.ID+1, "spoofed"), from)
		pc.WriteTo(reply(h.ID, "real"), from)
	}()
	c := &Client{Servers: []netip.AddrPort{pc.LocalAddr().(*net.UDPAddr).AddrPort()}, Timeout: 2 * time.Second, Attempts: 1}
	txt, err := c.LookupTXT(context.Background(), "x.test")
	require.NoError(t, err)
	assert.Equal(t, []string{"real"}, txt)
}

func TestParseConfig(t *testing.T) {
	conf, err := ParseConfig(strings.NewReader(`# comment
search example.com
nameserver 192.0.2.1
nameserver 2001:db8::53
nameserver bogus
options rotate timeout:2 attempts:3 trust-ad ndots:2
`))
	require.NoError(t, err)
	assert.Equal(t, []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:53"), netip.MustParseAddrPort("[2001:db8::53]:53")}, conf.Servers)
	assert.Equal(t, 2*time.Second, conf.Timeout)
	assert.Equal(t, 3, conf.Attempts)
	assert.True(t, conf.Rotate)
	assert.True(t, conf.TrustAD)

	conf, err = ParseConfig(strings.NewReader(""))
	require.NoError(t, err)
	assert.Equal(t, defaultConfig(), conf, "no nameserver line means the local resolver")
}

func TestReverseName(t *testing.T) {
	assert.Equal(t, "4.3.2.1.in-addr.arpa.", ReverseName(netip.MustParseAddr("1.2.3.4")))
	assert.Equal(t, "4.3.2.1.in-addr.arpa.", ReverseName(netip.MustParseAddr("::ffff:1.2.3.4")))
	assert.True(t, strings.HasPrefix(ReverseName(netip.MustParseAddr("2001:db8::1")), "1.0.0.0."))
}

func TestDomainExists(t *testing.T) {
	s := dnstest.NewServer(t)
	s.TXT("exists.test", "x")
	s.RCode("broken.test", dnsmessage.RCodeServerFailure)
	c := newClient(t, s)
	ctx := context.Background()
	ok, err := c.DomainExists(ctx, "exists.test")
	require.NoError(t, err)
	assert.True(t, ok, "no A record, but the name exists")
	ok, err = c.DomainExists(ctx, "gone.test")
	require.NoError(t, err)
	assert.False(t, ok)
	_, err = c.DomainExists(ctx, "broken.test")
	assert.True(t, dnsErr(t, err).IsTemporary)
}

// Concurrent lookups of one name share one query.
func TestConcurrentLookupsShareAQuery(t *testing.T) {
	s := dnstest.NewServer(t)
	s.TXT("busy.test", "v=spf1 -all")
	s.SetDelay(100 * time.Millisecond)
	c := newClient(t, s)
	c.Timeout = 2 * time.Second
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			txt, err := c.LookupTXT(context.Background(), "busy.test")
			assert.NoError(t, err)
			assert.Equal(t, []string{"v=spf1 -all"}, txt)
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, s.Queries("busy.test"))
}

func TestWithTimeout(t *testing.T) {
	ctx, stop := WithTimeout(context.Background(), 50*time.Millisecond)
	dl, ok := ctx.Deadline()
	assert.True(t, ok)
	assert.WithinDuration(t, time.Now().Add(50*time.Millisecond), dl, 20*time.Millisecond)
	select {
	case <-ctx.Done():
		assert.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
	case <-time.After(2 * time.Second):
		t.Fatal("no deadline")
	}
	stop()

	// A derived context sees the deadline.
	ctx, stop = WithTimeout(context.Background(), 30*time.Millisecond)
	child, cancel := context.WithTimeout(ctx, time.Hour)
	<-child.Done()
	cancel()
	stop()

	// stop cancels; an earlier parent deadline is kept.
	ctx, stop = WithTimeout(context.Background(), time.Hour)
	stop()
	assert.Error(t, ctx.Err())
	parent, pcancel := context.WithTimeout(context.Background(), time.Second)
	defer pcancel()
	ctx, stop = WithTimeout(parent, time.Hour)
	pdl, _ := parent.Deadline()
	dl, ok = ctx.Deadline()
	assert.True(t, ok)
	assert.Equal(t, pdl, dl)
	stop()
	assert.NoError(t, parent.Err(), "stop cancels only its own context")

	// The clock is read at first use, not at WithTimeout: the deadline
	// counts from the first network query.
	ctx, stop = WithTimeout(context.Background(), 50*time.Millisecond)
	time.Sleep(80 * time.Millisecond)
	assert.NoError(t, ctx.Err())
	stop()

	// Unused, it starts no timer: stop without Done.
	_, stop = WithTimeout(context.Background(), time.Hour)
	stop()
}

// resolv.conf is read again when it changes (checked every 5 seconds).
func TestResolvConfReload(t *testing.T) {
	path := t.TempDir() + "/resolv.conf"
	require.NoError(t, os.WriteFile(path, []byte("nameserver 192.0.2.1\n"), 0o644))
	now := time.Unix(1e9, 0)
	c := &Client{ConfigPath: path}
	c.now = func() time.Time { return now }
	c.init()
	one := []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:53")}
	assert.Equal(t, one, c.conf.Servers)

	require.NoError(t, os.WriteFile(path, []byte("nameserver 192.0.2.2\nnameserver 192.0.2.3\n"), 0o644))
	conf, err := c.config()
	require.NoError(t, err)
	assert.Equal(t, one, conf.Servers, "not looked at again within 5 s")
	now = now.Add(6 * time.Second)
	conf, err = c.config()
	require.NoError(t, err)
	assert.Equal(t, []netip.AddrPort{netip.MustParseAddrPort("192.0.2.2:53"), netip.MustParseAddrPort("192.0.2.3:53")}, conf.Servers)
}

// A TXT answer from the cache, positive or negative, is what the first
// lookup returned, without a second query; the caller's copy is its own.
func TestLookupTXTCachedAnswers(t *testing.T) {
	s := dnstest.NewServer(t)
	s.TXT("example.test", "v=spf1 ", "-all")
	s.A("host.example.test", "192.0.2.1")
	c := newClient(t, s)
	ctx := context.Background()
	for _, name := range []string{"example.test", "host.example.test", "nothing.example.test"} {
		txt1, err1 := c.LookupTXT(ctx, name)
		txt2, err2 := c.LookupTXT(ctx, name)
		require.Equal(t, txt1, txt2, name)
		require.Equal(t, err1, err2, name)
		require.Equal(t, 1, s.Queries(name), name)
		if len(txt2) > 0 {
			txt2[0] = "changed"
			txt3, _ := c.LookupTXT(ctx, name)
			require.Equal(t, "v=spf1 -all", txt3[0])
		}
	}
	_, err := c.LookupTXT(ctx, "nothing.example.test")
	var de *net.DNSError
	require.ErrorAs(t, err, &de)
	require.True(t, de.IsNotFound)
	require.Equal(t, "no such host", de.Err)
	_, err = c.LookupTXT(ctx, "host.example.test")
	require.ErrorAs(t, err, &de)
	require.Equal(t, "no records of the asked type", de.Err)
}
