package smtpqueue

import (
	"bytes"
	"compress/gzip"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/posthorn/posthorn/internal/dane"
	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/smtpclient"
)

// TLSReport is an SMTP TLS Reporting aggregate report (RFC 8460 §4.4), as
// built by TLSRecorder.Report and read by ParseTLSReport.
type TLSReport struct {
	OrganizationName string          `json:"organization-name"`
	DateRange        TLSReportRange  `json:"date-range"`
	ContactInfo      string          `json:"contact-info"`
	ReportID         string          `json:"report-id"`
	Policies         []TLSPolicyStat `json:"policies"`
}

// TLSReportRange is the period a report covers.
type TLSReportRange struct {
	Start time.Time `json:"start-datetime"`
	End   time.Time `json:"end-datetime"`
}

// TLSPolicyStat is the result of one policy over the period.
type TLSPolicyStat struct {
	Policy         TLSPolicyDesc      `json:"policy"`
	Summary        TLSSummary         `json:"summary"`
	FailureDetails []TLSFailureDetail `json:"failure-details,omitempty"`
}

// TLSPolicyDesc names the policy applied: "sts", "tlsa" or
// "no-policy-found" (RFC 8460 §4.4).
type TLSPolicyDesc struct {
	Type   string   `json:"policy-type"`
	String []string `json:"policy-string,omitempty"`
	Domain string   `json:"policy-domain"`
	MXHost []string `json:"mx-host,omitempty"`
}

// TLSSummary counts the sessions.
type TLSSummary struct {
	Successful int64 `json:"total-successful-session-count"`
	Failed     int64 `json:"total-failure-session-count"`
}

// TLSFailureDetail counts the sessions that failed one way at one MX.
type TLSFailureDetail struct {
	ResultType          string `json:"result-type"` // RFC 8460 §4.3, e.g. "certificate-expired"
	SendingMTAIP        string `json:"sending-mta-ip,omitempty"`
	ReceivingMXHostname string `json:"receiving-mx-hostname,omitempty"`
	ReceivingIP         string `json:"receiving-ip,omitempty"`
	FailedSessionCount  int64  `json:"failed-session-count"`
	FailureReasonCode   string `json:"failure-reason-code,omitempty"`
}

// maxTLSReport bounds a report read by ParseTLSReport, decompressed.
const maxTLSReport = 8 << 20

// ParseTLSReport reads a report as JSON, or gzip-compressed JSON
// (application/tlsrpt+gzip), of at most 8 MiB decompressed.
func ParseTLSReport(r io.Reader) (*TLSReport, error) {
	br := io.LimitReader(r, maxTLSReport+1)
	head := make([]byte, 2)
	n, _ := io.ReadFull(br, head)
	src := io.MultiReader(bytes.NewReader(head[:n]), br)
	if n == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, fmt.Errorf("tlsrpt: %w", err)
		}
		src = io.LimitReader(zr, maxTLSReport+1)
	}
	b, err := io.ReadAll(src)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt: %w", err)
	}
	if len(b) > maxTLSReport {
		return nil, errors.New("tlsrpt: report too large")
	}
	var rep TLSReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("tlsrpt: %w", err)
	}
	if rep.ReportID == "" || len(rep.Policies) == 0 {
		return nil, errors.New("tlsrpt: report without report-id or policies")
	}
	return &rep, nil
}

// Gzip returns the report as gzip-compressed JSON, the form it is mailed
// or posted in (RFC 8460 §5.3).
func (r *TLSReport) Gzip() ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(r); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// TLSRecorder records the TLS outcome of every direct-delivery session for
// TLS-RPT (RFC 8460): set it as MX.TLSRPT, and build each domain's daily
// report with Report, or let a TLSReporter send them.
type TLSRecorder struct {
	mu   sync.Mutex
	pols map[tlsKey]*tlsCounts
}

type tlsKey struct{ domain, typ, host string }

type tlsCounts struct {
	policy  TLSPolicyDesc
	ok, bad int64
	fails   map[TLSFailureDetail]int64 // FailedSessionCount zero in the key
}

