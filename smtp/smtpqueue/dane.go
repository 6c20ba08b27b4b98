package smtpqueue

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/posthorn/posthorn/internal/dane"
	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/smtp/smtpclient"
)

// DANE applies DANE for SMTP (RFC 7672) to direct delivery: set it as
// MX.DANE. It needs a DNSSEC-validating resolver: the records count only
// when the resolver's AD bit says they were validated, and that bit is
// believed only from a resolver on a loopback address or one named in
// Resolvers (§2.1.3).
//
// For a domain whose MX RRset is secure (§2.2.1), each MX host's address
// records are looked up first and, when they are secure too, its TLSA
// records at _25._tcp.<host> (at the CNAME-expanded name first when the
// host is an alias, §2.2.3). A host with a secure TLSA RRset gets mail only
// over STARTTLS with a certificate the records authenticate: DANE-EE(3)
// matches the server's certificate whatever its names and dates, DANE-TA(2)
// a trust anchor in the chain, with the certificate valid for the MX host
// or the recipient domain (§3.2). When every record is unusable (the PKIX
// usages, unknown parameters) TLS is still required, unauthenticated. A
// host whose TLSA lookup fails is not used (§2.1.2), and a host that fails
// authentication is skipped for the next one; when none is left the
// recipients are deferred, never bounced and never sent in clear. Hosts
// without secure TLSA records, and domains with an insecure MX RRset, get
// the usual opportunistic TLS.
//
// Where DANE applies (some MX host has a secure TLSA RRset) MTA-STS is not
// consulted (RFC 8461 §2). MX.TLSRPT records each DANE session under the
// policy type "tlsa" (RFC 8460 §4.4).
type DANE struct {
	// Resolvers are the validating resolvers to ask, trusted with the AD
	// bit whatever their address: name only resolvers reached over a
	// secure path. Empty means those of /etc/resolv.conf, whose AD bit is
	// believed only from a loopback address (a local validating resolver
	// such as Unbound).
	Resolvers []netip.AddrPort
	// Mandatory, when set, names the recipient domains (A-labels,
	// lower-case) that get mail only over DANE-authenticated TLS
	// (RFC 7672 §6): an insecure MX RRset, or an MX host without secure
	// TLSA records, defers the mail instead of falling back to
	// opportunistic TLS; TLS-RPT counts it as dane-required.
	Mandatory func(domain string) bool

	once   sync.Once
	client *dns.Client
}

func (d *DANE) dns() *dns.Client {
	d.once.Do(func() {
		d.client = &dns.Client{Servers: d.Resolvers, TrustAD: len(d.Resolvers) > 0}
	})
	return d.client
}

// danePlan is what DANE found for one destination domain.
type danePlan struct {
	domain string
	hosts  []daneHost // in MX order, when the MX RRset is secure
	active bool       // some host has a secure TLSA RRset
}

// daneHost is one MX host of a secure MX RRset.
type daneHost struct {
	name  string
	tlsa  []dns.TLSA // the secure TLSA RRset; nil when DANE does not apply
	base  string     // the TLSA base domain
	refs  []string   // reference identifiers for DANE-TA (§3.2.2)
	err   error      // a failed lookup: the host must not be used (§2.1.2)
	lines []string   // tlsa as presentation lines, for TLS-RPT
}

// daneError is a DANE failure. It is temporary: the recipients wait for
// the DNS or the server to be fixed (RFC 7672 §2.1.2, §3.2).
type daneError struct {
	msg string
	err error
}

func (e *daneError) Error() string { return e.msg }
func (e *daneError) Unwrap() error { return e.err }

// daneLookupError is a failed DNS lookup during TLSA discovery; TLS-RPT
// counts it as dnssec-invalid (RFC 8460 §4.3.2.1).
type daneLookupError struct{ daneError }

// daneRequiredError is mandatory DANE without the records it needs;
// TLS-RPT counts it as dane-required (RFC 8460 §4.3.2.1).
type daneRequiredError struct{ daneError }

