package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/posthorn/posthorn/internal/dane"
	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/smtp/dkim"
	"github.com/posthorn/posthorn/smtp/dmarc"
	"github.com/posthorn/posthorn/smtp/spf"
)

// DefaultDNSBLs are the blocklists asked when -dnsbl is not given.
var DefaultDNSBLs = []string{"zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org"}

// DomainOptions select what "domain" does.
type DomainOptions struct {
	// DNS answers every query.
	DNS *dns.Client
	// Selectors are the DKIM selectors to look up.
	Selectors []string
	// IPs are extra sending addresses to look up on the blocklists.
	IPs []netip.Addr
	// DNSBLs are the blocklist zones; nil means DefaultDNSBLs, empty
	// (non-nil) none.
	DNSBLs []string
	// HTTPClient fetches the MTA-STS policy; nil means one that follows
	// no redirects (RFC 8461 §3.3) and trusts Env.RootCAs.
	HTTPClient *http.Client
	// MTASTSURLBase replaces "https://mta-sts.DOMAIN" (for tests).
	MTASTSURLBase string
	// DANEConnect connects to an MX host that has DNSSEC-validated TLSA
	// records and checks them against the certificate it presents after
	// STARTTLS, on MXPort (0 means 25).
	DANEConnect bool
	MXPort      int
}

// DomainResult is the -json detail of a domain check.
type DomainResult struct {
	MX      []string `json:"mx"`
	SPF     string   `json:"spf,omitempty"`
	DMARC   string   `json:"dmarc,omitempty"`
	MTASTS  string   `json:"mta_sts_policy,omitempty"`
	TLSRPT  string   `json:"tls_rpt,omitempty"`
	Senders []string `json:"sending_ips,omitempty"`
}

type domainCheck struct {
	ctx    context.Context
	env    *Env
	opts   DomainOptions
	r      *Report
	res    *DomainResult
	domain string
}

// CheckDomain checks the DNS side of a mail domain.
func CheckDomain(ctx context.Context, env *Env, domain string, opts DomainOptions) *Report {
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	d := &domainCheck{ctx: ctx, env: env, opts: opts, r: &Report{Command: "domain", Target: domain}, res: &DomainResult{}, domain: domain}
	d.r.Details = d.res
	mxHosts := d.checkMX()
	senders := d.checkSPF()
	d.checkDMARC()
	for _, sel := range opts.Selectors {
		d.checkDKIM(sel)
	}
	d.checkMTASTS(mxHosts)
	d.checkTLSRPT()
	d.checkDNSBL(append(senders, opts.IPs...))
	return d.r
}

func (d *domainCheck) qctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(d.ctx, d.env.timeout())
}

func (d *domainCheck) lookup(name string, typ dnsmessage.Type) (*dns.Response, error) {
	ctx, cancel := d.qctx()
	defer cancel()
	return d.opts.DNS.Lookup(ctx, name, typ)
}

// txt returns the TXT records at name that start with prefix (compared
// without case), "" prefix for all. A DNS failure becomes a finding.
func (d *domainCheck) txt(subj, name, prefix string) ([]string, bool) {
	ctx, cancel := d.qctx()
	defer cancel()
	recs, err := d.opts.DNS.LookupTXT(ctx, name)
	var de *net.DNSError
	if errors.As(err, &de) && de.IsNotFound {
		return nil, true
	}
	if err != nil {
		d.r.problem(Error, "dns-failure", subj, "Check that the domain's name servers answer (and, with DNSSEC, that its signatures are valid).",
			"DNS query for %s TXT failed: %v", name, err)
		return nil, false
	}
	var out []string
	for _, t := range recs {
		if len(t) >= len(prefix) && strings.EqualFold(t[:len(prefix)], prefix) {
			out = append(out, t)
		}
	}
	return out, true
}

func (d *domainCheck) addrs(host string) ([]netip.Addr, []string, error) {
	var out []netip.Addr
	var cnames []string
	for _, typ := range []dnsmessage.Type{dnsmessage.TypeA, dnsmessage.TypeAAAA} {
		resp, err := d.lookup(host, typ)
		if err != nil {
			return nil, nil, err
		}
		if len(resp.CNAMEs) > 0 {
			cnames = resp.CNAMEs
		}
		for _, rr := range resp.Records {
			switch b := rr.Body.(type) {
			case *dnsmessage.AResource:
				out = append(out, netip.AddrFrom4(b.A))
			case *dnsmessage.AAAAResource:
				out = append(out, netip.AddrFrom16(b.AAAA))
			}
		}
	}
	return out, cnames, nil
}

