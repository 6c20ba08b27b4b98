package smtpqueue

import (
	"crypto/tls"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/posthorn/posthorn/internal/dane/danetest"
	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/smtptest"
)

// daneZone is a fake validating resolver and TLS receivers for DANE tests.
type daneZone struct {
	t    *testing.T
	dns  *dnstest.Server
	ca   *danetest.CA
	srvs map[string]*smtptest.Server
	// alias, when set for a domain, makes its MX host a CNAME to this
	// name (with the address) instead of having an address itself.
	alias map[string]string
}

func newDANEZone(t *testing.T) *daneZone {
	z := &daneZone{t: t, dns: dnstest.NewServer(t), srvs: map[string]*smtptest.Server{}, alias: map[string]string{}}
	z.dns.SetAD(true) // signed unless a test says otherwise
	var err error
	if z.ca, err = danetest.NewCA("DANE test TA"); err != nil {
		t.Fatal(err)
	}
	return z
}

// server adds domain with MX mx.<domain>, served by an smtptest server
// with a certificate for certName issued by the zone's CA (no STARTTLS
// when certName is ""), and TLSA records at _25._tcp.mx.<domain> made by
// tlsa from the server's chain.
func (z *daneZone) server(domain, certName string, tlsa func(c tls.Certificate) []dns.TLSA) tls.Certificate {
	z.t.Helper()
	s := smtptest.NewUnstartedServer(z.t)
	var cert tls.Certificate
	if certName != "" {
		nb, na := danetest.Valid()
		var err error
		if cert, err = z.ca.Issue([]string{certName}, nb, na); err != nil {
			z.t.Fatal(err)
		}
		s.Server.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	} else {
		s.Server.TLSConfig = nil
	}
	s.Start()
	z.srvs[domain] = s
	mx := "mx." + domain
	z.dns.MX(domain, 10, mx)
	if target, ok := z.alias[domain]; ok {
		z.dns.CNAME(mx, target)
		z.dns.A(target, "127.0.0.1")
	} else {
		z.dns.A(mx, "127.0.0.1")
	}
	if tlsa != nil {
		for _, r := range tlsa(cert) {
			z.dns.Add("_25._tcp."+mx, 300, &dnsmessage.UnknownResource{Type: dns.TypeTLSA, Data: danetest.RData(r)})
		}
	}
	return cert
}

func (z *daneZone) harness(rec *TLSRecorder, edit func(*MX)) *harness {
	h := newHarness(z.t, []string{"sender.test"}, func(o *Options) {
		mx := o.Transport.(*MX)
		cl := &dns.Client{Servers: []netip.AddrPort{z.dns.Addr}}
		mx.Options.Resolver = cl
		mx.DANE = &DANE{Resolvers: []netip.AddrPort{z.dns.Addr}}
		mx.TLSRPT = rec
		if edit != nil {
			edit(mx)
		}
	})
	h.net.mu.Lock()
	for d, s := range z.srvs {
		h.net.servers[d] = s
	}
	h.net.mu.Unlock()
	return h
}

func ee(c tls.Certificate) []dns.TLSA { return []dns.TLSA{danetest.EE(c.Leaf)} }

