package spf

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
	"golang.org/x/net/idna"
)

// Defaults of Checker's zero fields.
const (
	// DefaultMaxLookups is the limit of DNS-querying terms (RFC 7208
	// §4.6.4: MUST be 10).
	DefaultMaxLookups = 10
	// DefaultMaxVoidLookups is the limit of terms whose query found
	// nothing (§4.6.4: a default of two is RECOMMENDED).
	DefaultMaxVoidLookups = 2
	// DefaultTimeout bounds one evaluation (§4.6.4: at least 20 seconds).
	DefaultTimeout = 20 * time.Second
	// maxMXNames and maxPTRNames: §4.6.4, 10 address lookups per MX
	// (more is permerror) and per PTR (the rest ignored).
	maxMXNames  = 10
	maxPTRNames = 10
)

// Checker evaluates SPF policies. The zero value is ready: it resolves
// through posthorn's caching DNS client over the system's resolvers.
// A Checker is safe for concurrent use; share one.
type Checker struct {
	// Resolver answers the DNS queries; nil means a caching client over
	// /etc/resolv.conf, created on first use.
	Resolver Resolver
	// Receiver is this host's name, for the %{r} macro and the
	// Received-SPF field; empty means "unknown" (RFC 7208 §7.2).
	Receiver string
	// MaxLookups limits the DNS-querying terms; zero means
	// DefaultMaxLookups.
	MaxLookups int
	// MaxVoidLookups limits the terms whose query found nothing; zero
	// means DefaultMaxVoidLookups, negative means no limit.
	MaxVoidLookups int
	// Timeout bounds one evaluation; past it the result is temperror.
	// Zero means DefaultTimeout; negative leaves it to the context.
	Timeout time.Duration
	// DefaultExplanation is the explain-string for a Fail whose record
	// has no usable exp= (RFC 7208 §6.2); empty means none.
	DefaultExplanation string
	// Now gives the time for the %{t} macro; nil means time.Now.
	Now func() time.Time

	once sync.Once
	dns  Resolver

	mu     sync.Mutex
	parsed map[string]*Record // parsed records by text; bounded
}

// maxParsed bounds the parsed-record cache.
const maxParsed = 1024

// parse parses a record through the cache: popular records (every
// sender's include chain) are parsed once. Records are not modified
// after parsing, so they are shared.
func (c *Checker) parse(txt string) (*Record, error) {
	c.mu.Lock()
	r, ok := c.parsed[txt]
	c.mu.Unlock()
	if ok {
		return r, nil
	}
	r, err := ParseRecord(txt)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.parsed == nil || len(c.parsed) >= maxParsed {
		c.parsed = make(map[string]*Record)
	}
	c.parsed[txt] = r
	c.mu.Unlock()
	return r, nil
}

func (c *Checker) resolver() Resolver {
	if c.Resolver != nil {
		return c.Resolver
	}
	c.once.Do(func() { c.dns = &dns.Client{} })
	return c.dns
}

// CheckMailFrom checks the MAIL FROM identity (RFC 7208 §2.4): mailFrom
// is the reverse-path without angle brackets; for the null reverse-path
// ("") the HELO name is checked with postmaster as local part.
func (c *Checker) CheckMailFrom(ctx context.Context, ip netip.Addr, helo, mailFrom string) *Outcome {
	sender := mailFrom
	if sender == "" {
		sender = "postmaster@" + helo
	}
	local, domain := splitSender(sender)
	o := c.CheckHost(ctx, ip, domain, local+"@"+domain, helo)
	o.Identity = IdentityMailFrom
	return o
}

// CheckHelo checks the HELO identity (RFC 7208 §2.3), with
// postmaster@helo as the sender. A HELO that is an address literal or not
// a multi-label name gives none.
func (c *Checker) CheckHelo(ctx context.Context, ip netip.Addr, helo string) *Outcome {
	o := c.CheckHost(ctx, ip, helo, "postmaster@"+helo, helo)
	o.Identity = IdentityHelo
	return o
}

