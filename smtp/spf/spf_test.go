package spf

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/smtp/authres"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"
)

// zone builds a zoneResolver from "TYPE value" strings.
func zone(recs map[string][]string) zoneResolver {
	z := zoneResolver{}
	for name, rs := range recs {
		var items []suiteZoneItem
		for _, r := range rs {
			typ, val, _ := strings.Cut(r, " ")
			var raw string
			switch typ {
			case "TXT":
				raw = `["` + strings.ReplaceAll(val, `"`, `\"`) + `"]`
			case "MX":
				pref, host, _ := strings.Cut(val, " ")
				raw = `[` + pref + `,"` + host + `"]`
			case "TIMEOUT":
				items = append(items, suiteZoneItem{Type: "TIMEOUT"})
				continue
			default:
				raw = `"` + val + `"`
			}
			items = append(items, suiteZoneItem{Type: typ, Value: []byte(raw)})
		}
		z[name] = items
	}
	return z
}

// The macro examples of RFC 7208 §7.4.
func TestMacroExamples(t *testing.T) {
	e := &eval{c: &Checker{}, sender: "strong-bad@email.example.com", local: "strong-bad", senderDomain: "email.example.com",
		ip: netip.MustParseAddr("192.0.2.3"), helo: "mx.example.org"}
	v := e.macros(context.Background(), "email.example.com", false)
	for in, want := range map[string]string{
		"%{s}":                              "strong-bad@email.example.com",
		"%{o}":                              "email.example.com",
		"%{d}":                              "email.example.com",
		"%{d4}":                             "email.example.com",
		"%{d3}":                             "email.example.com",
		"%{d2}":                             "example.com",
		"%{d1}":                             "com",
		"%{dr}":                             "com.example.email",
		"%{d2r}":                            "example.email",
		"%{l}":                              "strong-bad",
		"%{l-}":                             "strong.bad",
		"%{lr}":                             "strong-bad",
		"%{lr-}":                            "bad.strong",
		"%{l1r-}":                           "strong",
		"%{ir}.%{v}._spf.%{d2}":             "3.2.0.192.in-addr._spf.example.com",
		"%{lr-}.lp._spf.%{d2}":              "bad.strong.lp._spf.example.com",
		"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}":   "bad.strong.lp.3.2.0.192.in-addr._spf.example.com",
		"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}":  "3.2.0.192.in-addr.strong.lp._spf.example.com",
		"%{d2}.trusted-domains.example.net": "example.com.trusted-domains.example.net",
		"%%%_%-":                            "% %20",
		"%{S}":                              "strong-bad%40email.example.com",
	} {
		got, err := expandMacros(in, false, v)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	e.ip = netip.MustParseAddr("2001:db8::cb01")
	got, err := expandMacros("%{ir}.%{v}._spf.%{d2}", false, v)
	require.NoError(t, err)
	assert.Equal(t, "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com", got)

	for _, bad := range []string{"%", "%(ir)", "%{", "%{x}", "%{d0}", "%{d2q}", "%{c}", "%{r}", "%{t}", "a b"} {
		_, err := expandMacros(bad, false, v)
		assert.Error(t, err, bad)
	}
	// c, r and t are for exp= text only (§7.2).
	_, err = expandMacros("%{c} %{r} %{t}", true, v)
	assert.NoError(t, err)
}

// A macro built to be expensive stays bounded: expansion never re-expands
// its output, and the total is capped.
func TestMacroBounded(t *testing.T) {
	e := &eval{c: &Checker{}, sender: strings.Repeat("a", 1000) + "@x.test", local: strings.Repeat("a", 1000), senderDomain: "x.test", ip: netip.MustParseAddr("192.0.2.1")}
	v := e.macros(context.Background(), "x.test", false)
	_, err := expandMacros(strings.Repeat("%{s}", 100), false, v)
	assert.ErrorIs(t, err, errMacroLong)
	got, err := expandMacros("%{l}.%{l}.x.test", false, v)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(truncateDomain(got)), 253, "§7.3: truncated from the left to 253")
	// A literal "%{s}" in a value is not expanded again.
	e.local = "%{s}%{s}"
	got, err = expandMacros("%{l}", false, v)
	require.NoError(t, err)
	assert.Equal(t, "%{s}%{s}", got)
}

