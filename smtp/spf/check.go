package spf

import (
	"context"
	"errors"
	"github.com/posthorn/posthorn/internal/ttlcache"
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
	// Now gives the time for the %{t} macro and the result cache; nil
	// means time.Now.
	Now func() time.Time
	// CacheSize bounds the outcomes kept per (client address, domain), so
	// that the next message from the same client for the same domain is
	// answered without evaluating the policy again; zero means
	// DefaultCacheSize, negative disables the cache. An outcome is kept
	// no longer than the shortest TTL of the DNS answers it rests on,
	// and only with a resolver that reports TTLs (posthorn's DNS client;
	// not *net.Resolver); outcomes that used the sender's local part, the
	// HELO name or the time in a macro, and temperrors, are never kept.
	CacheSize int

	once sync.Once
	dns  Resolver

	mu     sync.Mutex
	parsed map[string]*Record                  // parsed records by text; bounded
	cache  ttlcache.Cache[outcomeKey, Outcome] // under mu
}

// DefaultCacheSize is the number of outcomes a Checker keeps when
// CacheSize is zero.
const DefaultCacheSize = 4096

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
	// An outcome for the domain of the sender itself (always so for
	// MAIL FROM and HELO) may come from the cache.
	cacheable := c.CacheSize >= 0 && strings.HasSuffix(sender, domain) &&
		len(sender) > len(domain) && sender[len(sender)-len(domain)-1] == '@' && reportsTTL(c.resolver())
	key := outcomeKey{ip, domain}
	if cacheable {
		if o := c.cached(key, sender, helo); o != nil {
			return o
		}
	}
	var tracker *dns.TTLTracker
	if cacheable {
		ctx, tracker = dns.WithTTLTracker(ctx)
	}
	o := c.checkHost(ctx, ip, domain, sender, helo)
	if cacheable && o.Result != TempError && !o.personal {
		if ttl, ok := tracker.TTL(); ok && ttl > 0 {
			c.store(key, o, ttl)
		}
	}
	return o
}

func (c *Checker) checkHost(ctx context.Context, ip netip.Addr, domain, sender, helo string) *Outcome {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	if timeout > 0 {
		// The timer starts only if a query goes to the network: a timer
		// costs as much as an evaluation answered from the cache.
		var stop func()
		ctx, stop = dns.WithTimeout(ctx, timeout)
		defer stop()
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
	o.Lookups, o.VoidLookups, o.personal = e.lookups, e.voids, e.personal
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

// isAddress reports whether d is an IP address, bare or as an address
// literal ("[192.0.2.1]", "[IPv6:2001:db8::1]").
func isAddress(d string) bool {
	if strings.HasPrefix(d, "[") {
		return true
	}
	_, err := netip.ParseAddr(d)
	return err == nil
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
	// personal is set once a macro used the sender, its local part, the
	// HELO name or the time: the outcome is then not cached, being true
	// of this message alone.
	personal bool
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
	// §4.3: a malformed or single-label domain is "none"; so is an
	// address, bracketed as a HELO literal or bare (§2.3: the HELO
	// identity is a domain name).
	if !validDomain(domain) || (top && isAddress(domain)) {
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