// DANE for SMTP (RFC 7672) against a fake validating resolver: what is
// delivered, over what, and what waits.
func TestDANE(t *testing.T) {
	z := newDANEZone(t)
	other, err := z.ca.Issue([]string{"x.test"}, z.ca.Cert.NotBefore, z.ca.Cert.NotAfter)
	if err != nil {
		t.Fatal(err)
	}
	wrongKey := func(tls.Certificate) []dns.TLSA { return []dns.TLSA{danetest.EE(other.Leaf)} }
	ta := func(tls.Certificate) []dns.TLSA { return []dns.TLSA{danetest.TA(z.ca.Cert)} }

	// §3.1.1: DANE-EE matches the key; the certificate's name (here
	// another host's) does not matter (§3.2.1).
	z.server("ee.test", "unrelated.example", ee)
	// §3.1.2, §3.2.2: DANE-TA with the MX host's name, and with the
	// recipient domain's.
	z.server("ta.test", "mx.ta.test", ta)
	z.server("tadomain.test", "tadomain.test", ta)
	// Mismatches: another key; a TA-issued certificate for another name;
	// no STARTTLS at all. Each waits; none is sent in clear.
	z.server("mismatch.test", "mx.mismatch.test", wrongKey)
	z.server("taname.test", "elsewhere.test", ta)
	z.server("notls.test", "", func(tls.Certificate) []dns.TLSA { return []dns.TLSA{danetest.EE(other.Leaf)} })
	// §2.1.2: a TLSA lookup that fails makes the host unusable.
	z.server("servfail.test", "mx.servfail.test", ee)
	z.dns.RCode("_25._tcp.mx.servfail.test", dnsmessage.RCodeServerFailure)
	// §2.2: only unusable records (PKIX-EE): TLS, unauthenticated.
	z.server("unusable.test", "mx.unusable.test", func(c tls.Certificate) []dns.TLSA {
		r := danetest.EE(c.Leaf)
		r.Usage = 1
		return []dns.TLSA{r}
	})
	// §2.2.1: an unsigned zone, or a signed TLSA RRset behind an
	// insecure MX RRset: opportunistic TLS, the wrong key is ignored.
	z.server("unsigned.test", "mx.unsigned.test", wrongKey)
	z.dns.SetADFor("unsigned.test", false)
	z.dns.SetADFor("mx.unsigned.test", false)
	z.dns.SetADFor("_25._tcp.mx.unsigned.test", false)
	z.server("insecuremx.test", "mx.insecuremx.test", wrongKey)
	z.dns.SetADFor("insecuremx.test", false)
	// §2.2.2: the MX host's address records are insecure: no TLSA lookup.
	z.server("insecurea.test", "mx.insecurea.test", wrongKey)
	z.dns.SetADFor("mx.insecurea.test", false)

	rec := &TLSRecorder{}
	h := z.harness(rec, nil)
	ids := map[string]string{}
	for d := range z.srvs {
		ids[d] = h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@" + d}}, testMsg)
	}
	for _, id := range ids {
		h.attempted(id, 1)
	}
	delivered := func(d string, tls bool) {
		t.Helper()
		msgs := z.srvs[d].Messages()
		if len(msgs) != 1 || msgs[0].TLS != tls {
			t.Errorf("%s: %d messages (TLS %v), want 1 (TLS %v)", d, len(msgs), len(msgs) > 0 && msgs[0].TLS, tls)
		}
		if _, err := h.q.Get(ids[d]); err != ErrNotFound {
			t.Errorf("%s: still queued", d)
		}
	}
	deferred := func(d, reply string) {
		t.Helper()
		if n := len(z.srvs[d].Messages()); n != 0 {
			t.Errorf("%s: delivered %d messages", d, n)
		}
		mi, err := h.q.Get(ids[d])
		if err != nil || mi.Recipients[0].Status != StatusPending || !strings.Contains(mi.LastReply, reply) {
			t.Errorf("%s: not deferred with %q: %+v %v", d, reply, mi, err)
		}
	}
	delivered("ee.test", true)
	delivered("ta.test", true)
	delivered("tadomain.test", true)
	delivered("unusable.test", true)
	delivered("unsigned.test", true)
	delivered("insecuremx.test", true)
	delivered("insecurea.test", true)
	deferred("mismatch.test", "no TLSA record matches")
	deferred("taname.test", "not valid for mx.taname.test or taname.test")
	deferred("notls.test", "STARTTLS")
	deferred("servfail.test", "TLSA lookup")
	if n := len(h.srv("sender.test").Messages()); n != 0 {
		t.Errorf("%d DSNs for DANE deferrals", n)
	}

	// RFC 8460: the DANE sessions under policy type "tlsa".
	for d, want := range map[string]string{
		"ee.test":       "",
		"ta.test":       "",
		"mismatch.test": "certificate-not-trusted",
		"taname.test":   "certificate-host-mismatch",
		"notls.test":    "starttls-not-supported",
		"servfail.test": "dnssec-invalid",
	} {
		rep := rec.Report(d, h.clock.Now().Add(-24*60*60e9), h.clock.Now(), "posthorn", "tlsrpt@sender.test")
		if rep == nil || len(rep.Policies) != 1 || rep.Policies[0].Policy.Type != "tlsa" {
			t.Errorf("%s: report %+v", d, rep)
			continue
		}
		p := rep.Policies[0]
		if want == "" {
			if p.Summary.Successful != 1 || p.Summary.Failed != 0 || len(p.Policy.String) != 1 {
				t.Errorf("%s: %+v", d, p)
			}
			continue
		}
		if p.Summary.Failed != 1 || len(p.FailureDetails) != 1 || p.FailureDetails[0].ResultType != want {
			t.Errorf("%s: want %s, got %+v", d, want, p)
		}
	}
	if rep := rec.Report("unsigned.test", h.clock.Now().Add(-1), h.clock.Now(), "posthorn", "tlsrpt@sender.test"); rep == nil || rep.Policies[0].Policy.Type != "no-policy-found" {
		t.Errorf("unsigned zone reported as %+v", rep)
	}

}

