package dmarc

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

// zone is a test DNS: TXT records by name; names listed in exists have
// address records; names in fail answer SERVFAIL.
type zone struct {
	txt     map[string][]string
	exists  map[string]bool
	fail    map[string]bool
	queries []string
}

func (z *zone) LookupTXT(ctx context.Context, name string) ([]string, error) {
	z.queries = append(z.queries, name)
	if z.fail[name] {
		return nil, &net.DNSError{Err: "server failure", Name: name, IsTemporary: true}
	}
	if t, ok := z.txt[name]; ok {
		return t, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (z *zone) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if z.exists[host] {
		return []netip.Addr{netip.MustParseAddr("192.0.2.1")}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func (z *zone) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func TestParseRecord(t *testing.T) {
	r, err := ParseRecord("v=DMARC1; p=reject; sp=quarantine; np=reject; adkim=s; aspf=s; psd=n; t=y; pct=50; rua=mailto:agg@example.com!10m, mailto:b@example.net ;ruf=mailto:f@example.com; fo=1:d:s; x=unknown")
	require.NoError(t, err)
	assert.Equal(t, &Record{Policy: PolicyReject, SubdomainPolicy: PolicyQuarantine, NonexistentPolicy: PolicyReject, PolicyValid: true,
		ADKIM: Strict, ASPF: Strict, PSD: 'n', Testing: true, Pct: 50, HasPct: true,
		RUA: []string{"mailto:agg@example.com", "mailto:b@example.net"}, RUF: []string{"mailto:f@example.com"}, FailureOptions: "1:d:s"}, r)
	assert.Equal(t, "v=DMARC1; p=reject; sp=quarantine; np=reject; adkim=s; aspf=s; psd=n; t=y; pct=50; rua=mailto:agg@example.com,mailto:b@example.net; ruf=mailto:f@example.com; fo=1:d:s", r.String())

	// Defaults, and invalid values falling back to them (§4.8).
	r, err = ParseRecord("v=DMARC1;p=none;adkim=x;psd=q;fo=0:1;pct=101;rua=notauri")
	require.NoError(t, err)
	assert.Equal(t, &Record{Policy: PolicyNone, PolicyValid: true, ADKIM: Relaxed, ASPF: Relaxed, PSD: 'u', FailureOptions: "0"}, r)

	// p= missing or invalid, or sp= invalid: PolicyValid false (§4.10.1).
	for _, txt := range []string{"v=DMARC1; rua=mailto:a@example.com", "v=DMARC1; p=bogus", "v=DMARC1; p=none; sp=bogus"} {
		r, err = ParseRecord(txt)
		require.NoError(t, err)
		assert.False(t, r.PolicyValid, txt)
	}

	// §4.7: v must be first and exactly DMARC1.
	for _, txt := range []string{"p=reject; v=DMARC1", "v=dmarc1; p=reject", "v=DMARC2; p=reject", "v=spf1 -all", ""} {
		_, err = ParseRecord(txt)
		assert.ErrorIs(t, err, errNotDMARC, txt)
	}
	_, err = ParseRecord(" v = DMARC1 ; p = reject")
	assert.NoError(t, err, "WSP around = and ;")
}

// The tree walk of RFC 9989 §4.10: a long name is shortened to seven
// labels after the first query, eight queries at most.
func TestWalkTargets(t *testing.T) {
	assert.Equal(t, []string{
		"a.b.c.d.e.f.g.h.i.j.mail.example.com",
		"g.h.i.j.mail.example.com",
		"h.i.j.mail.example.com",
		"i.j.mail.example.com",
		"j.mail.example.com",
		"mail.example.com",
		"example.com",
		"com",
	}, walkTargets("a.b.c.d.e.f.g.h.i.j.mail.example.com"))
	assert.Equal(t, []string{"a.mail.example.com", "mail.example.com", "example.com", "com"}, walkTargets("a.mail.example.com"))
	assert.Equal(t, []string{"com"}, walkTargets("com"))
	for _, d := range []string{"a.b.c.d.e.f.g.h.i.j.mail.example.com", "a.mail.example.com", "com", "example.com", "a.b.c.d.e.f.g.h"} {
		var got []string
		for n := range walkNames(d) {
			got = append(got, n)
		}
		assert.Equal(t, walkTargets(d), got, d)
	}
}

// The three examples of RFC 9989 §4.10.2.
func TestOrganizationalDomain(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		txt  map[string][]string
		want string
	}{
		{map[string][]string{"_dmarc.mail.example.com": {"v=DMARC1; p=none"}, "_dmarc.example.com": {"v=DMARC1; p=none"}}, "example.com"},
		{map[string][]string{"_dmarc.mail.example.com": {"v=DMARC1; p=none; psd=n"}, "_dmarc.example.com": {"v=DMARC1; p=none"}}, "mail.example.com"},
		{map[string][]string{"_dmarc.com": {"v=DMARC1; p=none; psd=y"}}, "example.com"},
		{map[string][]string{}, "a.mail.example.com"},
	} {
		e := &Evaluator{Resolver: &zone{txt: tc.txt}}
		org, err := e.OrganizationalDomain(ctx, "a.mail.example.com")
		require.NoError(t, err)
		assert.Equal(t, tc.want, org, "%v", tc.txt)
	}
	e := &Evaluator{Method: PublicSuffix}
	org, err := e.OrganizationalDomain(ctx, "a.mail.example.co.uk")
	require.NoError(t, err)
	assert.Equal(t, "example.co.uk", org)
}

func evaluate(t *testing.T, z *zone, m *Message) *Evaluation {
	t.Helper()
	e := &Evaluator{Resolver: z}
	return e.Evaluate(context.Background(), m)
}

func TestEvaluate(t *testing.T) {
	txt := map[string][]string{
		"_dmarc.example.com":     {"v=DMARC1; p=reject; sp=quarantine; np=reject; rua=mailto:d@example.com"},
		"_dmarc.strict.example":  {"v=DMARC1; p=reject; adkim=s; aspf=s"},
		"_dmarc.testing.example": {"v=DMARC1; p=reject; t=y"},
		"_dmarc.pct0.example":    {"v=DMARC1; p=quarantine; pct=0"},
		"_dmarc.norua.example":   {"v=DMARC1; p=bogus"},
		"_dmarc.rua.example":     {"v=DMARC1; p=bogus; rua=mailto:a@rua.example"},
		"_dmarc.two.example":     {"v=DMARC1; p=reject", "v=DMARC1; p=none"},
		"_dmarc.own.example.com": {"v=DMARC1; p=none"},
		"_dmarc.psd-org.test":    {"v=DMARC1; p=reject; psd=y"},
	}
	z := &zone{txt: txt, exists: map[string]bool{"sub.example.com": true, "news.example.com": true}, fail: map[string]bool{"_dmarc.broken.example": true}}
	pass := func(d string) SPFResult { return SPFResult{Domain: d, Result: "pass"} }
	for _, tc := range []struct {
		name        string
		m           Message
		result      Result
		disposition Disposition
		policy      Policy
	}{
		{"spf aligned relaxed", Message{From: "example.com", SPF: pass("bounce.example.com")}, Pass, DispositionPass, PolicyReject},
		{"dkim aligned relaxed", Message{From: "news.example.com", DKIM: []DKIMResult{{Domain: "example.com", Selector: "s", Result: "pass"}}}, Pass, DispositionPass, PolicyQuarantine},
		{"dkim fail does not count", Message{From: "example.com", DKIM: []DKIMResult{{Domain: "example.com", Selector: "s", Result: "fail"}}}, Fail, DispositionReject, PolicyReject},
		{"unaligned spf pass", Message{From: "example.com", SPF: pass("example.net")}, Fail, DispositionReject, PolicyReject},
		{"spf softfail", Message{From: "example.com", SPF: SPFResult{Domain: "example.com", Result: "softfail"}}, Fail, DispositionReject, PolicyReject},
		{"existing subdomain gets sp", Message{From: "sub.example.com"}, Fail, DispositionQuarantine, PolicyQuarantine},
		{"non-existent subdomain gets np", Message{From: "nx.example.com"}, Fail, DispositionReject, PolicyReject},
		{"subdomain's own record", Message{From: "own.example.com"}, Fail, DispositionNone, PolicyNone},
		{"strict spf", Message{From: "strict.example", SPF: pass("mail.strict.example")}, Fail, DispositionReject, PolicyReject},
		{"strict exact", Message{From: "strict.example", SPF: pass("strict.example")}, Pass, DispositionPass, PolicyReject},
		{"strict dkim", Message{From: "strict.example", DKIM: []DKIMResult{{Domain: "x.strict.example", Result: "pass"}}}, Fail, DispositionReject, PolicyReject},
		{"t=y one level lower", Message{From: "testing.example"}, Fail, DispositionQuarantine, PolicyReject},
		{"pct=0 is t=y", Message{From: "pct0.example"}, Fail, DispositionNone, PolicyQuarantine},
		{"no record", Message{From: "example.org"}, None, DispositionNone, ""},
		{"no valid p, no rua: no DMARC", Message{From: "norua.example"}, None, DispositionNone, ""},
		{"no valid p, rua: p=none", Message{From: "rua.example"}, Fail, DispositionNone, PolicyNone},
		{"two records: none", Message{From: "two.example"}, None, DispositionNone, ""},
		{"temporary DNS failure", Message{From: "broken.example", SPF: pass("broken.example")}, TempError, DispositionNone, ""},
		{"PSD policy", Message{From: "mail.brand.psd-org.test"}, Fail, DispositionReject, PolicyReject},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := evaluate(t, z, &tc.m)
			assert.Equal(t, tc.result, ev.Result, ev.Problem)
			assert.Equal(t, tc.disposition, ev.Disposition)
			assert.Equal(t, tc.policy, ev.Policy)
		})
	}
}

