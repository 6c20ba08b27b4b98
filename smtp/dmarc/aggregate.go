package dmarc

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Observation is one evaluated message as an aggregate report counts it.
type Observation struct {
	// SourceIP is the SMTP client's address.
	SourceIP netip.Addr
	// EnvelopeTo is the RCPT TO domain; optional.
	EnvelopeTo string
	// Message holds the identifiers and raw SPF and DKIM results.
	Message *Message
	// Evaluation is the DMARC outcome for Message.
	Evaluation *Evaluation
	// Disposition, when set, is what the receiver actually did if it
	// differs from the Evaluation's (local policy); Reasons then say why
	// (RFC 9990 §3.1.6).
	Disposition Disposition
	Reasons     []PolicyReason
}

// MaxAggregateRows bounds the distinct rows kept per policy domain;
// messages that would need more are left out and counted in the report's
// error element.
const MaxAggregateRows = 10000

// Aggregator collects observations and builds aggregate reports
// (RFC 9990) for the policy domains that ask for them (rua=). It is safe
// for concurrent use.
type Aggregator struct {
	mu      sync.Mutex
	domains map[string]*domainAgg
}

type domainAgg struct {
	policy  PolicyPublished
	rua     []string
	rows    map[string]*ReportRecord
	order   []string
	dropped int64
}

// Add records one observation. Messages without a DMARC record, or
// whose record has no rua=, are not reported (RFC 9989 §4.7: without rua
// "Mail Receivers MUST NOT generate aggregate feedback reports").
func (a *Aggregator) Add(o Observation) {
	ev := o.Evaluation
	if ev == nil || ev.Record == nil || len(ev.Record.RUA) == 0 || o.Message == nil {
		return
	}
	rec := ReportRecord{
		Row: Row{SourceIP: o.SourceIP.Unmap().String(), Count: 1, PolicyEvaluated: PolicyEvaluated{
			Disposition: string(ev.Disposition), DKIM: passFail(ev.DKIMAligned), SPF: passFail(ev.SPFAligned), Reasons: o.Reasons,
		}},
		Identifiers: Identifiers{HeaderFrom: ev.AuthorDomain, EnvelopeFrom: normalize(o.Message.SPF.Domain), EnvelopeTo: normalize(o.EnvelopeTo)},
	}
	if o.Disposition != "" {
		rec.Row.PolicyEvaluated.Disposition = string(o.Disposition)
	}
	if ev.Testing && ev.Result == Fail && len(rec.Row.PolicyEvaluated.Reasons) == 0 {
		rec.Row.PolicyEvaluated.Reasons = []PolicyReason{{Type: "policy_test_mode"}}
	}
	for _, k := range o.Message.DKIM {
		rec.AuthResults.DKIM = append(rec.AuthResults.DKIM, DKIMAuthResult{Domain: normalize(k.Domain), Selector: k.Selector, Result: strings.ToLower(k.Result)})
	}
	if o.Message.SPF.Domain != "" || o.Message.SPF.Result != "" {
		res := strings.ToLower(o.Message.SPF.Result)
		if res == "" {
			res = "none"
		}
		rec.AuthResults.SPF = []SPFAuthResult{{Domain: normalize(o.Message.SPF.Domain), Scope: "mfrom", Result: res}}
	}
	key := rowKey(&rec)

	a.mu.Lock()
	defer a.mu.Unlock()
	if a.domains == nil {
		a.domains = map[string]*domainAgg{}
	}
	d := a.domains[ev.PolicyDomain]
	if d == nil {
		d = &domainAgg{rows: map[string]*ReportRecord{}, rua: ev.Record.RUA, policy: published(ev)}
		a.domains[ev.PolicyDomain] = d
	}
	if r, ok := d.rows[key]; ok {
		r.Row.Count++
		return
	}
	if len(d.rows) >= MaxAggregateRows {
		d.dropped++
		return
	}
	d.rows[key] = &rec
	d.order = append(d.order, key)
}

func passFail(b bool) string {
	if b {
		return "pass"
	}
	return "fail"
}

// published is the policy_published element for an evaluation's record.
func published(ev *Evaluation) PolicyPublished {
	r := ev.Record
	p := PolicyPublished{Domain: ev.PolicyDomain, DiscoveryMethod: ev.Method.String(), P: string(r.Policy),
		SP: string(r.SubdomainPolicy), NP: string(r.NonexistentPolicy), ADKIM: string(r.ADKIM), ASPF: string(r.ASPF),
		FO: r.FailureOptions, Testing: "n"}
	if p.P == "" {
		p.P = string(PolicyNone)
	}
	if r.Testing {
		p.Testing = "y"
	}
	return p
}

// rowKey identifies the tuple a record counts (RFC 9990 §3.1.1.7: one
// record per IP, result and authentication identifiers).
func rowKey(r *ReportRecord) string {
	var b strings.Builder
	pe := r.Row.PolicyEvaluated
	for _, s := range []string{r.Row.SourceIP, pe.Disposition, pe.DKIM, pe.SPF, r.Identifiers.HeaderFrom, r.Identifiers.EnvelopeFrom, r.Identifiers.EnvelopeTo} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	for _, x := range pe.Reasons {
		b.WriteString(x.Type + "\x01" + x.Comment + "\x00")
	}
	for _, k := range r.AuthResults.DKIM {
		b.WriteString(k.Domain + "\x01" + k.Selector + "\x01" + k.Result + "\x00")
	}
	for _, s := range r.AuthResults.SPF {
		b.WriteString(s.Domain + "\x01" + s.Result + "\x00")
	}
	return b.String()
}

// Report is a built aggregate report with where to send it.
type Report struct {
	Feedback *Feedback
	// RUA are the policy's reporting URIs. RFC 9990 §4 requires
	// verifying a destination outside the policy domain before sending.
	RUA []string
}

// Reports builds one report per policy domain seen since the last call,
// for the period begin to end, and starts a new period. meta supplies
// org_name, email and the like; ReportID and DateRange are filled in,
// the ID from meta.ReportID (a prefix), the domain and begin.
func (a *Aggregator) Reports(meta ReportMetadata, begin, end time.Time) []Report {
	a.mu.Lock()
	domains := a.domains
	a.domains = nil
	a.mu.Unlock()
	names := make([]string, 0, len(domains))
	for n := range domains {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []Report
	for _, name := range names {
		d := domains[name]
		m := meta
		m.DateRange = DateRange{Begin: begin.Unix(), End: end.Unix()}
		m.ReportID = strings.TrimSuffix(meta.ReportID+"."+name+"."+strconv.FormatInt(begin.Unix(), 10), ".")
		m.ReportID = strings.TrimPrefix(m.ReportID, ".")
		if d.dropped > 0 {
			m.Errors = append(slices.Clone(m.Errors), strconv.FormatInt(d.dropped, 10)+" messages not reported: row limit reached")
		}
		fb := &Feedback{Version: "1.0", ReportMetadata: m, PolicyPublished: d.policy}
		for _, k := range d.order {
			fb.Records = append(fb.Records, *d.rows[k])
		}
		out = append(out, Report{Feedback: fb, RUA: d.rua})
	}
	return out
}