// RFC 8461 §2: where DANE applies, an MTA-STS policy is not consulted;
// where it does not (an unsigned zone), the enforced policy still rules.
func TestDANEBeforeMTASTS(t *testing.T) {
	z := newDANEZone(t)
	z.server("both.test", "mx.both.test", ee)
	z.server("stsonly.test", "mx.stsonly.test", nil)
	z.dns.SetADFor("stsonly.test", false)
	txt := &stsTXT{txt: map[string]string{"_mta-sts.both.test": "v=STSv1; id=1", "_mta-sts.stsonly.test": "v=STSv1; id=1"}}
	ps := newPolicyServer(t)
	ps.set(200, "version: STSv1\nmode: enforce\nmx: *.other.test\nmax_age: 86400\n")
	h := z.harness(nil, func(mx *MX) { mx.STS = &MTASTS{Resolver: txt, HTTPClient: ps.client()} })
	both := h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@both.test"}}, testMsg)
	sts := h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@stsonly.test"}}, testMsg)
	h.attempted(both, 1)
	h.attempted(sts, 1)
	if n := len(z.srvs["both.test"].Messages()); n != 1 {
		t.Errorf("DANE and a mismatching MTA-STS policy: %d deliveries, want 1", n)
	}
	if mi, err := h.q.Get(sts); err != nil || !strings.Contains(mi.LastReply, "MTA-STS") {
		t.Errorf("MTA-STS without DANE not enforced: %+v %v", mi, err)
	}
}