func TestParseRecord(t *testing.T) {
	r, err := ParseRecord("v=spf1 +a mx/24//64 -ip4:192.0.2.0/24 ~ip6:2001:db8::/32 ?include:_spf.example.com exists:%{ir}.bl.example.org ptr redirect=_spf.example.net exp=exp.%{d} foo=bar")
	require.NoError(t, err)
	require.Len(t, r.Directives, 7)
	assert.Equal(t, Directive{Qualifier: QualPass, Mechanism: MechMX, CIDR4: 24, CIDR6: 64, HasCIDR4: true, HasCIDR6: true}, r.Directives[1])
	assert.Equal(t, netip.MustParsePrefix("192.0.2.0/24"), r.Directives[2].Net)
	assert.Equal(t, QualSoftFail, r.Directives[3].Qualifier)
	assert.Equal(t, "_spf.example.net", r.Redirect)
	assert.Equal(t, "exp.%{d}", r.Exp)
	assert.Equal(t, []Modifier{{"foo", "bar"}}, r.Unknown)
	assert.Equal(t, "v=spf1 a mx/24//64 -ip4:192.0.2.0/24 ~ip6:2001:db8::/32 ?include:_spf.example.com exists:%{ir}.bl.example.org ptr redirect=_spf.example.net exp=exp.%{d} foo=bar", r.String())

	for _, bad := range []string{
		"v=spf1 moo",                             // unknown mechanism
		"v=spf1 a:foo-bar",                       // no top label (§7.1)
		"v=spf1 ip4:192.0.2.1/33",                // prefix too long
		"v=spf1 ip4:192.0.2.01",                  // leading zero
		"v=spf1 ip4:2001:db8::1",                 // wrong family
		"v=spf1 a/024",                           // leading zero in a prefix length
		"v=spf1 redirect=a.test redirect=b.test", // §6: at most once
		"v=spf1 exp=a.test exp=b.test",
		"v=spf1 include:",
		"v=spf1 -all\tmx",                     // SP only between terms
		"v=spf1 exists:%(ir).sbl.example.org", // §7.3
		"v=spf1 all:x",
		"v=spf1 ip4:192.0.2.1 \x80",
	} {
		_, err := ParseRecord(bad)
		var se *SyntaxError
		assert.ErrorAs(t, err, &se, bad)
	}
	_, err = ParseRecord("v=spf10")
	assert.ErrorIs(t, err, errNotSPF)
	_, err = ParseRecord("v=spf1 " + strings.Repeat("a ", MaxRecordLength))
	assert.Error(t, err)
}

func check(t *testing.T, z zoneResolver, ip, helo, from string) *Outcome {
	t.Helper()
	c := &Checker{Resolver: z, Receiver: "mx.receiver.test"}
	return c.CheckMailFrom(context.Background(), netip.MustParseAddr(ip), helo, from)
}

// §4.6.4: more than 10 DNS-querying terms is permerror, however they are
// spread over include and redirect.
func TestLookupLimit(t *testing.T) {
	recs := map[string][]string{}
	for i := range 12 {
		name := "l" + string(rune('a'+i)) + ".test"
		next := "l" + string(rune('a'+i+1)) + ".test"
		recs[name] = []string{"TXT v=spf1 include:" + next + " -all", "A 192.0.2.99"}
	}
	recs["lm.test"] = []string{"TXT v=spf1 +all"}
	o := check(t, zone(recs), "192.0.2.1", "h.test", "a@la.test")
	assert.Equal(t, PermError, o.Result)
	assert.Contains(t, o.Problem, "10 DNS lookups")
	assert.Equal(t, 11, o.Lookups)

	// Ten is fine.
	o = check(t, zone(recs), "192.0.2.1", "h.test", "a@lc.test")
	assert.Equal(t, Pass, o.Result, o.Problem)
	assert.Equal(t, 10, o.Lookups)
}

// §4.6.4: more than two void lookups is permerror.
func TestVoidLookupLimit(t *testing.T) {
	z := zone(map[string][]string{
		"v.test": {"TXT v=spf1 a:n1.v.test a:n2.v.test a:n3.v.test +all"},
		"w.test": {"TXT v=spf1 a:n1.v.test a:n2.v.test +all"},
	})
	o := check(t, z, "192.0.2.1", "h.test", "a@v.test")
	assert.Equal(t, PermError, o.Result)
	assert.Contains(t, o.Problem, "void")
	o = check(t, z, "192.0.2.1", "h.test", "a@w.test")
	assert.Equal(t, Pass, o.Result)
	assert.Equal(t, 2, o.VoidLookups)
}

// §4.6.4: an mx with more than 10 MX names is permerror.
func TestMXLimit(t *testing.T) {
	var mxs []string
	for i := range 11 {
		mxs = append(mxs, "MX 10 mx"+string(rune('a'+i))+".m.test")
	}
	mxs = append(mxs, "TXT v=spf1 mx -all")
	o := check(t, zone(map[string][]string{"m.test": mxs}), "192.0.2.1", "h.test", "a@m.test")
	assert.Equal(t, PermError, o.Result)
}

