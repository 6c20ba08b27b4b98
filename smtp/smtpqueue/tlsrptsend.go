package smtpqueue

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/posthorn/posthorn/mime"
	"github.com/posthorn/posthorn/smtp"
)

// KindTLSReport marks a TLS-RPT report the queue mails for a TLSReporter.
// It is delivered despite MTA-STS, DANE and MX.DomainTLS failures, with
// opportunistic TLS, and its sessions are not recorded for the next report
// (RFC 8460 §3, §5.3).
const KindTLSReport Kind = "tls-report"

// TLSReporter sends the daily aggregate reports a TLSRecorder builds to the
// domains that ask for them (RFC 8460 §3): for each domain with sessions
// recorded, it reads the "_smtp._tls" TXT record and sends the report,
// gzip-compressed, to each of its rua URIs: mailto: by a multipart/report
// message queued in Queue (§5.3), https: by a POST of
// application/tlsrpt+gzip (§5.4). Reports by mail must carry a DKIM
// signature of the reporting domain (§3): give the queue Options.Sign
// (DKIM); without it mailto: URIs are skipped.
//
// Call Send for a period, or let Run send yesterday's reports shortly
// after each midnight UTC. A report no URI takes is tried again for a day
// (RFC 8460 §5.5; RetryFailed).
type TLSReporter struct {
	// Recorder holds the sessions; Send takes each domain's counts out of
	// it.
	Recorder *TLSRecorder
	// Queue sends the reports by mail and tells the time.
	Queue *Queue
	// From is the reports' sender and contact-info
	// ("tlsrpt-noreply@example.org"); its domain is the submitter.
	From string
	// OrganizationName goes in each report; empty means From's domain.
	OrganizationName string
	// Resolver looks up _smtp._tls records; nil means
	// net.DefaultResolver.
	Resolver interface {
		LookupTXT(ctx context.Context, name string) ([]string, error)
	}
	// HTTPClient posts reports; nil means a client with a 30 s timeout.
	// Redirects are not followed.
	HTTPClient *http.Client
	// Logger records each report sent or not sent; nil means the queue's.
	Logger *slog.Logger

	mu      sync.Mutex
	retries []*reportRetry
}

// reportRetry is a report no rua URI took yet, tried again with backoff
// for a day (RFC 8460 §5.5).
type reportRetry struct {
	domain, submitter, name string
	rua                     []string
	rep                     *TLSReport
	gz                      []byte
	first, next             time.Time
	tries                   int
}

const (
	reportRetryFirst = 10 * time.Minute
	reportRetryFor   = 24 * time.Hour
	maxReportRetries = 1000 // reports waiting at once
)

// maxRUA bounds the URIs taken from one record.
const maxRUA = 10

// parseTLSRPTRecord returns the rua URIs of a domain's _smtp._tls TXT
// records (RFC 8460 §3): exactly one record must start with "v=TLSRPTv1"
// and a field delimiter, and have a rua field.
func parseTLSRPTRecord(txts []string) ([]string, bool) {
	var rec string
	n := 0
	for _, t := range txts {
		rest, ok := strings.CutPrefix(t, "v=TLSRPTv1")
		if !ok || !strings.HasPrefix(strings.TrimLeft(rest, " \t"), ";") {
			continue
		}
		n++
		rec = rest
	}
	if n != 1 || len(rec) > 4096 {
		return nil, false
	}
	var rua []string
	for _, f := range strings.Split(rec, ";") {
		k, v, ok := strings.Cut(strings.Trim(f, " \t"), "=")
		if !ok || k != "rua" {
			continue
		}
		for _, u := range strings.Split(v, ",") {
			u = strings.Trim(u, " \t")
			if u != "" && len(rua) < maxRUA {
				rua = append(rua, u)
			}
		}
	}
	return rua, len(rua) > 0
}

func (r *TLSReporter) log() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return r.Queue.log
}

// Run sends the previous day's reports after each midnight UTC (by the
// queue's clock) until ctx is done.
func (r *TLSReporter) Run(ctx context.Context) error {
	for {
		now := r.Queue.clock.Now().UTC()
		midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).Add(24 * time.Hour)
		wake := midnight
		if t, ok := r.nextRetry(); ok && t.Before(wake) {
			wake = t
		}
		select {
		case <-r.Queue.clock.After(wake.Sub(now)):
		case <-ctx.Done():
			return ctx.Err()
		}
		if wake.Equal(midnight) {
			if _, err := r.Send(ctx, midnight.Add(-24*time.Hour), midnight); err != nil {
				r.log().Warn("smtpqueue: TLS reports", "err", err)
			}
		}
		r.RetryFailed(ctx)
	}
}