// A relaxed check of an identifier that cannot share the author's
// Organizational Domain costs no queries.
func TestAlignmentNoWalkForUnrelated(t *testing.T) {
	z := &zone{txt: map[string][]string{"_dmarc.example.com": {"v=DMARC1; p=reject"}}}
	ev := evaluate(t, z, &Message{From: "example.com", SPF: SPFResult{Domain: "a.b.c.other.example", Result: "pass"}})
	assert.Equal(t, Fail, ev.Result)
	for _, q := range z.queries {
		assert.NotContains(t, q, "other.example")
	}
}

func TestPct(t *testing.T) {
	z := &zone{txt: map[string][]string{"_dmarc.example.com": {"v=DMARC1; p=reject; pct=30"}}}
	n := 0
	e := &Evaluator{Resolver: z, HonorPct: true, Rand: func() int { n++; return []int{10, 50}[n%2] }}
	got := []Disposition{}
	for range 2 {
		got = append(got, e.Evaluate(context.Background(), &Message{From: "example.com"}).Disposition)
	}
	assert.Equal(t, []Disposition{DispositionReject, DispositionQuarantine}, []Disposition{got[1], got[0]})
	e.HonorPct = false
	assert.Equal(t, DispositionReject, e.Evaluate(context.Background(), &Message{From: "example.com"}).Disposition, "RFC 9989 ignores pct")
}