// A temporary DNS failure anywhere is temperror (§5), never fail.
func TestTempError(t *testing.T) {
	z := zone(map[string][]string{
		"t.test":      {"TXT v=spf1 a:slow.t.test -all"},
		"slow.t.test": {"TIMEOUT"},
		"top.test":    {"TIMEOUT"},
	})
	o := check(t, z, "192.0.2.1", "h.test", "a@t.test")
	assert.Equal(t, TempError, o.Result)
	o = check(t, z, "192.0.2.1", "h.test", "a@top.test")
	assert.Equal(t, TempError, o.Result)
}

func TestNullSenderAndHelo(t *testing.T) {
	z := zone(map[string][]string{
		"mail.h.test": {"TXT v=spf1 ip4:192.0.2.0/24 -all"},
		// Records no check may ask for: addresses are no domains.
		"192.0.2.7":   {"TXT v=spf1 +all"},
		"[192.0.2.7]": {"TXT v=spf1 +all"},
	})
	c := &Checker{Resolver: z}
	ip := netip.MustParseAddr("192.0.2.7")
	// §2.4: the null sender checks postmaster@helo.
	o := c.CheckMailFrom(context.Background(), ip, "mail.h.test", "")
	assert.Equal(t, Pass, o.Result)
	assert.Equal(t, "postmaster@mail.h.test", o.Sender)
	assert.Equal(t, IdentityMailFrom, o.Identity)
	o = c.CheckHelo(context.Background(), netip.MustParseAddr("198.51.100.1"), "mail.h.test")
	assert.Equal(t, Fail, o.Result)
	assert.Equal(t, IdentityHelo, o.Identity)
	// §4.3: an address literal or a single label is none.
	assert.Equal(t, None, c.CheckHelo(context.Background(), ip, "[192.0.2.7]").Result)
	assert.Equal(t, None, c.CheckHelo(context.Background(), ip, "192.0.2.7").Result, "a bare address is no domain")
	assert.Equal(t, None, c.CheckMailFrom(context.Background(), ip, "[192.0.2.7]", "").Result)
	assert.Equal(t, None, c.CheckHelo(context.Background(), ip, "localhost").Result)
	// An IPv4-mapped client address is the IPv4 address.
	assert.Equal(t, Pass, c.CheckHelo(context.Background(), netip.MustParseAddr("::ffff:192.0.2.7"), "mail.h.test").Result)
}