func (r *TLSReporter) nextRetry() (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var t time.Time
	for _, rr := range r.retries {
		if t.IsZero() || rr.next.Before(t) {
			t = rr.next
		}
	}
	return t, !t.IsZero()
}

// RetryFailed tries again the reports that Send could not deliver and
// whose time has come: after 10 minutes, doubling, for 24 hours from the
// first attempt (RFC 8460 §5.5), then they are dropped. It returns how
// many were delivered. Run calls it; call it yourself when you call Send.
func (r *TLSReporter) RetryFailed(ctx context.Context) int {
	now := r.Queue.clock.Now()
	r.mu.Lock()
	var due, kept []*reportRetry
	for _, rr := range r.retries {
		if !rr.next.After(now) {
			due = append(due, rr)
		} else {
			kept = append(kept, rr)
		}
	}
	r.retries = kept
	r.mu.Unlock()
	sent := 0
	for _, rr := range due {
		var errs []error
		ok := false
		for _, u := range rr.rua {
			if err := r.deliver(ctx, u, rr.rep, rr.submitter, rr.name, rr.gz); err != nil {
				errs = append(errs, err)
				continue
			}
			ok = true
			r.log().Info("smtpqueue: TLS report sent on retry", "domain", rr.domain, "to", u, "report-id", rr.rep.ReportID)
		}
		if ok {
			sent++
			continue
		}
		rr.tries++
		rr.next = now.Add(reportRetryFirst << min(rr.tries, 8))
		if rr.next.Sub(rr.first) > reportRetryFor {
			r.log().Warn("smtpqueue: TLS report not delivered in a day; dropped", "domain", rr.domain, "report-id", rr.rep.ReportID, "err", errors.Join(errs...))
			continue
		}
		r.mu.Lock()
		r.retries = append(r.retries, rr)
		r.mu.Unlock()
	}
	return sent
}

// Send builds the report on each recorded domain for the period from
// start to end and sends it where the domain's _smtp._tls record says. It
// returns the number of reports one of whose URIs took it (§3: a report
// counts as delivered once one endpoint accepts it; by mail, once it is
// queued) and the errors of the others. The recorded sessions are
// consumed whether or not a report could be sent.
func (r *TLSReporter) Send(ctx context.Context, start, end time.Time) (int, error) {
	m, err := smtp.ParseMailbox(r.From)
	if err != nil {
		return 0, fmt.Errorf("smtpqueue: TLSReporter.From: %w", err)
	}
	submitter := strings.ToLower(m.Domain)
	org := r.OrganizationName
	if org == "" {
		org = submitter
	}
	res := r.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	sent := 0
	var errs []error
	for _, domain := range r.Recorder.Domains() {
		rep := r.Recorder.Report(domain, start, end, org, r.From)
		if rep == nil {
			continue
		}
		txts, err := res.LookupTXT(ctx, "_smtp._tls."+domain)
		rua, ok := parseTLSRPTRecord(txts)
		if err != nil || !ok {
			continue // the domain wants no reports
		}
		gz, err := rep.Gzip()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		// RFC 8460 §5.1: sender!policy-domain!begin!end!unique-id.json.gz
		name := fmt.Sprintf("%s!%s!%d!%d!%s.json.gz", submitter, domain, start.Unix(), end.Unix(), strings.ToLower(rand.Text()[:8]))
		var okOne bool
		var repErrs []error
		for _, u := range rua {
			if err := r.deliver(ctx, u, rep, submitter, name, gz); err != nil {
				repErrs = append(repErrs, fmt.Errorf("%s: %s: %w", domain, u, err))
				continue
			}
			okOne = true
			r.log().Info("smtpqueue: TLS report sent", "domain", domain, "to", u, "report-id", rep.ReportID)
		}
		if okOne {
			sent++
			continue
		}
		errs = append(errs, repErrs...)
		now := r.Queue.clock.Now()
		r.mu.Lock()
		if len(r.retries) < maxReportRetries {
			r.retries = append(r.retries, &reportRetry{domain: domain, submitter: submitter, name: name, rua: rua, rep: rep, gz: gz,
				first: now, next: now.Add(reportRetryFirst)})
		}
		r.mu.Unlock()
	}
	return sent, errors.Join(errs...)
}