func TestPublicSuffixMethod(t *testing.T) {
	z := &zone{txt: map[string][]string{"_dmarc.example.co.uk": {"v=DMARC1; p=quarantine; sp=reject"}}, exists: map[string]bool{"mail.example.co.uk": true}}
	e := &Evaluator{Resolver: z, Method: PublicSuffix}
	ev := e.Evaluate(context.Background(), &Message{From: "mail.example.co.uk", DKIM: []DKIMResult{{Domain: "other.example.co.uk", Result: "pass"}}})
	assert.Equal(t, Pass, ev.Result)
	assert.Equal(t, "example.co.uk", ev.OrgDomain)
	ev = e.Evaluate(context.Background(), &Message{From: "mail.example.co.uk"})
	assert.Equal(t, DispositionReject, ev.Disposition)
	assert.Equal(t, []string{"_dmarc.mail.example.co.uk", "_dmarc.example.co.uk"}, z.queries[len(z.queries)-2:])
}

func TestAuthorDomain(t *testing.T) {
	d, err := AuthorDomain(`"Alice" <alice@Example.COM>`)
	require.NoError(t, err)
	assert.Equal(t, "example.com", d)
	d, err = AuthorDomain("a@example.com, b@example.com")
	require.NoError(t, err)
	assert.Equal(t, "example.com", d)
	_, err = AuthorDomain("a@example.com, b@example.net")
	assert.Error(t, err)
	_, err = AuthorDomain("")
	assert.Error(t, err)
}

