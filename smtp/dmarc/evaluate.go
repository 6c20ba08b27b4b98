package dmarc

import (
	"context"
	"errors"
	"github.com/posthorn/posthorn/internal/ttlcache"
	"math/rand/v2"
	"net"
	"net/mail"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
)

// Resolver is the DNS DMARC needs; *net.Resolver implements it, and so
// does posthorn's caching client. NXDOMAIN and "no records" must be a
// *net.DNSError with IsNotFound; anything else is a temporary failure.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
}

// domainExister is the optional Resolver method that tells NXDOMAIN from
// "no records" (posthorn's DNS client has it).
type domainExister interface {
	DomainExists(ctx context.Context, name string) (bool, error)
}

// SPFResult is the SPF result of the MAIL FROM identity (RFC 9989 §4.4.2:
// DMARC uses only that identity, never HELO).
type SPFResult struct {
	// Domain is the MAIL FROM domain (for the null reverse-path, the HELO
	// name that SPF checked as postmaster@, RFC 7208 §2.4).
	Domain string
	// Result is the SPF result word: "pass", "fail", "softfail",
	// "neutral", "none", "temperror" or "permerror".
	Result string
}

// DKIMResult is the outcome of verifying one DKIM signature, as any DKIM
// verifier reports it.
type DKIMResult struct {
	// Domain and Selector are the signature's d= and s=.
	Domain, Selector string
	// Result is the RFC 8601 §2.7.1 result word: "pass", "fail",
	// "neutral", "policy", "temperror", "permerror" or "none".
	Result string
}

// Message is what DMARC evaluates of one message.
type Message struct {
	// From is the Author Domain: the domain of the RFC5322.From address
	// (see AuthorDomain).
	From string
	SPF  SPFResult
	DKIM []DKIMResult
}

// Result is the DMARC outcome (RFC 9989 §5.3.5, §5.3.6).
type Result string

// Results. None means DMARC does not apply (no policy record);
// TempError means a DNS query did not complete, so the message neither
// passes nor fails (§5.3.6).
const (
	Pass      Result = "pass"
	Fail      Result = "fail"
	None      Result = "none"
	TempError Result = "temperror"
)

// Disposition is what the policy asks to be done with the message, as
// RFC 9990 reports name it.
type Disposition string

// Dispositions.
const (
	DispositionNone       Disposition = "none"
	DispositionPass       Disposition = "pass"
	DispositionQuarantine Disposition = "quarantine"
	DispositionReject     Disposition = "reject"
)

// Evaluation is the outcome of evaluating one message.
type Evaluation struct {
	Result Result
	// Disposition is the handling the Domain Owner asks for: pass for a
	// pass, the policy (one level lower under t=y or pct=0) for a fail,
	// none otherwise.
	Disposition Disposition
	// Policy is the policy that applies (p, sp or np), empty without a
	// record.
	Policy Policy
	// Testing is set when the record asks for test mode (t=y, pct=0).
	Testing bool
	// AuthorDomain, PolicyDomain and OrgDomain are the Author Domain, the
	// domain whose record applied, and the Author Domain's Organizational
	// Domain.
	AuthorDomain, PolicyDomain, OrgDomain string
	Record                                *Record
	// SPFAligned and DKIMAligned tell which identifiers passed aligned;
	// DKIMDomain is the d= of the first aligned passing signature.
	SPFAligned, DKIMAligned bool
	DKIMDomain              string
	// Method is the Organizational Domain method used.
	Method OrgMethod
	// Problem explains a TempError.
	Problem string
}

// DefaultTimeout bounds one evaluation when Evaluator.Timeout is zero.
const DefaultTimeout = 20 * time.Second

// Evaluator evaluates DMARC. The zero value uses the DNS Tree Walk and a
// caching DNS client over the system's resolvers. It is safe for
// concurrent use.
type Evaluator struct {
	// Resolver answers DNS queries; nil means posthorn's caching client
	// over /etc/resolv.conf.
	Resolver Resolver
	// Method selects the Organizational Domain method (TreeWalk default).
	Method OrgMethod
	// HonorPct applies RFC 7489's pct= sampling for values 1 to 99: the
	// policy applies to that share of failing messages, the rest get the
	// next lower policy (RFC 7489 §6.6.4). RFC 9989 drops pct; by default
	// only pct=0 counts, as t=y (RFC 9989 Appendix A.6).
	HonorPct bool
	// Rand returns an integer in [0, 100) for pct sampling; nil means
	// math/rand/v2.
	Rand func() int
	// Timeout bounds one evaluation's DNS queries; past it the result is
	// temperror. Zero means DefaultTimeout; negative leaves it to the
	// context.
	Timeout time.Duration
	// CacheSize bounds the policy discoveries and Organizational Domains
	// kept by domain, so that the next message from the same Author
	// Domain needs no tree walk; zero means DefaultCacheSize, negative
	// disables the cache. An entry is kept no longer than the shortest
	// TTL of the DNS answers it rests on, and only with a resolver that
	// reports TTLs (posthorn's DNS client; not *net.Resolver).
	CacheSize int

	once sync.Once
	now  func() time.Time // tests move the clock

	mu     sync.Mutex
	parsed map[string]*Record                   // parsed records by text; bounded
	cache  ttlcache.Cache[cacheKey, *Discovery] // under mu
}