// splitSender splits at the last "@"; a missing local part becomes
// "postmaster" (RFC 7208 §4.3), and without "@" the whole is the domain.
func splitSender(s string) (local, domain string) {
	i := strings.LastIndexByte(s, '@')
	if i < 0 {
		return "postmaster", s
	}
	local, domain = s[:i], s[i+1:]
	if local == "" {
		local = "postmaster"
	}
	return local, domain
}

// CheckHost is the check_host() function of RFC 7208 §4: whether ip may
// send mail for domain, with sender (local@domain) and helo for macros.
func (c *Checker) CheckHost(ctx context.Context, ip netip.Addr, domain, sender, helo string) *Outcome {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	// A deadline of the caller's that comes first already bounds the
	// evaluation; a timer costs as much as a cached evaluation.
	if dl, ok := ctx.Deadline(); timeout > 0 && (!ok || time.Until(dl) > timeout) {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	local, senderDomain := splitSender(sender)
	// RFC 7208 §4.3: internationalized names are checked as A-labels.
	domain, senderDomain = aLabels(domain), aLabels(senderDomain)
	e := &eval{
		c: c, res: c.resolver(), ip: ip.Unmap(),
		sender: local + "@" + senderDomain, local: local, senderDomain: senderDomain, helo: helo,
		maxLookups: c.MaxLookups, maxVoids: c.MaxVoidLookups,
	}
	if e.maxLookups <= 0 {
		e.maxLookups = DefaultMaxLookups
	}
	if e.maxVoids == 0 {
		e.maxVoids = DefaultMaxVoidLookups
	}
	o := &Outcome{IP: ip, Helo: helo, Sender: e.sender, Domain: domain, Identity: IdentityMailFrom, Receiver: c.Receiver}
	if !ip.IsValid() {
		o.Result, o.Problem = PermError, "no client address"
		return o
	}
	res, err := e.checkHost(ctx, strings.TrimSuffix(domain, "."), true)
	o.Lookups, o.VoidLookups = e.lookups, e.voids
	if err != nil {
		o.Result, o.Problem = err.result, err.problem
		return o
	}
	o.Result, o.Mechanism, o.Explanation = res.result, res.mechanism, res.explanation
	return o
}

// aLabels converts a name with U-labels to A-labels (RFC 5890); a name
// that does not convert is returned as it is, and fails validDomain or
// finds no record.
func aLabels(d string) string {
	for i := 0; i < len(d); i++ {
		if d[i] >= 0x80 {
			if a, err := idna.Lookup.ToASCII(d); err == nil {
				return a
			}
			return d
		}
	}
	return d
}

// eval is the state of one check_host() evaluation, kept across include
// and redirect (the lookup limits count the whole evaluation).
type eval struct {
	c                           *Checker
	res                         Resolver
	ip                          netip.Addr
	sender, local, senderDomain string
	helo                        string
	lookups, voids              int
	maxLookups, maxVoids        int
	ptrNames                    []string // validated names, once looked up
	ptrDone                     bool
}

// evalError ends the evaluation with permerror or temperror.
type evalError struct {
	result  Result
	problem string
}

func permErr(p string) *evalError { return &evalError{PermError, p} }

type hostResult struct {
	result      Result
	mechanism   string
	explanation string
}

// validDomain checks <domain> as RFC 7208 §4.3 demands: well-formed labels
// and at least two of them.
func validDomain(d string) bool {
	d = strings.TrimSuffix(d, ".")
	if d == "" || len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	start := 0
	for i := 0; i <= len(d); i++ {
		if i == len(d) || d[i] == '.' {
			if n := i - start; n == 0 || n > 63 {
				return false
			}
			start = i + 1
		}
	}
	return true
}

// dnsError classifies a resolver error: not found (nil, true) or a
// temperror.
func dnsError(err error, name string) (notFound bool, e *evalError) {
	var de *net.DNSError
	if errors.As(err, &de) && de.IsNotFound && !de.IsTemporary && !de.IsTimeout {
		return true, nil
	}
	// RFC 7208 §5: a server failure, another RCODE or a time-out ends
	// check_host() with temperror.
	return false, &evalError{TempError, "DNS failure looking up " + name + ": " + err.Error()}
}

func (e *eval) countLookup() *evalError {
	e.lookups++
	if e.lookups > e.maxLookups {
		return permErr("more than " + strconv.Itoa(e.maxLookups) + " DNS lookups") // §4.6.4
	}
	return nil
}

func (e *eval) countVoid() *evalError {
	e.voids++
	if e.maxVoids > 0 && e.voids > e.maxVoids {
		return permErr("more than " + strconv.Itoa(e.maxVoids) + " void DNS lookups") // §4.6.4
	}
	return nil
}

// checkHost evaluates the record of domain (RFC 7208 §4).
func (e *eval) checkHost(ctx context.Context, domain string, top bool) (hostResult, *evalError) {
	// §4.3: a malformed or single-label domain is "none".
	if !validDomain(domain) {
		return hostResult{result: None}, nil
	}
	rec, err := e.fetchRecord(ctx, domain)
	if err != nil || rec == nil {
		return hostResult{result: None}, err
	}
	hasAll := false
	for _, d := range rec.Directives {
		hasAll = hasAll || d.Mechanism == MechAll
	}
	for i, d := range rec.Directives {
		match, err := e.match(ctx, d, domain)
		if err != nil {
			return hostResult{}, err
		}
		if match {
			r := hostResult{result: d.Qualifier.result(), mechanism: rec.mechanism(i)}
			if r.result == Fail {
				r.explanation = e.explain(ctx, rec.Exp, domain)
			}
			return r, nil
		}
	}
	// §6.1: redirect applies when no mechanism matched, and is ignored if
	// the record has an "all" mechanism.
	if rec.Redirect != "" && !hasAll {
		if err := e.countLookup(); err != nil {
			return hostResult{}, err
		}
		target, err := e.target(ctx, rec.Redirect, domain)
		if err != nil {
			return hostResult{}, err
		}
		r, err := e.checkHost(ctx, target, false)
		if err != nil {
			return hostResult{}, err
		}
		if r.result == None {
			// §6.1: a redirect to a domain without a record is permerror.
			return hostResult{}, permErr("redirect to " + target + " found no SPF record")
		}
		return r, nil
	}
	// §4.7: no match and no redirect.
	return hostResult{result: Neutral, mechanism: "default"}, nil
}

// fetchRecord returns the one SPF record of domain, nil if it has none
// (RFC 7208 §4.4, §4.5).
func (e *eval) fetchRecord(ctx context.Context, domain string) (*Record, *evalError) {
	txts, err := e.res.LookupTXT(ctx, domain)
	if err != nil {
		notFound, derr := dnsError(err, domain)
		if notFound {
			return nil, nil
		}
		return nil, derr
	}
	var spf []string
	for _, t := range txts {
		if isSPF(t) {
			spf = append(spf, t)
		}
	}
	switch len(spf) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, permErr("more than one SPF record at " + domain) // §4.5
	}
	rec, perr := e.c.parse(spf[0])
	if perr != nil {
		return nil, permErr(perr.Error() + " at " + domain)
	}
	return rec, nil
}