// record counts one session to mxHost for domain under the MTA-STS
// policy p or, when dh is set, the MX host's DANE TLSA records.
func (r *TLSRecorder) record(domain string, p *stsPolicy, dh *daneHost, mxHost string, err error) {
	if r == nil {
		return
	}
	desc := TLSPolicyDesc{Type: "no-policy-found", Domain: domain}
	switch {
	case dh != nil:
		// RFC 8460 §4.4: the TLSA RRset as the policy-string; one
		// policy per MX host, since each has its own.
		desc = TLSPolicyDesc{Type: "tlsa", Domain: domain, String: dh.lines}
		if mxHost != "" {
			desc.MXHost = []string{mxHost}
		}
	case p != nil && (p.mode == "enforce" || p.mode == "testing"):
		desc = TLSPolicyDesc{Type: "sts", Domain: domain, MXHost: p.mx, String: p.lines()}
	}
	var d TLSFailureDetail
	if err != nil {
		d = TLSFailureDetail{ResultType: tlsResultType(err), ReceivingMXHostname: mxHost, FailureReasonCode: oneLine(err.Error())}
		if d.ResultType == "" {
			return // transient: not reported (RFC 8460 §4.3.4)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pols == nil {
		r.pols = map[tlsKey]*tlsCounts{}
	}
	k := tlsKey{domain, desc.Type, ""}
	if dh != nil {
		k.host = mxHost
	}
	c := r.pols[k]
	if c == nil {
		c = &tlsCounts{fails: map[TLSFailureDetail]int64{}}
		r.pols[k] = c
	}
	c.policy = desc
	if err == nil {
		c.ok++
		return
	}
	c.bad++
	if len(c.fails) < 1000 {
		c.fails[d]++
	}
}

// tlsResultType maps a session's TLS failure to an RFC 8460 §4.3 result
// type; "" for a transient failure (a refused or timed-out connection).
func tlsResultType(err error) string {
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	var ua x509.UnknownAuthorityError
	var ne net.Error
	var se *smtp.Error
	var dl *daneLookupError
	var dr *daneRequiredError
	var dn *dane.NameError
	switch {
	case errors.As(err, &dl):
		return "dnssec-invalid" // RFC 8460 §4.3.2.1
	case errors.As(err, &dr):
		return "dane-required"
	case errors.Is(err, dane.ErrNoMatch):
		return "certificate-not-trusted"
	case errors.As(err, &dn):
		return "certificate-host-mismatch"
	case errors.Is(err, smtpclient.ErrNoStartTLS), errors.Is(err, errNoTLS):
		return "starttls-not-supported"
	case errors.As(err, &hn):
		return "certificate-host-mismatch"
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		return "certificate-expired"
	case errors.As(err, &ua), errors.As(err, &ci):
		return "certificate-not-trusted"
	case errors.As(err, &ne), errors.As(err, &se):
		return ""
	}
	return "validation-failure"
}

// errNoTLS records an opportunistic session that stayed in plaintext.
var errNoTLS = errors.New("smtpqueue: the MX offered no STARTTLS")

// Domains returns the policy domains with sessions recorded.
func (r *TLSRecorder) Domains() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for k := range r.pols {
		if !slices.Contains(out, k.domain) {
			out = append(out, k.domain)
		}
	}
	slices.Sort(out)
	return out
}

// Report returns the report on domain for the period from start to end
// and starts counting afresh; nil when no session was recorded. org and
// contact name the reporting organization and its address (§4.4).
func (r *TLSRecorder) Report(domain string, start, end time.Time, org, contact string) *TLSReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := &TLSReport{
		OrganizationName: org,
		DateRange:        TLSReportRange{Start: start.UTC(), End: end.UTC()},
		ContactInfo:      contact,
		// A msg-id's form, so it can go in a report mail's Subject (§5.3).
		ReportID: fmt.Sprintf("%s.%s@%s", start.UTC().Format("20060102T150405Z"), domain, contactDomain(contact)),
	}
	var keys []tlsKey
	for k := range r.pols {
		if k.domain == domain {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b tlsKey) int { return strings.Compare(a.typ+"\x00"+a.host, b.typ+"\x00"+b.host) })
	for _, k := range keys {
		c := r.pols[k]
		delete(r.pols, k)
		ps := TLSPolicyStat{Policy: c.policy, Summary: TLSSummary{Successful: c.ok, Failed: c.bad}}
		for d, n := range c.fails {
			d.FailedSessionCount = n
			ps.FailureDetails = append(ps.FailureDetails, d)
		}
		slices.SortFunc(ps.FailureDetails, func(a, b TLSFailureDetail) int {
			return strings.Compare(a.ResultType+a.ReceivingMXHostname+a.FailureReasonCode, b.ResultType+b.ReceivingMXHostname+b.FailureReasonCode)
		})
		rep.Policies = append(rep.Policies, ps)
	}
	if len(rep.Policies) == 0 {
		return nil
	}
	return rep
}

func contactDomain(addr string) string {
	if _, d, ok := strings.Cut(addr, "@"); ok {
		return d
	}
	return "localhost"
}

// lines returns the policy as the policy-string of a report: its lines.
func (p *stsPolicy) lines() []string {
	l := []string{"version: STSv1", "mode: " + p.mode}
	for _, mx := range p.mx {
		l = append(l, "mx: "+mx)
	}
	return append(l, fmt.Sprintf("max_age: %d", int64(p.maxAge/time.Second)))
}