// checkMX: RFC 5321 §5.1, RFC 7505 (null MX), RFC 2181 §10.3 (no CNAME).
func (d *domainCheck) checkMX() []string {
	const subj = "MX"
	resp, err := d.lookup(d.domain, dnsmessage.TypeMX)
	if err != nil {
		d.r.problem(Error, "dns-failure", subj, "Check that the domain's name servers answer.", "MX query failed: %v", err)
		return nil
	}
	if resp.RCode == dnsmessage.RCodeNameError {
		d.r.problem(Error, "domain-nxdomain", subj, "Check the spelling, and that the domain is registered and delegated to working name servers.",
			"%s does not exist in the DNS", d.domain)
		return nil
	}
	type mx struct {
		pref uint16
		host string
	}
	var mxs []mx
	for _, rr := range resp.Records {
		if b, ok := rr.Body.(*dnsmessage.MXResource); ok {
			mxs = append(mxs, mx{b.Pref, strings.ToLower(b.MX.String())})
		}
	}
	if len(mxs) == 0 {
		d.r.problem(Warn, "no-mx", subj, "Publish an MX record naming your mail server (e.g. \""+d.domain+". MX 10 mail."+d.domain+".\"); without one, senders fall back to the domain's A record.",
			"no MX record")
		return nil
	}
	if len(mxs) == 1 && mxs[0].host == "." {
		d.r.info("null-mx", subj, "null MX (RFC 7505): the domain accepts no mail")
		return nil
	}
	var hosts []string
	for _, m := range mxs {
		host := strings.TrimSuffix(m.host, ".")
		d.res.MX = append(d.res.MX, fmt.Sprintf("%d %s", m.pref, host))
		if m.host == "." {
			d.r.problem(Error, "null-mx-mixed", subj, "Remove the null MX (\".\") or the other MX records: a null MX must be the only one (RFC 7505 §3).",
				"null MX published together with other MX records")
			continue
		}
		if _, err := netip.ParseAddr(host); err == nil {
			d.r.problem(Error, "mx-ip-literal", subj, "An MX must name a host: publish an A record for a name and point the MX at that name.",
				"MX %s is an IP address, not a host name", host)
			continue
		}
		hosts = append(hosts, host)
		d.checkMXHost(host)
	}
	return hosts
}

func (d *domainCheck) checkMXHost(host string) {
	subj := "MX " + host
	ips, cnames, err := d.addrs(host)
	if err != nil {
		d.r.problem(Error, "dns-failure", subj, "Check that the name servers of the MX host answer.", "address lookup failed: %v", err)
		return
	}
	if len(cnames) > 0 {
		d.r.problem(Warn, "mx-cname", subj, "Point the MX record at the canonical name "+strings.TrimSuffix(cnames[len(cnames)-1], ".")+" instead of an alias (RFC 2181 §10.3).",
			"MX target is an alias (CNAME to %s)", strings.TrimSuffix(cnames[len(cnames)-1], "."))
	}
	if len(ips) == 0 {
		d.r.problem(Error, "mx-unresolvable", subj, "Publish an A (and AAAA) record for "+host+", or fix the MX record.",
			"MX host has no address")
		return
	}
	for _, ip := range ips {
		d.checkPTR(subj, ip)
	}
	d.checkTLSA(host, ips[0])
}

// checkPTR: forward-confirmed reverse DNS, which many receivers require of
// a sending MTA.
func (d *domainCheck) checkPTR(subj string, ip netip.Addr) {
	ctx, cancel := d.qctx()
	names, err := d.opts.DNS.LookupAddr(ctx, ip.String())
	cancel()
	var de *net.DNSError
	if err != nil && !(errors.As(err, &de) && de.IsNotFound) {
		d.r.problem(Warn, "ptr-failure", subj, "Check that the reverse zone's name servers answer.", "PTR lookup of %s failed: %v", ip, err)
		return
	}
	if len(names) == 0 {
		d.r.problem(Warn, "no-ptr", subj, "Ask the owner of "+ip.String()+" (your hosting provider) to set its reverse DNS (PTR) to the MX host name.",
			"%s has no PTR record", ip)
		return
	}
	for _, n := range names {
		ctx, cancel := d.qctx()
		fwd, _ := d.opts.DNS.LookupNetIP(ctx, "ip", n)
		cancel()
		for _, a := range fwd {
			if a == ip {
				d.r.ok("fcrdns", subj, "%s ↔ %s (forward-confirmed reverse DNS)", ip, strings.TrimSuffix(n, "."))
				return
			}
		}
	}
	d.r.problem(Warn, "fcrdns-mismatch", subj, "Make the PTR name of "+ip.String()+" resolve back to "+ip.String()+" (set the PTR to a name with that A/AAAA record).",
		"%s has PTR %s, which does not resolve back to it", ip, strings.TrimSuffix(names[0], "."))
}