// target expands a domain-spec into the name to query (RFC 7208 §7.3).
func (e *eval) target(ctx context.Context, spec, domain string) (string, *evalError) {
	s, err := expandMacros(spec, false, e.macros(ctx, domain, false))
	if err != nil {
		return "", permErr(err.Error() + " in " + strconv.Quote(spec))
	}
	return strings.TrimSuffix(truncateDomain(s), "."), nil
}

// match evaluates one mechanism (RFC 7208 §5).
func (e *eval) match(ctx context.Context, d Directive, domain string) (bool, *evalError) {
	switch d.Mechanism {
	case MechAll:
		return true, nil
	case MechIP4, MechIP6:
		return d.Net.Contains(e.ip), nil
	}
	// The rest query the DNS: §4.6.4.
	if err := e.countLookup(); err != nil {
		return false, err
	}
	target := domain
	if d.Domain != "" {
		var err *evalError
		if target, err = e.target(ctx, d.Domain, domain); err != nil {
			return false, err
		}
	}
	switch d.Mechanism {
	case MechInclude:
		r, err := e.checkHost(ctx, target, false)
		if err != nil {
			return false, err
		}
		// §5.2: the include table.
		switch r.result {
		case Pass:
			return true, nil
		case Fail, SoftFail, Neutral:
			return false, nil
		}
		return false, permErr("include of " + target + " found no SPF record")
	case MechA:
		return e.matchHost(ctx, target, d, true)
	case MechMX:
		mxs, err := e.res.LookupMX(ctx, target)
		if err != nil {
			notFound, derr := dnsError(err, target)
			if !notFound {
				return false, derr
			}
			return false, e.countVoid()
		}
		if len(mxs) > maxMXNames {
			return false, permErr("more than 10 MX records at " + target) // §4.6.4
		}
		for _, mx := range mxs {
			host := strings.TrimSuffix(mx.Host, ".")
			if host == "" {
				continue // RFC 7505 null MX
			}
			ok, err := e.matchHost(ctx, host, d, false)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case MechPTR:
		names, err := e.validatedNames(ctx)
		if err != nil {
			return false, err
		}
		t := strings.ToLower(target)
		for _, n := range names {
			if n == t || strings.HasSuffix(n, "."+t) {
				return true, nil
			}
		}
		return false, nil
	case MechExists:
		if !validDomain(target) {
			return false, nil
		}
		// §5.7: an A lookup whatever the client's address family.
		ips, err := e.res.LookupNetIP(ctx, "ip4", target)
		if err != nil {
			notFound, derr := dnsError(err, target)
			if !notFound {
				return false, derr
			}
			return false, e.countVoid()
		}
		return len(ips) > 0, nil
	}
	return false, permErr("unknown mechanism " + d.Mechanism)
}

// matchHost compares the client with the addresses of host of its own
// family, under the directive's prefix lengths (§5.3, §5.4). countVoid
// says whether finding nothing is a void lookup of this term.
func (e *eval) matchHost(ctx context.Context, host string, d Directive, countVoid bool) (bool, *evalError) {
	if !validDomain(host) {
		return false, nil
	}
	network, bits, has := "ip4", d.CIDR4, d.HasCIDR4
	if e.ip.Is6() {
		network, bits, has = "ip6", d.CIDR6, d.HasCIDR6
	}
	if !has {
		bits = e.ip.BitLen()
	}
	ips, err := e.res.LookupNetIP(ctx, network, host)
	if err != nil {
		notFound, derr := dnsError(err, host)
		if !notFound {
			return false, derr
		}
		if countVoid {
			return false, e.countVoid()
		}
		return false, nil
	}
	for _, ip := range ips {
		ip = ip.Unmap()
		if ip.BitLen() != e.ip.BitLen() {
			continue
		}
		if p, err := ip.Prefix(bits); err == nil && p.Contains(e.ip) {
			return true, nil
		}
	}
	return false, nil
}

// validatedNames returns the client's validated domain names (RFC 7208
// §5.5), lower case without trailing dot. A DNS error in the PTR lookup
// means no names (the mechanism does not match); errors in the forward
// lookups skip that name.
func (e *eval) validatedNames(ctx context.Context) ([]string, *evalError) {
	if e.ptrDone {
		return e.ptrNames, nil
	}
	e.ptrDone = true
	names, err := e.res.LookupAddr(ctx, e.ip.String())
	if err != nil {
		if notFound, _ := dnsError(err, ""); notFound {
			if verr := e.countVoid(); verr != nil {
				return nil, verr
			}
		}
		return nil, nil
	}
	if len(names) > maxPTRNames {
		names = names[:maxPTRNames] // §4.6.4: the rest MUST be ignored
	}
	network := "ip4"
	if e.ip.Is6() {
		network = "ip6"
	}
	for _, n := range names {
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		if !validDomain(n) {
			continue
		}
		ips, err := e.res.LookupNetIP(ctx, network, n)
		if err != nil {
			continue
		}
		for _, ip := range ips {
			if ip.Unmap() == e.ip {
				e.ptrNames = append(e.ptrNames, n)
				break
			}
		}
	}
	return e.ptrNames, nil
}

// macros returns the macro values for expansion at domain.
func (e *eval) macros(ctx context.Context, domain string, exp bool) macroValue {
	return func(letter byte) (string, error) {
		switch letter {
		case 's':
			return e.sender, nil
		case 'l':
			return e.local, nil
		case 'o':
			return e.senderDomain, nil
		case 'd':
			return domain, nil
		case 'i':
			return dottedIP(e.ip), nil
		case 'v':
			if e.ip.Is4() {
				return "in-addr", nil
			}
			return "ip6", nil
		case 'h':
			return e.helo, nil
		case 'c':
			return e.ip.String(), nil
		case 'r':
			if e.c.Receiver == "" {
				return "unknown", nil
			}
			return e.c.Receiver, nil
		case 't':
			now := time.Now
			if e.c.Now != nil {
				now = e.c.Now
			}
			return strconv.FormatInt(now().Unix(), 10), nil
		case 'p':
			return e.pMacro(ctx, domain), nil
		}
		return "", errMacroSyntax
	}
}

// pMacro is the %{p} value (RFC 7208 §7.3): domain itself if validated,
// else a validated subdomain of it, else any validated name, else
// "unknown".
func (e *eval) pMacro(ctx context.Context, domain string) string {
	names, err := e.validatedNames(ctx)
	if err != nil || len(names) == 0 {
		return "unknown"
	}
	d := strings.ToLower(domain)
	for _, n := range names {
		if n == d {
			return n
		}
	}
	for _, n := range names {
		if strings.HasSuffix(n, "."+d) {
			return n
		}
	}
	return names[0]
}

// dottedIP is the %{i} form: dotted quad, or dotted nibbles for IPv6
// (RFC 7208 §7.3).
func dottedIP(ip netip.Addr) string {
	if ip.Is4() {
		return ip.String()
	}
	const hex = "0123456789abcdef"
	a := ip.As16()
	b := make([]byte, 0, 63)
	for i, c := range a {
		if i > 0 {
			b = append(b, '.')
		}
		b = append(b, hex[c>>4], '.', hex[c&0xf])
	}
	return string(b)
}

// explain computes the explanation for a Fail (RFC 7208 §6.2): the TXT
// record at the expanded exp= domain, itself expanded. Any problem —
// no exp=, a DNS error, not exactly one record, a syntax error, non-ASCII
// text — gives the default explanation; it never changes the result.
// The lookup does not count against the limits (§4.6.4).
func (e *eval) explain(ctx context.Context, spec, domain string) string {
	def := func() string {
		if e.c.DefaultExplanation == "" {
			return ""
		}
		s, err := expandMacros(e.c.DefaultExplanation, true, e.macros(ctx, domain, true))
		if err != nil {
			return ""
		}
		return s
	}
	if spec == "" {
		return def()
	}
	target, err := expandMacros(spec, false, e.macros(ctx, domain, false))
	if err != nil {
		return def()
	}
	target = strings.TrimSuffix(truncateDomain(target), ".")
	if !validDomain(target) {
		return def()
	}
	txts, lerr := e.res.LookupTXT(ctx, target)
	if lerr != nil || len(txts) != 1 {
		return def()
	}
	s, err := expandMacros(txts[0], true, e.macros(ctx, domain, true))
	if err != nil {
		return def()
	}
	return s
}
