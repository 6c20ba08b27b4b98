package dmarc

import (
	"context"
	"errors"
	"net"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// OrgMethod selects how the Organizational Domain is found.
type OrgMethod int

const (
	// TreeWalk is RFC 9989 §4.10: DMARC records are looked up from the
	// domain upwards, at most eight queries, and psd= tags decide.
	TreeWalk OrgMethod = iota
	// PublicSuffix is RFC 7489 §3.2: one label below the public suffix,
	// from the list compiled into golang.org/x/net/publicsuffix.
	PublicSuffix
)

// String returns the name RFC 9990 reports use for the method
// ("discovery_method").
func (m OrgMethod) String() string {
	if m == PublicSuffix {
		return "psl"
	}
	return "treewalk"
}

// maxWalk is the most queries one tree walk makes (RFC 9989 §4.10).
const maxWalk = 8

// normalize lower-cases a domain, drops a trailing dot and turns U-labels
// into A-labels, the form DNS queries need (RFC 5890; RFC 9990 §4 step 3
// asks for it explicitly).
func normalize(d string) string {
	d = strings.TrimSuffix(d, ".")
	// The usual name is lower-case ASCII already: one scan, no copy.
	plain := true
	for i := 0; i < len(d) && plain; i++ {
		c := d[i]
		plain = c < 0x80 && (c < 'A' || c > 'Z')
	}
	if plain {
		return d
	}
	d = strings.ToLower(d)
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

// walkTargets lists the names a tree walk from domain queries, the domain
// itself first (RFC 9989 §4.10 steps 3, 4 and 7): after the first, the
// walk jumps to seven labels when there are more, then drops one label at
// a time. At most eight names.
func walkTargets(domain string) []string {
	labels := strings.Split(domain, ".")
	out := []string{domain}
	n := min(len(labels)-1, maxWalk-1)
	for ; n >= 1; n-- {
		out = append(out, strings.Join(labels[len(labels)-n:], "."))
	}
	return out
}

// walkNames yields walkTargets(domain) without building the list.
func walkNames(domain string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		if !yield(domain) {
			return
		}
		labels := strings.Count(domain, ".") + 1
		n := min(labels-1, maxWalk-1)
		// Start at the suffix with n labels, then drop one at a time.
		i := len(domain)
		for k := 0; k < n; k++ {
			i = strings.LastIndexByte(domain[:i], '.')
		}
		for ; n >= 1; n-- {
			if !yield(domain[i+1:]) {
				return
			}
			i += 1 + strings.IndexByte(domain[i+1:], '.')
		}
	}
}

// found is a DMARC record met on a walk.
type found struct {
	domain string
	rec    *Record
}

// errTemp wraps a DNS failure that may succeed later.
type tempError struct{ err error }

func (e *tempError) Error() string { return "dmarc: temporary DNS failure: " + e.err.Error() }
func (e *tempError) Unwrap() error { return e.err }

// lookupRecord fetches the DMARC record at _dmarc.domain: nil when there
// is none or more than one (RFC 9989 §4.10 step 2), an error only for a
// temporary failure.
func (e *Evaluator) lookupRecord(ctx context.Context, domain string) (*Record, error) {
	txts, err := e.Resolver.LookupTXT(ctx, "_dmarc."+domain)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound && !de.IsTemporary && !de.IsTimeout {
			return nil, nil
		}
		return nil, &tempError{err}
	}
	var rec *Record
	for _, t := range txts {
		if !isDMARC(t) {
			continue
		}
		r, err := e.parse(t)
		if err != nil {
			continue
		}
		if rec != nil {
			return nil, nil // several records: all discarded
		}
		rec = r
	}
	return rec, nil
}

// walk runs the DNS Tree Walk from domain, stopping after a record with
// psd=y or psd=n (RFC 9989 §4.10).
func (e *Evaluator) walk(ctx context.Context, domain string) ([]found, error) {
	var out []found
	for t := range walkNames(domain) {
		rec, err := e.lookupRecord(ctx, t)
		if err != nil {
			return nil, err
		}
		if rec == nil {
			continue
		}
		out = append(out, found{t, rec})
		if rec.PSD == 'y' || rec.PSD == 'n' {
			break
		}
	}
	return out, nil
}