// checkTLSA: DANE for SMTP (RFC 7672): TLSA records count only with DNSSEC.
func (d *domainCheck) checkTLSA(host string, ip netip.Addr) {
	ctx, cancel := d.qctx()
	recs, authentic, err := d.opts.DNS.LookupTLSA(ctx, "_25._tcp."+host)
	cancel()
	var de *net.DNSError
	if err != nil && !(errors.As(err, &de) && de.IsNotFound) {
		d.r.problem(Warn, "tlsa-failure", "DANE "+host, "Check the DNS of the MX host (a TLSA query must not fail).", "TLSA lookup failed: %v", err)
		return
	}
	if len(recs) == 0 {
		return
	}
	if !authentic {
		d.r.problem(Warn, "tlsa-insecure", "DANE "+host, "Sign the zone with DNSSEC (and use a validating resolver to check): TLSA records without it are ignored (RFC 7672 §2.2).",
			"%d TLSA record(s) but the answer is not DNSSEC-validated", len(recs))
		return
	}
	for _, t := range recs {
		if t.Usage != 2 && t.Usage != 3 {
			d.r.problem(Warn, "tlsa-usage", "DANE "+host, "Use TLSA usage 3 (DANE-EE) or 2 (DANE-TA) for SMTP (RFC 7672 §3.1.3).",
				"TLSA usage %d is not used for SMTP", t.Usage)
		}
	}
	d.r.ok("tlsa", "DANE "+host, "%d TLSA record(s), DNSSEC-validated", len(recs))
	if d.opts.DANEConnect {
		d.matchTLSA(host, ip, recs)
	}
}

// matchTLSA connects to the MX and checks that one TLSA record matches the
// certificate chain it presents (RFC 7672 §3.1 and §3.2, RFC 6698 §2.1).
func (d *domainCheck) matchTLSA(host string, ip netip.Addr, recs []dns.TLSA) {
	subj := "DANE " + host
	port := d.opts.MXPort
	if port == 0 {
		port = 25
	}
	svc := Service{Name: "smtp", Proto: "smtp", Port: port}
	var chain []*x509.Certificate
	_, err := session(d.ctx, d.env, host, net.JoinHostPort(ip.String(), strconv.Itoa(port)), svc, nil, func(p *prober) error {
		if p.tlsState == nil {
			return errNoStartTLS
		}
		chain = p.tlsState.PeerCertificates
		return nil
	})
	if err != nil {
		kind, _ := failureKind(err)
		d.r.problem(Warn, "dane-unchecked", subj, "Check from a network where port 25 is open, or look at the MX's STARTTLS (\"mailcheck server\").",
			"could not fetch the certificate from %s port %d (%s): %v", ip, port, kind, err)
		return
	}
	// The check a DANE sender makes (internal/dane): DANE-EE the server's
	// certificate, DANE-TA the chain and the names (the MX host, then the
	// domain, RFC 7672 §3.2.2).
	err = dane.Verify(recs, chain, []string{host, d.domain}, time.Now())
	if err == nil {
		d.r.ok("dane-match", subj, "a TLSA record authenticates the certificate the MX presents")
		return
	}
	d.r.problem(Error, "dane-mismatch", subj, "Publish TLSA records for the certificate (or key) the MX serves now, before changing it next time (RFC 7672 §4): DANE senders will not deliver.",
		"the TLSA records do not authenticate the certificate the MX presents: %v", err)
}