// Over real sockets: the caching DNS client against a DNS server on
// 127.0.0.1, which also tells NXDOMAIN from "no data" for np=.
func TestOverDNS(t *testing.T) {
	s := dnstest.NewServer(t)
	s.TXT("_dmarc.example.test", "v=DMARC1; p=reject; sp=none; np=quarantine")
	s.AddName("exists.example.test") // no records, but it exists
	s.RCode("_dmarc.broken.test", dnsmessage.RCodeServerFailure)
	e := &Evaluator{Resolver: &dns.Client{Servers: []netip.AddrPort{s.Addr}, Timeout: time.Second, Attempts: 1}}
	ctx := context.Background()
	ev := e.Evaluate(ctx, &Message{From: "exists.example.test"})
	assert.Equal(t, PolicyNone, ev.Policy, "an existing name without records gets sp")
	ev = e.Evaluate(ctx, &Message{From: "gone.example.test"})
	assert.Equal(t, PolicyQuarantine, ev.Policy, "NXDOMAIN gets np")
	ev = e.Evaluate(ctx, &Message{From: "example.test", SPF: SPFResult{Domain: "example.test", Result: "pass"}})
	assert.Equal(t, Pass, ev.Result)
	ev = e.Evaluate(ctx, &Message{From: "broken.test"})
	assert.Equal(t, TempError, ev.Result)
	assert.True(t, strings.Contains(ev.Problem, "temporary"), ev.Problem)
}

func TestAuthResult(t *testing.T) {
	z := &zone{txt: map[string][]string{"_dmarc.example.com": {"v=DMARC1; p=reject; t=y"}}}
	ev := evaluate(t, z, &Message{From: "example.com"})
	h := authres.Header{AuthServID: "mx.example.org", Results: []authres.Result{ev.AuthResult()}}
	v, err := h.Format()
	require.NoError(t, err)
	assert.Equal(t, "mx.example.org; dmarc=fail header.from=example.com policy.dmarc=quarantine", v, "t=y: one level below reject")
	ev = evaluate(t, z, &Message{From: "example.com", SPF: SPFResult{Domain: "example.com", Result: "pass"}})
	h.Results = []authres.Result{ev.AuthResult()}
	v, _ = h.Format()
	assert.Equal(t, "mx.example.org; dmarc=pass header.from=example.com policy.dmarc=reject", v)
	ev = evaluate(t, z, &Message{From: "example.org"})
	h.Results = []authres.Result{ev.AuthResult()}
	v, _ = h.Format()
	assert.Equal(t, "mx.example.org; dmarc=none header.from=example.org", v)
}

func TestIDNAuthor(t *testing.T) {
	z := &zone{txt: map[string][]string{"_dmarc.xn--bcher-kva.example": {"v=DMARC1; p=reject"}}}
	ev := evaluate(t, z, &Message{From: "Bücher.example", DKIM: []DKIMResult{{Domain: "xn--bcher-kva.example", Result: "pass"}}})
	assert.Equal(t, Pass, ev.Result)
	assert.Equal(t, "xn--bcher-kva.example", ev.AuthorDomain)
}

// *net.Resolver and posthorn's client both fit.
var (
	_ Resolver = (*net.Resolver)(nil)
	_ Resolver = (*dns.Client)(nil)
)

type hangTXT struct{ zone }

func (*hangTXT) LookupTXT(ctx context.Context, name string) ([]string, error) {
	<-ctx.Done()
	return nil, &net.DNSError{Err: ctx.Err().Error(), Name: name, IsTimeout: true, IsTemporary: true}
}

// A resolver that never answers gives temperror at the deadline.
func TestEvaluateTimeout(t *testing.T) {
	e := &Evaluator{Resolver: &hangTXT{}, Timeout: 50 * time.Millisecond}
	ev := e.Evaluate(context.Background(), &Message{From: "example.com"})
	assert.Equal(t, TempError, ev.Result)
}