// selectOrg picks the Organizational Domain from a walk's records
// (RFC 9989 §4.10.2), longest name first; "" when there were none.
func selectOrg(start string, recs []found) string {
	for _, f := range recs {
		switch {
		case f.rec.PSD == 'n':
			return f.domain
		case f.rec.PSD == 'y' && f.domain != start:
			// One label below the PSD, towards start.
			below := strings.TrimSuffix(start, "."+f.domain)
			i := strings.LastIndexByte(below, '.')
			return below[i+1:] + "." + f.domain
		}
	}
	if len(recs) == 0 {
		return ""
	}
	return recs[len(recs)-1].domain
}

// OrganizationalDomain returns the Organizational Domain of domain by the
// Evaluator's method.
func (e *Evaluator) OrganizationalDomain(ctx context.Context, domain string) (string, error) {
	domain = normalize(domain)
	if e.Method == PublicSuffix {
		return pslOrg(domain), nil
	}
	if d := e.cached(cacheKey{domain, true}); d != nil {
		return d.OrgDomain, nil
	}
	ctx, tracker := e.track(ctx)
	org, err := e.orgDomain(ctx, domain)
	if err == nil {
		e.store(cacheKey{domain, true}, tracker, &Discovery{OrgDomain: org})
	}
	return org, err
}

func (e *Evaluator) orgDomain(ctx context.Context, domain string) (string, error) {
	recs, err := e.walk(ctx, domain)
	if err != nil {
		return "", err
	}
	if org := selectOrg(domain, recs); org != "" {
		return org, nil
	}
	// "If this process does not determine the Organizational Domain,
	// then the initial target domain is the Organizational Domain."
	return domain, nil
}

// pslOrg is RFC 7489 §3.2's Organizational Domain.
func pslOrg(domain string) string {
	org, err := publicsuffix.EffectiveTLDPlusOne(domain)
	if err != nil {
		return domain
	}
	return org
}

// Discovery is the outcome of DMARC Policy Discovery.
type Discovery struct {
	// Record is the DMARC Policy Record to apply; nil when none applies.
	Record *Record
	// PolicyDomain is where Record was found.
	PolicyDomain string
	// OrgDomain is the Organizational Domain of the Author Domain.
	OrgDomain string
}

// Discover finds the DMARC Policy Record for an Author Domain
// (RFC 9989 §4.10.1, or RFC 7489 §6.6.3 with PublicSuffix). An error is a
// temporary DNS failure.
func (e *Evaluator) Discover(ctx context.Context, author string) (*Discovery, error) {
	d, err := e.discoverShared(ctx, normalize(author))
	if err != nil {
		return nil, err
	}
	c := *d
	return &c, nil
}

// discoverShared is Discover of a normalized author domain; the result
// may be the cache's own, not to be modified.
func (e *Evaluator) discoverShared(ctx context.Context, author string) (*Discovery, error) {
	if d := e.cached(cacheKey{author, false}); d != nil {
		return d, nil
	}
	ctx, tracker := e.track(ctx)
	d, err := e.discover(ctx, author)
	if err == nil {
		e.store(cacheKey{author, false}, tracker, d)
	}
	return d, err
}

func (e *Evaluator) discover(ctx context.Context, author string) (*Discovery, error) {
	if e.Method == PublicSuffix {
		d := &Discovery{OrgDomain: pslOrg(author)}
		rec, err := e.lookupRecord(ctx, author)
		if err != nil {
			return nil, err
		}
		if rec != nil {
			d.Record, d.PolicyDomain = rec, author
			return d, nil
		}
		if d.OrgDomain != author {
			if rec, err = e.lookupRecord(ctx, d.OrgDomain); err != nil {
				return nil, err
			}
			d.Record, d.PolicyDomain = rec, d.OrgDomain
		}
		return d, nil
	}
	recs, err := e.walk(ctx, author)
	if err != nil {
		return nil, err
	}
	d := &Discovery{OrgDomain: selectOrg(author, recs)}
	if d.OrgDomain == "" {
		d.OrgDomain = author
	}
	if len(recs) == 0 {
		return d, nil
	}
	if recs[0].domain == author {
		// The Author Domain's own record applies.
		d.Record, d.PolicyDomain = recs[0].rec, author
		return d, nil
	}
	// Otherwise the Organizational Domain's record, else the PSD's.
	for _, f := range recs {
		if f.domain == d.OrgDomain {
			d.Record, d.PolicyDomain = f.rec, f.domain
			return d, nil
		}
	}
	for _, f := range recs {
		if f.rec.PSD == 'y' {
			d.Record, d.PolicyDomain = f.rec, f.domain
			return d, nil
		}
	}
	return d, nil
}