func (r *TLSReporter) deliver(ctx context.Context, uri string, rep *TLSReport, submitter, name string, gz []byte) error {
	u, err := url.Parse(uri)
	if err != nil {
		return err
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return r.post(ctx, u.String(), gz)
	case "mailto":
		if r.Queue.opts.Sign == nil {
			// §3: a report without the reporting domain's DKIM signature
			// is ignored; sending it would only waste the receiver's time.
			return errors.New("not mailed: the queue signs no mail (Options.Sign)")
		}
		to, err := url.PathUnescape(u.Opaque)
		if err != nil {
			return err
		}
		if _, err := smtp.ParseMailbox(to); err != nil {
			return err
		}
		msg, err := r.reportMessage(rep, to, submitter, name, gz)
		if err != nil {
			return err
		}
		_, err = r.Queue.enqueue(ctx, &Envelope{From: r.From, To: []string{to}}, bytes.NewReader(msg), KindTLSReport)
		return err
	}
	return fmt.Errorf("unsupported URI scheme %q", u.Scheme)
}

// post sends the report by HTTPS POST (RFC 8460 §5.4); any 2xx is success.
func (r *TLSReporter) post(ctx context.Context, uri string, gz []byte) error {
	c := r.HTTPClient
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	nc := *c
	nc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, bytes.NewReader(gz))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/tlsrpt+gzip")
	resp, err := nc.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// reportMessage builds the report mail (RFC 8460 §5.3): multipart/report
// with report-type "tlsrpt", a text part and the gzipped report as
// application/tlsrpt+gzip, and the TLS-Report-Domain and
// TLS-Report-Submitter fields.
func (r *TLSReporter) reportMessage(rep *TLSReport, to, submitter, name string, gz []byte) ([]byte, error) {
	domain := rep.Policies[0].Policy.Domain
	var body bytes.Buffer
	mw := mime.NewMultipartWriter(&body)
	var h mime.Header
	now := r.Queue.clock.Now()
	for _, f := range [][2]string{
		{"From", r.From},
		{"To", to},
		{"Date", mime.FormatDate(now)},
		{"Subject", fmt.Sprintf("Report Domain: %s Submitter: %s Report-ID: <%s>", domain, submitter, rep.ReportID)},
		{"Message-ID", mime.NewMessageID(submitter)},
		{"TLS-Report-Domain", domain},
		{"TLS-Report-Submitter", submitter},
		{"MIME-Version", "1.0"},
		{"Content-Type", mw.ContentType("report", map[string]string{"report-type": "tlsrpt"})},
	} {
		if err := h.Add(f[0], f[1]); err != nil {
			return nil, err
		}
	}
	var text mime.Header
	text.Add("Content-Type", "text/plain; charset=us-ascii")
	w, err := mw.CreatePart(&text)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "This is an aggregate TLS report from %s on mail to %s,\r\nfrom %s to %s (RFC 8460).\r\n",
		submitter, domain, rep.DateRange.Start.Format(time.RFC3339), rep.DateRange.End.Format(time.RFC3339))
	var att mime.Header
	att.Add("Content-Type", "application/tlsrpt+gzip")
	att.Add("Content-Transfer-Encoding", "base64")
	att.Add("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	if w, err = mw.CreatePart(&att); err != nil {
		return nil, err
	}
	enc := mime.NewTransferEncoder(w, "base64", false)
	if _, err := enc.Write(gz); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if _, err := h.WriteTo(&out); err != nil {
		return nil, err
	}
	out.Write(body.Bytes())
	return out.Bytes(), nil
}

// noTLSPolicy marks the context of a delivery that ignores TLS policies.
type noTLSPolicy struct{}

// tlsPolicyExempt reports whether the delivery in ctx is a TLS report,
// which goes despite TLS policy failures and is not itself reported
// (RFC 8460 §3, §5.3).
func tlsPolicyExempt(ctx context.Context) bool {
	v, _ := ctx.Value(noTLSPolicy{}).(bool)
	return v
}