// RFC 8689 §4.2.1: a DANE-authenticated session (secure MX, TLSA match)
// is verified TLS, so a REQUIRETLS message goes; the same message to an
// opportunistic-only domain does not (bounced 5.7.30).
func TestDANERequireTLS(t *testing.T) {
	z := newDANEZone(t)
	z.server("ee.test", "unrelated.example", ee)
	z.server("plain.test", "mx.plain.test", nil)
	h := z.harness(nil, nil)
	env := func(d string) *Envelope {
		return &Envelope{From: "alice@sender.test", To: []string{"bob@" + d}, MailOptions: smtp.MailOptions{RequireTLS: true}}
	}
	h.enqueue(env("ee.test"), testMsg)
	plain := h.enqueue(env("plain.test"), testMsg)
	h.attempted(plain, 1)
	got, err := z.srvs["ee.test"].WaitForMessages(waitCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if !got[0].MailOptions.RequireTLS || !got[0].TLS {
		t.Errorf("delivered without REQUIRETLS or TLS: %+v", got[0].MailOptions)
	}
	if n := len(z.srvs["plain.test"].Messages()); n != 0 {
		t.Errorf("REQUIRETLS message delivered over unverified TLS")
	}
}

// RFC 7672 §6: mandatory DANE defers what opportunistic DANE would send
// with pre-DANE TLS: an insecure MX RRset, an MX host without TLSA records.
func TestDANEMandatory(t *testing.T) {
	z := newDANEZone(t)
	z.server("ok.test", "mx.ok.test", ee)
	z.server("notlsa.test", "mx.notlsa.test", nil)
	z.server("unsigned.test", "mx.unsigned.test", nil)
	z.dns.SetADFor("unsigned.test", false)
	rec := &TLSRecorder{}
	h := z.harness(rec, func(mx *MX) { mx.DANE.Mandatory = func(string) bool { return true } })
	ids := map[string]string{}
	for d := range z.srvs {
		ids[d] = h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@" + d}}, testMsg)
	}
	for _, id := range ids {
		h.attempted(id, 1)
	}
	if n := len(z.srvs["ok.test"].Messages()); n != 1 {
		t.Errorf("ok.test: %d deliveries", n)
	}
	for _, d := range []string{"notlsa.test", "unsigned.test"} {
		mi, err := h.q.Get(ids[d])
		if n := len(z.srvs[d].Messages()); n != 0 || err != nil || mi.Recipients[0].Status != StatusPending || !strings.Contains(mi.LastReply, "DANE required") {
			t.Errorf("%s: %d deliveries, %+v %v", d, n, mi, err)
		}
		rep := rec.Report(d, h.clock.Now().Add(-1), h.clock.Now(), "posthorn", "tlsrpt@sender.test")
		if rep == nil || rep.Policies[0].Policy.Type != "tlsa" || len(rep.Policies[0].FailureDetails) != 1 || rep.Policies[0].FailureDetails[0].ResultType != "dane-required" {
			t.Errorf("%s: report %+v", d, rep)
		}
	}
}

// RFC 7672 §2.2.3: an MX host that is a secure alias has two candidate
// TLSA base domains, the expanded name first; DANE-TA then accepts a
// certificate for the expanded name (the base domain, §3.2.2). Behind an
// insecure final answer with a secure first CNAME only the original name
// is a candidate.
func TestDANEAliasedMXHost(t *testing.T) {
	z := newDANEZone(t)
	ta := func(tls.Certificate) []dns.TLSA { return []dns.TLSA{danetest.TA(z.ca.Cert)} }
	// alias.test: MX mx.alias.test → CNAME real.alias.test (secure),
	// TLSA only at the expanded name, certificate only for it.
	z.alias["alias.test"] = "real.alias.test"
	z.server("alias.test", "real.alias.test", nil)
	z.dns.Add("_25._tcp.real.alias.test", 300, &dnsmessage.UnknownResource{Type: dns.TypeTLSA, Data: danetest.RData(ta(tls.Certificate{})[0])})
	// insecure.test: the target's zone is unsigned, the CNAME signed: the
	// original name's TLSA (a mismatching key) applies, so it waits.
	z.alias["insecure.test"] = "host.unsigned.test"
	z.server("insecure.test", "mx.insecure.test", nil)
	z.dns.SetADFor("host.unsigned.test", false)
	other, _ := z.ca.Issue([]string{"x.test"}, z.ca.Cert.NotBefore, z.ca.Cert.NotAfter)
	// A wrong key at alias.test's unexpanded name: used only if the
	// expanded name were not tried first.
	z.dns.Add("_25._tcp.mx.alias.test", 300, &dnsmessage.UnknownResource{Type: dns.TypeTLSA, Data: danetest.RData(danetest.EE(other.Leaf))})
	z.dns.Add("_25._tcp.mx.insecure.test", 300, &dnsmessage.UnknownResource{Type: dns.TypeTLSA, Data: danetest.RData(danetest.EE(other.Leaf))})
	h := z.harness(nil, nil)
	a := h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@alias.test"}}, testMsg)
	b := h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@insecure.test"}}, testMsg)
	h.attempted(a, 1)
	h.attempted(b, 1)
	if n := len(z.srvs["alias.test"].Messages()); n != 1 {
		mi, _ := h.q.Get(a)
		t.Errorf("secure alias: %d deliveries (%s)", n, mi.LastReply)
	}
	if mi, err := h.q.Get(b); err != nil || len(z.srvs["insecure.test"].Messages()) != 0 || !strings.Contains(mi.LastReply, "no TLSA record matches") {
		t.Errorf("insecure alias target: %+v %v", mi, err)
	}
}