// checkSPF lints the SPF record (RFC 7208) and returns its ip4/ip6 hosts.
func (d *domainCheck) checkSPF() []netip.Addr {
	const subj = "SPF"
	recs, ok := d.txt(subj, d.domain, "v=spf1")
	if !ok {
		return nil
	}
	recs = spfOnly(recs)
	switch len(recs) {
	case 0:
		d.r.problem(Warn, "no-spf", subj, "Publish a TXT record like \"v=spf1 mx -all\" listing the hosts that send your mail.",
			"no SPF record")
		return nil
	case 1:
	default:
		d.r.problem(Error, "spf-multiple", subj, "Merge the SPF records into one: with several, every check fails with permerror (RFC 7208 §4.5).",
			"%d SPF records", len(recs))
		return nil
	}
	d.res.SPF = recs[0]
	rec, err := spf.ParseRecord(recs[0])
	if err != nil {
		d.r.problem(Error, "spf-syntax", subj, "Correct the record's syntax (RFC 7208 §12); receivers treat it as permerror.", "%v", err)
		return nil
	}
	w := &spfWalk{d: d, seen: map[string]bool{d.domain: true}}
	w.walk(rec, d.domain, 0)
	if w.lookups > spf.DefaultMaxLookups {
		d.r.problem(Error, "spf-too-many-lookups", subj, "Reduce include/a/mx/ptr/exists/redirect terms to at most 10 (flatten includes into ip4/ip6) (RFC 7208 §4.6.4).",
			"%d DNS-querying terms: receivers stop at 10 with permerror", w.lookups)
	}
	final := ""
	for _, dir := range rec.Directives {
		switch {
		case dir.Mechanism == spf.MechAll:
			final = string(dir.Qualifier)
			if dir.Qualifier == spf.QualPass {
				d.r.problem(Error, "spf-pass-all", subj, "Replace \"+all\" with \"-all\" (or \"~all\"): \"+all\" lets anyone send as "+d.domain+".",
					"\"+all\" authorizes every host on the Internet")
			}
		case dir.Mechanism == spf.MechPTR:
			d.r.problem(Warn, "spf-ptr", subj, "Replace \"ptr\" with ip4/ip6 or a terms: it is slow, unreliable and RFC 7208 §5.5 says not to use it.", "uses the ptr mechanism")
		case dir.Mechanism == spf.MechIP4 && dir.Net.Bits() < 8, dir.Mechanism == spf.MechIP6 && dir.Net.Bits() < 16:
			d.r.problem(Error, "spf-wide-net", subj, "List only your own sending networks.", "%s authorizes a huge part of the Internet", dir)
		}
	}
	if final == "" && rec.Redirect == "" {
		d.r.problem(Warn, "spf-no-all", subj, "End the record with \"-all\" or \"~all\", so other senders are not neutral.", "no \"all\" at the end: everyone else gets neutral")
	} else if final == string(spf.QualNeutral) {
		d.r.problem(Warn, "spf-neutral-all", subj, "End the record with \"-all\" or \"~all\" instead of \"?all\".", "\"?all\" gives no protection")
	}
	if !d.hasSubject(subj) {
		d.r.ok("spf", subj, "%s (%d DNS lookups)", recs[0], w.lookups)
	}
	d.res.Senders = nil
	for _, ip := range w.ips {
		d.res.Senders = append(d.res.Senders, ip.String())
	}
	return w.ips
}

func (d *domainCheck) hasSubject(subj string) bool {
	for _, f := range d.r.Problems() {
		if f.Subject == subj {
			return true
		}
	}
	return false
}

// spfOnly keeps records that are "v=spf1" exactly or followed by a space
// (RFC 7208 §4.5: "v=spf10" is not one).
func spfOnly(recs []string) []string {
	var out []string
	for _, r := range recs {
		if len(r) == 6 || r[6] == ' ' {
			out = append(out, r)
		}
	}
	return out
}

type spfWalk struct {
	d       *domainCheck
	seen    map[string]bool
	lookups int
	ips     []netip.Addr
}

// walk counts the DNS-querying terms through includes and redirects and
// reports includes that fail, as a receiver evaluating the record would
// meet them (bounded: 20 records, depth 10).
func (w *spfWalk) walk(rec *spf.Record, domain string, depth int) {
	for _, dir := range rec.Directives {
		switch dir.Mechanism {
		case spf.MechInclude:
			w.lookups++
			w.follow("include:"+dir.Domain, dir.Domain, depth)
		case spf.MechA, spf.MechMX, spf.MechPTR, spf.MechExists:
			w.lookups++
		case spf.MechIP4, spf.MechIP6:
			if depth == 0 && len(w.ips) < 64 {
				w.ips = append(w.ips, dir.Net.Addr())
			}
		}
	}
	if rec.Redirect != "" {
		w.lookups++
		w.follow("redirect="+rec.Redirect, rec.Redirect, depth)
	}
}