// maxParsed bounds the parsed-record cache.
const maxParsed = 1024

// parse parses a record through the cache; records are not modified
// after parsing, so evaluations share them.
func (e *Evaluator) parse(txt string) (*Record, error) {
	e.mu.Lock()
	r, ok := e.parsed[txt]
	e.mu.Unlock()
	if ok {
		return r, nil
	}
	r, err := ParseRecord(txt)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if e.parsed == nil || len(e.parsed) >= maxParsed {
		e.parsed = make(map[string]*Record)
	}
	e.parsed[txt] = r
	e.mu.Unlock()
	return r, nil
}

func (e *Evaluator) init() {
	e.once.Do(func() {
		if e.Resolver == nil {
			e.Resolver = &dns.Client{}
		}
	})
}

// Evaluate checks a message's authenticated identifiers against the DMARC
// policy of its Author Domain (RFC 9989 §5.3).
func (e *Evaluator) Evaluate(ctx context.Context, m *Message) *Evaluation {
	e.init()
	timeout := e.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	if timeout > 0 {
		// The timer starts only if a query goes to the network.
		var stop func()
		ctx, stop = dns.WithTimeout(ctx, timeout)
		defer stop()
	}
	ev := &Evaluation{AuthorDomain: normalize(m.From), Method: e.Method, Result: None, Disposition: DispositionNone}
	temp := func(err error) *Evaluation {
		ev.Result, ev.Disposition, ev.Problem = TempError, DispositionNone, err.Error()
		return ev
	}
	if ev.AuthorDomain == "" {
		return ev
	}
	d, err := e.discoverShared(ctx, ev.AuthorDomain)
	if err != nil {
		return temp(err)
	}
	ev.OrgDomain = d.OrgDomain
	if d.Record == nil {
		return ev // §4.10.1: no record, DMARC does not apply
	}
	rec := d.Record
	if !rec.PolicyValid && len(rec.RUA) == 0 {
		return ev // §4.10.1: no valid policy and no rua: no DMARC processing
	}
	ev.Record, ev.PolicyDomain = rec, d.PolicyDomain
	ev.Policy, err = e.policy(ctx, rec, ev.AuthorDomain, d.PolicyDomain)
	if err != nil {
		return temp(err)
	}

	// §4.4: alignment of the SPF and DKIM identifiers.
	if strings.EqualFold(m.SPF.Result, "pass") && m.SPF.Domain != "" {
		ev.SPFAligned, err = e.aligned(ctx, rec.ASPF, ev.AuthorDomain, ev.OrgDomain, m.SPF.Domain)
		if err != nil {
			return temp(err)
		}
	}
	for _, k := range m.DKIM {
		if !strings.EqualFold(k.Result, "pass") || k.Domain == "" {
			continue
		}
		ok, err := e.aligned(ctx, rec.ADKIM, ev.AuthorDomain, ev.OrgDomain, k.Domain)
		if err != nil {
			return temp(err)
		}
		if ok {
			ev.DKIMAligned, ev.DKIMDomain = true, normalize(k.Domain)
			break
		}
	}
	if ev.SPFAligned || ev.DKIMAligned {
		ev.Result, ev.Disposition = Pass, DispositionPass
		return ev
	}
	ev.Result = Fail
	ev.Testing = rec.Testing || (rec.HasPct && rec.Pct == 0)
	p := ev.Policy
	if ev.Testing {
		p = lower(p) // §4.7 t=y: one level below
	} else if e.HonorPct && rec.HasPct && rec.Pct > 0 && rec.Pct < 100 && e.sample() >= rec.Pct {
		p = lower(p) // RFC 7489 §6.6.4
	}
	ev.Disposition = Disposition(p)
	return ev
}

func lower(p Policy) Policy {
	switch p {
	case PolicyReject:
		return PolicyQuarantine
	case PolicyQuarantine:
		return PolicyNone
	}
	return p
}

func (e *Evaluator) sample() int {
	if e.Rand != nil {
		return e.Rand()
	}
	return rand.IntN(100)
}

// policy chooses p, sp or np (RFC 9989 §4.10.1). A record without a valid
// policy but with rua counts as p=none.
func (e *Evaluator) policy(ctx context.Context, rec *Record, author, policyDomain string) (Policy, error) {
	if !rec.PolicyValid {
		return PolicyNone, nil
	}
	if author == policyDomain {
		return rec.Policy, nil
	}
	if rec.NonexistentPolicy != "" {
		exists, err := e.exists(ctx, author)
		if err != nil {
			return "", err
		}
		if !exists {
			return rec.NonexistentPolicy, nil
		}
	}
	if rec.SubdomainPolicy != "" {
		return rec.SubdomainPolicy, nil
	}
	return rec.Policy, nil
}

