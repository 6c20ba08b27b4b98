package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"github.com/posthorn/posthorn/smtp/smtptest"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/smtp/dkim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// txtChunks splits a long TXT value into 255-byte strings (RFC 1035 §3.3).
func txtChunks(s string) []string {
	var out []string
	for len(s) > 255 {
		out = append(out, s[:255])
		s = s[255:]
	}
	return append(out, s)
}

func policyServer(t *testing.T, policy string) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, policy)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func domainCheckAt(t *testing.T, zone *dnstest.Server, domain string, sts *httptest.Server, opts DomainOptions) *Report {
	t.Helper()
	opts.DNS = &dns.Client{Servers: []netip.AddrPort{zone.Addr}, Timeout: 2 * time.Second, Attempts: 1}
	if opts.DNSBLs == nil {
		opts.DNSBLs = []string{"bl.test"}
	}
	if sts != nil {
		opts.HTTPClient, opts.MTASTSURLBase = sts.Client(), sts.URL
	}
	r := CheckDomain(context.Background(), testEnv(nil), domain, opts)
	t.Log("\n" + text(r))
	return r
}

func uniq(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

func TestDomainGood(t *testing.T) {
	zone := dnstest.NewServer(t)
	zone.SetAD(true)
	zone.MX("example.test.", 10, "mail.example.test.")
	zone.A("mail.example.test.", "192.0.2.25")
	zone.A("mail.example.test.", "2001:db8::25")
	zone.PTR("25.2.0.192.in-addr.arpa.", "mail.example.test.")
	zone.PTR(dns.ReverseName(netip.MustParseAddr("2001:db8::25")), "mail.example.test.")
	zone.Add("_25._tcp.mail.example.test.", 300, &dnsmessage.UnknownResource{Type: dns.TypeTLSA, Data: append([]byte{3, 1, 1}, make([]byte, 32)...)})
	zone.TXT("example.test.", "v=spf1 ip4:192.0.2.25 ip6:2001:db8::25 include:_spf.provider.test -all")
	zone.TXT("example.test.", "google-site-verification=xyz")
	zone.TXT("_spf.provider.test.", "v=spf1 ip4:198.51.100.0/24 -all")
	zone.TXT("_dmarc.example.test.", "v=DMARC1; p=reject; rua=mailto:dmarc@reports.test")
	zone.TXT("example.test._report._dmarc.reports.test.", "v=DMARC1")
	key, err := dkim.GenerateKey(dkim.RSASHA256)
	require.NoError(t, err)
	rec, err := dkim.KeyRecordFor(key.Public())
	require.NoError(t, err)
	zone.TXT("s1._domainkey.example.test.", txtChunks(rec)...)
	edKey, err := dkim.GenerateKey(dkim.Ed25519SHA256)
	require.NoError(t, err)
	edRec, err := dkim.KeyRecordFor(edKey.Public())
	require.NoError(t, err)
	zone.TXT("s2._domainkey.example.test.", edRec)
	zone.TXT("_mta-sts.example.test.", "v=STSv1; id=20261207")
	zone.TXT("_smtp._tls.example.test.", "v=TLSRPTv1; rua=mailto:tls@example.test")
	sts := policyServer(t, "version: STSv1\nmode: enforce\nmx: *.example.test\nmax_age: 604800\n")

	r := domainCheckAt(t, zone, "example.test", sts, DomainOptions{Selectors: []string{"s1", "s2"}})
	assert.Empty(t, problemIDs(r))
	for _, id := range []string{"fcrdns", "tlsa", "spf", "dmarc", "dkim", "mta-sts", "tls-rpt", "dnsbl-clean"} {
		assert.True(t, r.Has(id), id)
	}
	assert.Equal(t, []string{"192.0.2.25", "2001:db8::25"}, r.Details.(*DomainResult).Senders)
}

func TestDomainBroken(t *testing.T) {
	zone := dnstest.NewServer(t)
	zone.MX("broken.test.", 10, "alias.broken.test.")
	zone.MX("broken.test.", 20, "gone.broken.test.")
	zone.CNAME("alias.broken.test.", "real.broken.test.")
	zone.A("real.broken.test.", "192.0.2.26")
	zone.AddName("gone.broken.test.")
	zone.Add("_25._tcp.alias.broken.test.", 300, &dnsmessage.UnknownResource{Type: dns.TypeTLSA, Data: append([]byte{3, 1, 1}, make([]byte, 32)...)})
	zone.TXT("broken.test.", "v=spf1 ip4:192.0.2.26 include:missing.test +all")
	zone.TXT("_dmarc.broken.test.", "v=DMARC1; p=none; rua=mailto:x@other.test")
	zone.TXT("old._domainkey.broken.test.", "v=DKIM1; k=rsa; p=")
	edKey, err := dkim.GenerateKey(dkim.Ed25519SHA256)
	require.NoError(t, err)
	edRec, err := dkim.KeyRecordFor(edKey.Public())
	require.NoError(t, err)
	zone.TXT("new._domainkey.broken.test.", edRec+"; t=y")
	zone.TXT("_mta-sts.broken.test.", "v=STSv1; id=1")
	zone.A("26.2.0.192.bl.test.", "127.0.0.2")
	zone.TXT("26.2.0.192.bl.test.", "listed for spam, see https://bl.test/")
	zone.A("27.2.0.192.bl.test.", "127.255.255.254")
	sts := policyServer(t, "version: STSv1\nmode: enforce\nmx: mx.other.test\nmax_age: 604800\n")

	r := domainCheckAt(t, zone, "broken.test", sts, DomainOptions{
		Selectors: []string{"old", "new", "nokey"},
		IPs:       []netip.Addr{netip.MustParseAddr("192.0.2.27")},
	})
	assert.Equal(t, []string{
		"dkim-missing", "dkim-revoked", "dkim-testing", "dmarc-p-none", "dmarc-report-unauthorized", "dnsbl-listed",
		"mta-sts-mx-mismatch", "mx-cname", "mx-unresolvable", "no-ptr", "spf-include-broken", "spf-pass-all", "tlsa-insecure",
	}, uniq(problemIDs(r)))
	assert.True(t, r.Has("dnsbl-refused"), "127.255.255.254 is a refused query, not a listing")
	out := text(r)
	assert.Contains(t, out, "fix: Replace \"+all\" with \"-all\"")
	assert.Contains(t, out, "listed for spam, see https://bl.test/")
	for _, f := range r.Problems() {
		assert.NotEmpty(t, f.Fix, f.ID)
	}
}

func TestDomainSPFTooManyLookups(t *testing.T) {
	zone := dnstest.NewServer(t)
	zone.MX("many.test.", 0, ".")
	rec := "v=spf1"
	for i := range 11 {
		rec += fmt.Sprintf(" include:i%d.many.test", i)
		zone.TXT(fmt.Sprintf("i%d.many.test.", i), "v=spf1 -all")
	}
	zone.TXT("many.test.", rec+" -all")
	zone.TXT("_dmarc.many.test.", "v=DMARC1; p=reject; rua=mailto:d@many.test")
	r := domainCheckAt(t, zone, "many.test", nil, DomainOptions{DNSBLs: []string{}})
	assert.Equal(t, []string{"spf-too-many-lookups"}, problemIDs(r))
	assert.True(t, r.Has("null-mx"))
}

func TestDomainMissing(t *testing.T) {
	zone := dnstest.NewServer(t)
	zone.AddName("bare.test.")
	r := domainCheckAt(t, zone, "bare.test", nil, DomainOptions{DNSBLs: []string{}})
	assert.Equal(t, []string{"no-mx", "no-spf", "no-dmarc"}, problemIDs(r))
	r = domainCheckAt(t, zone, "nosuch.test", nil, DomainOptions{DNSBLs: []string{}})
	assert.Contains(t, problemIDs(r), "domain-nxdomain")
}

func TestDomainDNSFailure(t *testing.T) {
	zone := dnstest.NewServer(t)
	zone.MX("flaky.test.", 10, "mail.flaky.test.")
	zone.A("mail.flaky.test.", "192.0.2.9")
	zone.RCode("_dmarc.flaky.test.", dnsmessage.RCodeServerFailure)
	r := domainCheckAt(t, zone, "flaky.test", nil, DomainOptions{DNSBLs: []string{}})
	assert.Contains(t, problemIDs(r), "dns-failure")
	assert.NotContains(t, problemIDs(r), "no-dmarc", "a failed query is not a missing record")
}

func TestStsMatch(t *testing.T) {
	assert.True(t, stsMatch([]string{"*.example.org"}, "mx1.example.org"))
	assert.False(t, stsMatch([]string{"*.example.org"}, "a.b.example.org"))
	assert.False(t, stsMatch([]string{"*.example.org"}, "example.org"))
	assert.True(t, stsMatch([]string{"mail.example.org"}, "MAIL.example.org."))
}

// The command line: -resolver, -mtasts-url-base with -ca, -dnsbl none, -json
// and the exit code.
func TestRunDomain(t *testing.T) {
	zone := dnstest.NewServer(t)
	zone.MX("cli.test.", 10, "mail.cli.test.")
	zone.A("mail.cli.test.", "192.0.2.40")
	zone.PTR("40.2.0.192.in-addr.arpa.", "mail.cli.test.")
	zone.TXT("cli.test.", "v=spf1 mx -all")
	zone.TXT("_dmarc.cli.test.", "v=DMARC1; p=quarantine; rua=mailto:d@cli.test")
	zone.TXT("_mta-sts.cli.test.", "v=STSv1; id=1")
	sts := policyServer(t, "version: STSv1\nmode: enforce\nmx: mail.cli.test\nmax_age: 604800\n")
	pem := t.TempDir() + "/ca.pem"
	writeCertPEM(t, pem, sts.Certificate())
	args := []string{"domain", "-resolver", zone.Addr.String(), "-mtasts-url-base", sts.URL, "-ca", pem, "-dnsbl", "none"}

	var out, errOut bytes.Buffer
	rc := run(context.Background(), append(args, "cli.test"), nil, &out, &errOut)
	t.Log(out.String())
	assert.Equal(t, 0, rc, errOut.String())
	assert.Contains(t, out.String(), "No problems found.")

	zone.TXT("_dmarc.broken-cli.test.", "v=DMARC1; p=none")
	out.Reset()
	rc = run(context.Background(), append(args, "-json", "broken-cli.test"), nil, &out, &errOut)
	assert.Equal(t, 1, rc)
	var rep Report
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	assert.Equal(t, Error, rep.Findings[0].Severity, "problems first")
}

// DANE: TLSA records checked against the certificate our SMTP server
// presents after STARTTLS; a stale record is a mismatch.
func TestDomainDANEMatch(t *testing.T) {
	srv := smtptest.NewServer(t)
	_, port, _ := net.SplitHostPort(srv.Addr)
	spki := sha256.Sum256(srv.Certificate().RawSubjectPublicKeyInfo)
	for _, c := range []struct {
		data []byte
		want string
	}{{spki[:], "dane-match"}, {make([]byte, 32), "dane-mismatch"}} {
		zone := dnstest.NewServer(t)
		zone.SetAD(true)
		zone.MX("dane.test.", 10, "mx.dane.test.")
		zone.A("mx.dane.test.", "127.0.0.1")
		zone.Add("_25._tcp.mx.dane.test.", 300, &dnsmessage.UnknownResource{Type: dns.TypeTLSA, Data: append([]byte{3, 1, 1}, c.data...)})
		p, _ := strconv.Atoi(port)
		r := domainCheckAt(t, zone, "dane.test", nil, DomainOptions{DNSBLs: []string{}, DANEConnect: true, MXPort: p})
		assert.True(t, r.Has(c.want), c.want)
		if c.want == "dane-match" {
			assert.NotContains(t, problemIDs(r), "dane-mismatch")
		} else {
			assert.Contains(t, problemIDs(r), "dane-mismatch")
		}
	}
}