func (w *spfWalk) follow(term, target string, depth int) {
	const subj = "SPF"
	if strings.Contains(target, "%") || depth >= 10 || len(w.seen) >= 20 {
		return
	}
	target = strings.TrimSuffix(strings.ToLower(target), ".")
	if w.seen[target] {
		w.d.r.problem(Error, "spf-loop", subj, "Remove the include or redirect that leads back to an earlier record.", "%s forms a loop", term)
		return
	}
	w.seen[target] = true
	recs, ok := w.d.txt(subj, target, "v=spf1")
	if !ok {
		return
	}
	recs = spfOnly(recs)
	if len(recs) != 1 {
		what := "no SPF record"
		if len(recs) > 1 {
			what = fmt.Sprintf("%d SPF records", len(recs))
		}
		w.d.r.problem(Error, "spf-include-broken", subj, "Remove "+term+" or correct the name: a receiver's check ends in permerror there (RFC 7208 §5.2).",
			"%s has %s", term, what)
		return
	}
	rec, err := spf.ParseRecord(recs[0])
	if err != nil {
		w.d.r.problem(Error, "spf-include-broken", subj, "Remove "+term+" or ask its owner to fix it: a receiver's check ends in permerror there.",
			"%s: %v", term, err)
		return
	}
	w.walk(rec, target, depth+1)
}

// checkDMARC: RFC 9989 (DMARCbis) §4.7, reporting authorization RFC 9990 §4.
func (d *domainCheck) checkDMARC() {
	const subj = "DMARC"
	recs, ok := d.txt(subj, "_dmarc."+d.domain, "v=DMARC1")
	if !ok {
		return
	}
	if len(recs) == 0 {
		d.r.problem(Warn, "no-dmarc", subj, "Publish a TXT record at _dmarc."+d.domain+" such as \"v=DMARC1; p=none; rua=mailto:dmarc@"+d.domain+"\", then tighten p= once reports look right.",
			"no DMARC record")
		return
	}
	if len(recs) > 1 {
		d.r.problem(Error, "dmarc-multiple", subj, "Keep exactly one DMARC record: with several, receivers ignore them all.", "%d DMARC records", len(recs))
		return
	}
	d.res.DMARC = recs[0]
	rec, err := dmarc.ParseRecord(recs[0])
	if err != nil {
		d.r.problem(Error, "dmarc-syntax", subj, "Correct the record's syntax (\"v=DMARC1; p=none; ...\").", "%v", err)
		return
	}
	n := len(d.r.Problems())
	if !rec.PolicyValid {
		d.r.problem(Error, "dmarc-policy-invalid", subj, "Set p= to none, quarantine or reject (and sp=/np= likewise, if present).",
			"p=, sp= or np= is missing or invalid")
	} else if rec.Policy == dmarc.PolicyNone {
		d.r.problem(Warn, "dmarc-p-none", subj, "Once the aggregate reports show your own mail passing, move to p=quarantine and then p=reject.",
			"p=none: mail failing DMARC is still delivered")
	}
	if rec.Testing {
		d.r.problem(Warn, "dmarc-testing", subj, "Remove t=y (or pct=0) when testing is over, so the policy applies.", "t=y: the policy is in test mode")
	}
	if len(rec.RUA) == 0 {
		d.r.problem(Warn, "dmarc-no-rua", subj, "Add rua=mailto:ADDRESS to receive aggregate reports, the only way to see who sends as "+d.domain+".",
			"no aggregate report address (rua=)")
	}
	for _, u := range append(append([]string(nil), rec.RUA...), rec.RUF...) {
		d.checkReportAuth(u)
	}
	if len(d.r.Problems()) == n {
		d.r.ok("dmarc", subj, "%s", recs[0])
	}
}