// plan looks up the MX RRset of domain and, when it is secure, the TLSA
// records of its hosts. An error means the destination must wait.
func (d *DANE) plan(ctx context.Context, domain, port string, maxHosts int) (*danePlan, error) {
	c := d.dns()
	p := &danePlan{domain: domain}
	resp, err := c.Lookup(ctx, domain, dnsmessage.TypeMX)
	if err != nil {
		// RFC 7672 §2.1.2: a failed MX lookup delays delivery.
		return nil, &daneLookupError{daneError{"DANE: MX lookup for " + domain + " failed: " + err.Error(), err}}
	}
	var mxs []*net.MX
	for _, r := range resp.Records {
		if m, ok := r.Body.(*dnsmessage.MXResource); ok {
			mxs = append(mxs, &net.MX{Host: m.MX.String(), Pref: m.Pref})
		}
	}
	mandatory := d.Mandatory != nil && d.Mandatory(domain)
	nextHop := []string{domain}
	if n := len(resp.CNAMEs); n > 0 {
		nextHop = append(nextHop, strings.TrimSuffix(resp.CNAMEs[n-1], "."))
	}
	var hosts []string
	switch {
	case resp.RCode == dnsmessage.RCodeNameError:
		return p, nil // the domain does not exist: the usual path says so
	case len(mxs) == 0:
		// No MX: the domain is its own server (§2.2.2), DANE by the
		// security of its address records.
		hosts = []string{domain}
	case !resp.Authentic && mandatory:
		// §2.2.1: with mandatory DANE, an insecure MX RRset delays.
		return nil, &daneRequiredError{daneError{msg: "DANE required for " + domain + " but its MX RRset is not DNSSEC-signed"}}
	case !resp.Authentic:
		// §2.2.1: an insecure MX RRset leaves pre-DANE opportunistic TLS.
		return p, nil
	case len(mxs) == 1 && (mxs[0].Host == "." || mxs[0].Host == ""):
		return p, nil // null MX (RFC 7505): the usual path bounces
	default:
		hosts = sortMX(mxs)
	}
	if maxHosts > 0 && len(hosts) > maxHosts {
		hosts = hosts[:maxHosts]
	}
	for _, h := range hosts {
		dh := daneHost{name: h}
		dh.tlsa, dh.base, dh.err = d.hostTLSA(ctx, h, port)
		if mandatory && dh.tlsa == nil && dh.err == nil {
			dh.err = &daneRequiredError{daneError{msg: "DANE required for " + domain + " but " + h + " has no DNSSEC-validated TLSA records"}}
		}
		if dh.tlsa != nil {
			p.active = true
			// §3.2.2: the TLSA base domain first, then the next-hop domain
			// and its CNAME expansion.
			dh.refs = append([]string{dh.base}, nextHop...)
			for _, r := range dh.tlsa {
				dh.lines = append(dh.lines, fmt.Sprintf("%d %d %d %x", r.Usage, r.Selector, r.MatchingType, r.Data))
			}
		}
		if dh.err != nil {
			p.active = true // a host DANE may protect must not be used in clear
		}
		p.hosts = append(p.hosts, dh)
	}
	return p, nil
}

// hostTLSA finds the secure TLSA RRset of an MX host (RFC 7672 §2.2.2,
// §2.2.3): nil records when DANE does not apply to it, an error when a
// lookup failed.
func (d *DANE) hostTLSA(ctx context.Context, host, port string) ([]dns.TLSA, string, error) {
	c := d.dns()
	fail := func(what string, err error) ([]dns.TLSA, string, error) {
		return nil, "", &daneLookupError{daneError{"DANE: " + what + " lookup for " + host + " failed: " + err.Error(), err}}
	}
	// §2.2.2: the address records first; their security decides whether
	// TLSA records are looked for at all.
	addr, err := c.Lookup(ctx, host, dnsmessage.TypeA)
	if err != nil {
		return fail("address", err)
	}
	if addr.NotFound() {
		if addr, err = c.Lookup(ctx, host, dnsmessage.TypeAAAA); err != nil {
			return fail("address", err)
		}
		if addr.NotFound() {
			return nil, "", nil // unreachable: the dial says so
		}
	}
	var bases []string
	switch {
	case addr.Authentic && len(addr.CNAMEs) > 0:
		// A secure alias: the expanded name, then the name itself.
		bases = []string{strings.TrimSuffix(addr.CNAMEs[len(addr.CNAMEs)-1], "."), host}
	case addr.Authentic:
		bases = []string{host}
	case len(addr.CNAMEs) > 0:
		// Insecure at the end: DANE still applies when the first CNAME
		// is secure (§2.2.2, "Insecure CNAME"); asking for the CNAME
		// alone tells (§2.1.3).
		cn, err := c.Lookup(ctx, host, dnsmessage.TypeCNAME)
		if err != nil {
			return fail("CNAME", err)
		}
		if !cn.Authentic {
			return nil, "", nil
		}
		bases = []string{host}
	default:
		return nil, "", nil
	}
	for _, base := range bases {
		recs, authentic, err := c.LookupTLSA(ctx, "_"+port+"._tcp."+base)
		var de *net.DNSError
		if err != nil && !(errors.As(err, &de) && de.IsNotFound && !de.IsTemporary) {
			// §2.1.2: a host whose TLSA lookup fails is unreachable.
			return fail("TLSA", err)
		}
		if err == nil && authentic && len(recs) > 0 {
			return recs, base, nil
		}
	}
	return nil, "", nil
}

// dialDANE connects to an MX host with a secure TLSA RRset: STARTTLS is
// required and the certificate must be authenticated by the records (or
// merely encrypted when none is usable, RFC 7672 §2.2).
func dialDANE(ctx context.Context, addr string, o *smtpclient.Options, h *daneHost) (*smtpclient.Client, error) {
	c, err := smtpclient.Dial(ctx, addr, o)
	if err != nil {
		return nil, err
	}
	var cfg *tls.Config
	if o.TLSConfig != nil {
		cfg = o.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{}
	}
	// §8.1: the TLSA base domain as SNI. Verification is DANE's, not
	// WebPKI's.
	cfg.ServerName = h.base
	cfg.InsecureSkipVerify = true
	var verr error
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		err := dane.Verify(h.tlsa, cs.PeerCertificates, h.refs, time.Now())
		if errors.Is(err, dane.ErrNoUsable) {
			return nil // encrypted, not authenticated (§2.2)
		}
		verr = err
		return err
	}
	if err := c.StartTLS(ctx, cfg); err != nil {
		c.Close()
		if verr != nil {
			err = verr
		}
		de := &daneError{msg: "DANE: " + h.name + ": " + err.Error()}
		if !isReply(err) {
			// Kept for TLS-RPT's result type; a refusal of STARTTLS is
			// not, so that the recipients are deferred, not bounced.
			de.err = err
		}
		return nil, de
	}
	return c, nil
}