// exists tells whether the Author Domain exists (RFC 9989 §3.2.13:
// NXDOMAIN, RFC 8020). A resolver that cannot tell NXDOMAIN from "no
// records" is asked for A, AAAA and MX, and a name with none of them
// counts as non-existent, RFC 7489 §6.6.3's older test.
func (e *Evaluator) exists(ctx context.Context, domain string) (bool, error) {
	if de, ok := e.Resolver.(domainExister); ok {
		ok, err := de.DomainExists(ctx, domain)
		if err != nil {
			return false, &tempError{err}
		}
		return ok, nil
	}
	notFound := func(err error) (bool, error) {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound && !de.IsTemporary && !de.IsTimeout {
			return true, nil
		}
		return false, &tempError{err}
	}
	if _, err := e.Resolver.LookupNetIP(ctx, "ip", domain); err == nil {
		return true, nil
	} else if nf, err := notFound(err); !nf {
		return false, err
	}
	if _, err := e.Resolver.LookupMX(ctx, domain); err == nil {
		return true, nil
	} else if nf, err := notFound(err); !nf {
		return false, err
	}
	return false, nil
}

// aligned checks Identifier Alignment of id with the Author Domain
// (RFC 9989 §4.4): equal in strict mode, the same Organizational Domain in
// relaxed mode.
func (e *Evaluator) aligned(ctx context.Context, mode Alignment, author, authorOrg, id string) (bool, error) {
	id = normalize(id)
	if id == author {
		return true, nil
	}
	if mode == Strict {
		return false, nil
	}
	// An Organizational Domain is the name itself or one of its
	// ancestors, so id can share the author's only if it is that domain
	// or below it; other names need no walk.
	if id != authorOrg && !strings.HasSuffix(id, "."+authorOrg) {
		return false, nil
	}
	org, err := e.OrganizationalDomain(ctx, id)
	if err != nil {
		return false, err
	}
	return org == authorOrg, nil
}

// AuthorDomain returns the Author Domain from an RFC5322.From field value
// (RFC 9989 §5.3.1). A field with several addresses is accepted only if
// they share one domain; otherwise, or when the field does not parse, the
// error says why (the receiver then decides, §5.3.1 leaves it to local
// policy).
func AuthorDomain(from string) (string, error) {
	if d, ok := simpleAuthorDomain(from); ok {
		return normalize(d), nil
	}
	addrs, err := mail.ParseAddressList(from)
	if err != nil {
		return "", err
	}
	domain := ""
	for _, a := range addrs {
		i := strings.LastIndexByte(a.Address, '@')
		if i < 0 {
			return "", errors.New("dmarc: From address without a domain")
		}
		d := normalize(a.Address[i+1:])
		if domain != "" && d != domain {
			return "", errors.New("dmarc: From addresses in different domains")
		}
		domain = d
	}
	if domain == "" {
		return "", errors.New("dmarc: empty From")
	}
	return domain, nil
}

// simpleAuthorDomain reads the domain of the usual From values without
// the general parser: "local@domain", "<local@domain>",
// "Words Of A Name <local@domain>" and "\"A Name\" <local@domain>", where
// every word is atext or a quoted string without escapes and the address
// a dot-atom. For anything else (quotes, comments, groups,
// several addresses, non-ASCII) it reports false and AuthorDomain parses
// the whole RFC 5322 grammar. FuzzSimpleAuthorDomain checks that both
// agree wherever this one answers.
func simpleAuthorDomain(s string) (string, bool) {
	s = strings.Trim(s, " \t")
	addr := s
	if i := strings.IndexByte(s, '<'); i >= 0 {
		if s[len(s)-1] != '>' {
			return "", false
		}
		addr = s[i+1 : len(s)-1]
		for phrase := s[:i]; phrase != ""; {
			if phrase[0] == '"' {
				// A quoted word without escapes: printable ASCII and
				// spaces (qtext, RFC 5322 §3.2.4), then a space or the end.
				end := 1
				for end < len(phrase) && phrase[end] != '"' {
					if c := phrase[end]; c < ' ' || c > '~' || c == '\\' {
						return "", false
					}
					end++
				}
				if end == len(phrase) || (end+1 < len(phrase) && phrase[end+1] != ' ') {
					return "", false
				}
				phrase = phrase[min(end+2, len(phrase)):]
				continue
			}
			w, rest, _ := strings.Cut(phrase, " ")
			if w != "" && !isAtext(w, false) {
				return "", false
			}
			phrase = rest
		}
	}
	at := strings.IndexByte(addr, '@')
	if at <= 0 {
		return "", false
	}
	local, domain := addr[:at], addr[at+1:]
	if !isAtext(local, true) || !isDotAtomDomain(domain) {
		return "", false
	}
	return domain, true
}

// isAtext reports whether s is non-empty atext (RFC 5322 §3.2.3), with
// dots between atoms when dots is set (a dot-atom).
func isAtext(s string, dots bool) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0:
		case c == '.' && dots && s[i-1] != '.':
		default:
			return false
		}
	}
	return true
}

// isDotAtomDomain reports whether s is a host name of letters, digits and
// hyphens in dot-separated labels.
func isDotAtomDomain(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
		case c == '.' && s[i-1] != '.':
		default:
			return false
		}
	}
	return true
}