// checkReportAuth: a report address in another domain must agree to receive
// reports with a record at DOMAIN._report._dmarc.OTHER (RFC 9990 §4).
func (d *domainCheck) checkReportAuth(uri string) {
	const subj = "DMARC"
	u, err := url.Parse(uri)
	if err != nil || !strings.EqualFold(u.Scheme, "mailto") {
		return
	}
	at := strings.LastIndexByte(u.Opaque, '@')
	if at < 0 {
		d.r.problem(Error, "dmarc-bad-uri", subj, "Write reporting addresses as mailto:name@domain.", "bad reporting URI %s", uri)
		return
	}
	other := strings.TrimSuffix(strings.ToLower(u.Opaque[at+1:]), ".")
	if other == d.domain || strings.HasSuffix(other, "."+d.domain) || strings.HasSuffix(d.domain, "."+other) {
		return
	}
	name := d.domain + "._report._dmarc." + other
	recs, ok := d.txt(subj, name, "v=DMARC1")
	if ok && len(recs) == 0 {
		d.r.problem(Error, "dmarc-report-unauthorized", subj, "Ask "+other+" to publish \"v=DMARC1\" at "+name+", or use a report address in your own domain.",
			"%s is in another domain that has not agreed to receive reports for %s", uri, d.domain)
	}
}

// checkDKIM: RFC 6376 §3.6.1 key records, RFC 8301 key sizes.
func (d *domainCheck) checkDKIM(sel string) {
	subj := "DKIM " + sel
	name := sel + "._domainkey." + d.domain
	recs, ok := d.txt(subj, name, "")
	if !ok {
		return
	}
	if len(recs) == 0 {
		d.r.problem(Error, "dkim-missing", subj, "Publish the selector's public key at "+name+" (your mail software or provider shows the record).",
			"no key record at %s", name)
		return
	}
	key, err := dkim.ParseKeyRecord(recs[0])
	switch {
	case errors.Is(err, dkim.ErrKeyTooSmall):
		d.r.problem(Error, "dkim-weak-key", subj, "Generate a 2048-bit RSA key (or Ed25519 alongside it) and publish it: verifiers reject keys under 1024 bits (RFC 8301 §3.2).", "%v", err)
		return
	case err != nil:
		d.r.problem(Error, "dkim-syntax", subj, "Republish the key record exactly as your DKIM signer prints it.", "%v", err)
		return
	}
	if key.Revoked() {
		d.r.problem(Warn, "dkim-revoked", subj, "Sign with a selector whose key is published, or remove this selector from the signer (p= is empty: the key is revoked).", "key is revoked")
		return
	}
	n := len(d.r.Problems())
	if key.Testing {
		d.r.problem(Warn, "dkim-testing", subj, "Remove t=y from the key record once signing works.", "t=y: the domain is testing DKIM")
	}
	desc := key.KeyType
	switch k := key.PublicKey.(type) {
	case *rsa.PublicKey:
		desc = fmt.Sprintf("RSA %d bits", k.N.BitLen())
		if k.N.BitLen() < 2048 {
			d.r.problem(Warn, "dkim-short-key", subj, "Move to a 2048-bit RSA key (RFC 8301 §3.2 asks signers for at least 2048).", "RSA key of %d bits", k.N.BitLen())
		}
	case ed25519.PublicKey:
		desc = "Ed25519"
	}
	if len(d.r.Problems()) == n {
		d.r.ok("dkim", subj, "%s key published", desc)
	}
}

