package smtpqueue

import (
	"bytes"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/smtp/smtptest"
)

// TLS-RPT: a session with opportunistic TLS counts as a success under
// no-policy-found; under an enforced MTA-STS policy a certificate that does
// not name the MX is a certificate-host-mismatch; the report round-trips
// through gzip and ParseTLSReport.
func TestTLSRPT(t *testing.T) {
	rec := &TLSRecorder{}
	txt := &stsTXT{txt: map[string]string{"_mta-sts.two.test": "v=STSv1; id=1"}}
	ps := newPolicyServer(t)
	ps.set(200, "version: STSv1\nmode: enforce\nmx: mx.two.test\nmax_age: 86400\n")
	roots := smtptest.NewServer(t).ClientTLSConfig().RootCAs
	var h *harness
	h = newHarness(t, []string{"one.test", "two.test", "sender.test"}, func(o *Options) {
		mx := o.Transport.(*MX)
		mx.TLSRPT = rec
		// Trusts the test CA but checks the MX name: the test certificate
		// names only localhost.
		mx.Options.Options.TLSConfig = &tls.Config{RootCAs: roots}
		mx.STS = &MTASTS{Resolver: txt, HTTPClient: ps.client(), Now: func() time.Time { return h.clock.Now() }}
	})
	h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@one.test"}}, testMsg)
	id := h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@two.test"}}, testMsg)
	h.attempted(id, 1)
	h.eventually("one.test delivered", func() bool { return len(h.srv("one.test").Messages()) == 1 })
	if mi, _ := h.q.Get(id); mi.Recipients[0].Status != StatusPending {
		t.Fatalf("two.test: %+v", mi)
	}
	if d := rec.Domains(); len(d) != 2 || d[0] != "one.test" || d[1] != "two.test" {
		t.Fatalf("domains %v", d)
	}
	start := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	one := rec.Report("one.test", start, start.Add(24*time.Hour), "Example Org", "tlsrpt@queue.test")
	if one == nil || len(one.Policies) != 1 || one.Policies[0].Policy.Type != "no-policy-found" || one.Policies[0].Summary.Successful != 1 {
		t.Fatalf("one.test: %+v", one)
	}
	two := rec.Report("two.test", start, start.Add(24*time.Hour), "Example Org", "tlsrpt@queue.test")
	if two == nil || len(two.Policies) != 1 {
		t.Fatalf("two.test: %+v", two)
	}
	p := two.Policies[0]
	if p.Policy.Type != "sts" || p.Summary.Failed != 1 || p.Summary.Successful != 0 || len(p.FailureDetails) != 1 ||
		p.FailureDetails[0].ResultType != "certificate-host-mismatch" || p.FailureDetails[0].ReceivingMXHostname != "mx.two.test" ||
		!strings.Contains(strings.Join(p.Policy.String, "\n"), "mode: enforce") {
		t.Errorf("two.test policy: %+v", p)
	}
	gz, err := two.Gzip()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseTLSReport(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	if back.ReportID != two.ReportID || back.Policies[0].FailureDetails[0].ResultType != "certificate-host-mismatch" || !back.DateRange.End.Equal(start.Add(24*time.Hour)) {
		t.Errorf("round trip: %+v", back)
	}
	if rec.Report("two.test", start, start, "", "") != nil {
		t.Error("counts not reset by Report")
	}
}

// The example report of RFC 8460 §4.5 (abridged) parses.
func TestParseTLSReportRFCExample(t *testing.T) {
	rep, err := ParseTLSReport(strings.NewReader(`{
  "organization-name": "Company-X",
  "date-range": {"start-datetime": "2016-04-01T00:00:00Z", "end-datetime": "2016-04-01T23:59:59Z"},
  "contact-info": "sts-reporting@company-x.example",
  "report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
  "policies": [{
    "policy": {"policy-type": "sts", "policy-string": ["version: STSv1","mode: testing","mx: *.mail.company-y.example","max_age: 86400"],
      "policy-domain": "company-y.example", "mx-host": ["*.mail.company-y.example"]},
    "summary": {"total-successful-session-count": 5326, "total-failure-session-count": 303},
    "failure-details": [{"result-type": "certificate-expired", "sending-mta-ip": "2001:db8:abcd:0012::1",
      "receiving-mx-hostname": "mx1.mail.company-y.example", "failed-session-count": 100}]
  }]
}`))
	if err != nil {
		t.Fatal(err)
	}
	p := rep.Policies[0]
	if p.Summary.Successful != 5326 || p.FailureDetails[0].FailedSessionCount != 100 || p.FailureDetails[0].SendingMTAIP != "2001:db8:abcd:0012::1" {
		t.Errorf("%+v", p)
	}
	for _, bad := range []string{"", "{}", `{"report-id":"x","policies":[]}`, "\x1f\x8b garbage"} {
		if _, err := ParseTLSReport(strings.NewReader(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