func TestReceivedSPF(t *testing.T) {
	z := zone(map[string][]string{"example.com": {"TXT v=spf1 ip4:192.0.2.1 -all"}})
	o := check(t, z, "192.0.2.1", "foo.example.com", "myname@example.com")
	assert.Equal(t, "Received-SPF: pass (mx.receiver.test: domain of myname@example.com designates 192.0.2.1 as permitted sender)\r\n"+
		"\treceiver=mx.receiver.test;\r\n\tclient-ip=192.0.2.1;\r\n\tenvelope-from=\"myname@example.com\";\r\n"+
		"\thelo=foo.example.com;\r\n\tidentity=mailfrom;\r\n\tmechanism=\"ip4:192.0.2.1\";\r\n", o.ReceivedSPF()) // ":" is not atext: quoted (RFC 5322 §3.2.3)

	// Client-supplied text cannot break out of the field (§9.1).
	o = check(t, z, "192.0.2.1", "evil\r\nX-Injected: 1 (\") \\", "a\"b\r\n@example.com")
	f := o.ReceivedSPF()
	assert.Equal(t, 1, strings.Count(f, "\r\n\t"+"helo="), f)
	for _, line := range strings.Split(strings.TrimSuffix(f, "\r\n"), "\r\n")[1:] {
		assert.True(t, strings.HasPrefix(line, "\t"), "continuation line %q", line)
	}
	assert.NotContains(t, f, "\nX-Injected")
	assert.Contains(t, f, "\thelo=\"evil??X-Injected: 1 (\\\") \\\\\";\r\n", "quoted-pairs for \" and \\")
	var cb appender
	writeComment(&cb, `a(b)c\`)
	assert.Equal(t, `a\(b\)c\\`, string(cb.b), "comment escapes ( ) and \\")
	cb.b = cb.b[:0]
	writeComment(&cb, "\"x\x00\xff"+strings.Repeat("y", 300))
	assert.Equal(t, "\"x??"+strings.Repeat("y", maxFieldValue-4), string(cb.b), "\" passes in a comment; cut to maxFieldValue")

	// The client address: IPv6 (and IPv4-mapped) quoted as a value, bare
	// in the comment.
	for ip, want := range map[string]string{"192.0.2.1": "client-ip=192.0.2.1;", "2001:db8::1": `client-ip="2001:db8::1";`, "::ffff:192.0.2.1": `client-ip="::ffff:192.0.2.1";`} {
		o := &Outcome{Result: Pass, IP: netip.MustParseAddr(ip), Sender: "a@example.com", Identity: IdentityMailFrom}
		f := o.ReceivedSPF()
		assert.Contains(t, f, want)
		assert.Contains(t, f, "designates "+ip+" as permitted sender")
		assert.Equal(t, f, string(o.AppendReceivedSPF([]byte(nil))))
	}
}

// Over real sockets: the caching DNS client asking a DNS server on
// 127.0.0.1, a SERVFAIL inside an include giving temperror.
func TestOverDNS(t *testing.T) {
	s := dnstest.NewServer(t)
	s.TXT("example.test", "v=spf1 include:_spf.example.test -all")
	s.TXT("_spf.example.test", "v=spf1 ip4:192.0.2.0/24 mx ~all")
	s.MX("_spf.example.test", 10, "mx.example.test")
	s.A("mx.example.test", "198.51.100.25")
	s.TXT("broken.test", "v=spf1 include:sf.broken.test -all")
	s.RCode("sf.broken.test", dnsmessage.RCodeServerFailure)
	c := &Checker{Resolver: &dns.Client{Servers: []netip.AddrPort{s.Addr}, Timeout: time.Second, Attempts: 1}}
	ctx := context.Background()
	assert.Equal(t, Pass, c.CheckMailFrom(ctx, netip.MustParseAddr("192.0.2.9"), "h.test", "a@example.test").Result)
	assert.Equal(t, Pass, c.CheckMailFrom(ctx, netip.MustParseAddr("198.51.100.25"), "h.test", "a@example.test").Result)
	o := c.CheckMailFrom(ctx, netip.MustParseAddr("203.0.113.1"), "h.test", "a@example.test")
	assert.Equal(t, Fail, o.Result)
	assert.Equal(t, "-all", o.Mechanism)
	o = c.CheckMailFrom(ctx, netip.MustParseAddr("203.0.113.1"), "h.test", "a@broken.test")
	assert.Equal(t, TempError, o.Result)
	// Warm cache: asking again sends nothing.
	n := s.Queries("_spf.example.test")
	c.CheckMailFrom(ctx, netip.MustParseAddr("192.0.2.9"), "h.test", "a@example.test")
	assert.Equal(t, n, s.Queries("_spf.example.test"))
}

// The evaluation deadline turns a resolver that hangs into temperror.
func TestTimeout(t *testing.T) {
	c := &Checker{Resolver: hang{}, Timeout: 50 * time.Millisecond}
	o := c.CheckMailFrom(context.Background(), netip.MustParseAddr("192.0.2.1"), "h.test", "a@x.test")
	assert.Equal(t, TempError, o.Result)
}

type hang struct{}

func (hang) LookupTXT(ctx context.Context, name string) ([]string, error) {
	<-ctx.Done()
	return nil, &net.DNSError{Err: ctx.Err().Error(), IsTimeout: true, IsTemporary: true}
}
func (hang) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return nil, nil
}
func (hang) LookupMX(ctx context.Context, name string) ([]*net.MX, error)  { return nil, nil }
func (hang) LookupAddr(ctx context.Context, addr string) ([]string, error) { return nil, nil }

func TestAuthResult(t *testing.T) {
	z := zone(map[string][]string{"example.com": {"TXT v=spf1 ip4:192.0.2.1 -all"}, "bad.example": {"TXT v=spf1 moo"}})
	o := check(t, z, "192.0.2.1", "mail.example.com", "a@example.com")
	h := authres.Header{AuthServID: "mx.example.org", Results: []authres.Result{o.AuthResult()}}
	v, err := h.Format()
	require.NoError(t, err)
	assert.Equal(t, "mx.example.org; spf=pass smtp.mailfrom=a@example.com", v)

	o = check(t, z, "192.0.2.1", "mail.example.com", "a@bad.example")
	h.Results = []authres.Result{o.AuthResult()}
	v, err = h.Format()
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(v, `mx.example.org; spf=permerror reason="`), v)
	// Round trip through the parser.
	parsed, err := authres.Parse(v)
	require.NoError(t, err)
	assert.Equal(t, "a@bad.example", parsed.Results[0].Props[0].Value)
}

// RFC 7208 §4.3: an internationalized domain is checked as A-labels.
func TestIDN(t *testing.T) {
	z := zone(map[string][]string{"xn--bcher-kva.example": {"TXT v=spf1 ip4:192.0.2.1 -all"}})
	o := check(t, z, "192.0.2.1", "h.test", "kunde@bücher.example")
	assert.Equal(t, Pass, o.Result)
	assert.Equal(t, "kunde@xn--bcher-kva.example", o.Sender)
}

// *net.Resolver and posthorn's client both fit.
var (
	_ Resolver = (*net.Resolver)(nil)
	_ Resolver = (*dns.Client)(nil)
)