// checkMTASTS: RFC 8461 §3.1 (TXT), §3.2 (policy), §3.3 (HTTPS fetch),
// §4.1 (MX matching).
func (d *domainCheck) checkMTASTS(mxHosts []string) {
	const subj = "MTA-STS"
	recs, ok := d.txt(subj, "_mta-sts."+d.domain, "v=STSv1")
	if !ok {
		return
	}
	if len(recs) == 0 {
		d.r.info("no-mta-sts", subj, "no MTA-STS record (optional: it makes senders require TLS to your MX)")
		return
	}
	if len(recs) > 1 {
		d.r.problem(Error, "mta-sts-multiple", subj, "Keep one TXT record at _mta-sts."+d.domain+": with several, senders ignore MTA-STS (RFC 8461 §3.1).", "%d records", len(recs))
		return
	}
	if !strings.Contains(recs[0], "id=") {
		d.r.problem(Error, "mta-sts-no-id", subj, "Add an id= to the record (e.g. id=20240101T000000).", "record has no id=")
	}
	base := d.opts.MTASTSURLBase
	if base == "" {
		base = "https://mta-sts." + d.domain
	}
	policyURL := base + "/.well-known/mta-sts.txt"
	pol, err := d.fetchPolicy(policyURL)
	if err != nil {
		d.r.problem(Error, "mta-sts-fetch", subj, "Serve the policy at "+policyURL+" over HTTPS with a valid certificate for mta-sts."+d.domain+", status 200, Content-Type text/plain.",
			"policy fetch failed: %v", err)
		return
	}
	n := len(d.r.Problems())
	fields, patterns := parseSTSPolicy(pol)
	d.res.MTASTS = pol
	if fields["version"] != "STSv1" {
		d.r.problem(Error, "mta-sts-policy-syntax", subj, "Start the policy with \"version: STSv1\".", "policy has no \"version: STSv1\"")
	}
	switch fields["mode"] {
	case "enforce", "none":
	case "testing":
		d.r.info("mta-sts-testing", subj, "mode: testing (failures are reported, not enforced)")
	default:
		d.r.problem(Error, "mta-sts-policy-syntax", subj, "Set \"mode:\" to enforce, testing or none.", "bad mode %q", fields["mode"])
	}
	if fields["max_age"] == "" {
		d.r.problem(Error, "mta-sts-policy-syntax", subj, "Add \"max_age: 604800\" (one week) or longer.", "policy has no max_age")
	}
	if fields["mode"] != "none" {
		for _, h := range mxHosts {
			if !stsMatch(patterns, h) {
				d.r.problem(Error, "mta-sts-mx-mismatch", subj, "Add \"mx: "+h+"\" to the policy (and change its id in the TXT record): senders enforcing it will not deliver to this MX.",
					"MX %s is not in the policy's mx: list (%s)", h, strings.Join(patterns, ", "))
			}
		}
	}
	if len(d.r.Problems()) == n {
		d.r.ok("mta-sts", subj, "mode %s, mx %s", fields["mode"], strings.Join(patterns, ", "))
	}
}

// parseSTSPolicy reads the key: value lines of a policy (RFC 8461 §3.2):
// the first value of each key, and every mx pattern (at most 100).
func parseSTSPolicy(pol string) (map[string]string, []string) {
	fields := map[string]string{}
	var patterns []string
	sc := bufio.NewScanner(strings.NewReader(pol))
	sc.Buffer(make([]byte, 0, 1024), 64<<10)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "mx" {
			if len(patterns) < 100 {
				patterns = append(patterns, strings.ToLower(v))
			}
		} else if _, dup := fields[k]; !dup && len(fields) < 100 {
			fields[k] = v
		}
	}
	return fields, patterns
}

// stsMatch: a pattern "*.example.org" matches exactly one label in front
// (RFC 8461 §4.1).
func stsMatch(patterns []string, host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, p := range patterns {
		p = strings.TrimSuffix(p, ".")
		if p == host {
			return true
		}
		if rest, ok := strings.CutPrefix(p, "*."); ok {
			if i := strings.IndexByte(host, '.'); i > 0 && host[i+1:] == rest {
				return true
			}
		}
	}
	return false
}

func (d *domainCheck) fetchPolicy(u string) (string, error) {
	cl := d.opts.HTTPClient
	if cl == nil {
		cl = &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfigRoots(d.env)}}
	}
	c := *cl
	c.CheckRedirect = func(*http.Request, []*http.Request) error {
		return errors.New("redirects are not allowed (RFC 8461 §3.3)")
	}
	ctx, cancel := d.qctx()
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP status %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "text/plain") {
		return "", fmt.Errorf("Content-Type %q, want text/plain", ct)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return string(b), err
}

// checkTLSRPT: RFC 8460 §3.
func (d *domainCheck) checkTLSRPT() {
	const subj = "TLS-RPT"
	recs, ok := d.txt(subj, "_smtp._tls."+d.domain, "v=TLSRPTv1")
	if !ok {
		return
	}
	switch {
	case len(recs) == 0:
		d.r.info("no-tls-rpt", subj, "no TLS-RPT record (optional: senders would report TLS failures to you)")
	case len(recs) > 1:
		d.r.problem(Error, "tls-rpt-multiple", subj, "Keep one TLS-RPT record.", "%d records", len(recs))
	case !strings.Contains(recs[0], "rua="):
		d.r.problem(Error, "tls-rpt-no-rua", subj, "Add rua=mailto:ADDRESS (or https:) to the record.", "record has no rua=")
	default:
		d.res.TLSRPT = recs[0]
		d.r.ok("tls-rpt", subj, "%s", recs[0])
	}
}

// checkDNSBL asks each list about each address (RFC 5782 §2). Answers in
// 127.255.255.0/24 are Spamhaus's "query refused" codes (e.g. from a public
// resolver), not listings.
func (d *domainCheck) checkDNSBL(ips []netip.Addr) {
	lists := d.opts.DNSBLs
	if lists == nil {
		lists = DefaultDNSBLs
	}
	seen := map[netip.Addr]bool{}
	for _, ip := range ips {
		ip = ip.Unmap()
		if seen[ip] || !ip.IsGlobalUnicast() && !ip.IsLoopback() || len(seen) >= 32 {
			continue
		}
		seen[ip] = true
		rev := strings.TrimSuffix(strings.TrimSuffix(dns.ReverseName(ip), "in-addr.arpa."), "ip6.arpa.")
		for _, list := range lists {
			subj := "DNSBL " + ip.String()
			name := rev + strings.TrimSuffix(list, ".") + "."
			resp, err := d.lookup(name, dnsmessage.TypeA)
			if err != nil {
				d.r.info("dnsbl-failure", subj, "%s did not answer: %v", list, err)
				continue
			}
			var codes []string
			refused, listed := false, false
			for _, rr := range resp.Records {
				if a, ok := rr.Body.(*dnsmessage.AResource); ok {
					addr := netip.AddrFrom4(a.A)
					codes = append(codes, addr.String())
					if a.A[0] == 127 && a.A[1] == 255 && a.A[2] == 255 {
						refused = true
					} else if a.A[0] == 127 {
						listed = true
					}
				}
			}
			switch {
			case listed:
				why := ""
				if txt, ok := d.txt(subj, name, ""); ok && len(txt) > 0 {
					why = ": " + txt[0]
				}
				d.r.problem(Error, "dnsbl-listed", subj, "Find and stop the cause (an infected machine, an open relay, a compromised account), then request delisting from "+list+".",
					"listed on %s (%s)%s", list, strings.Join(codes, ", "), why)
			case refused:
				d.r.info("dnsbl-refused", subj, "%s refused the query (%s): ask through your own resolver, not a public one; this is not a listing", list, strings.Join(codes, ", "))
			case len(codes) > 0:
				d.r.info("dnsbl-odd", subj, "%s answered %s, which is not a listing code", list, strings.Join(codes, ", "))
			default:
				d.r.ok("dnsbl-clean", subj, "not listed on %s", list)
			}
		}
	}
}

func runDomain(ctx context.Context, fs *flag.FlagSet, c *common, args []string) (*Report, error) {
	var selectors, ips, lists listFlag
	fs.Var(&selectors, "selector", "DKIM selector to check; repeatable")
	fs.Var(&ips, "ip", "sending address to look up on the blocklists (besides SPF's ip4/ip6); repeatable")
	fs.Var(&lists, "dnsbl", "blocklist zone to ask (default "+strings.Join(DefaultDNSBLs, ", ")+"; \"none\" for none); repeatable")
	daneConnect := fs.Bool("dane-connect", true, "connect to port 25 of MX hosts with TLSA records to check them against the certificate")
	stsBase := fs.String("mtasts-url-base", "", "fetch the MTA-STS policy from this base URL instead of https://mta-sts.DOMAIN")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() != 1 {
		return nil, errors.New("usage: mailcheck domain [flags] example.org")
	}
	env, err := c.env()
	if err != nil {
		return nil, err
	}
	cl, err := newDNSClient(c)
	if err != nil {
		return nil, err
	}
	opts := DomainOptions{DNS: cl, Selectors: selectors, MTASTSURLBase: *stsBase, DANEConnect: *daneConnect}
	for _, s := range ips {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("-ip %s: %v", s, err)
		}
		opts.IPs = append(opts.IPs, ip)
	}
	if len(lists) > 0 {
		opts.DNSBLs = []string{}
		for _, l := range lists {
			if l != "none" {
				opts.DNSBLs = append(opts.DNSBLs, l)
			}
		}
	}
	return CheckDomain(ctx, env, fs.Arg(0), opts), nil
}
