package dmarc_test

import (
	"bytes"
	"context"
	"fmt"
	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/posthorn/posthorn/smtp/smtptest"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/posthorn/posthorn/smtp/dmarc"
	"github.com/posthorn/posthorn/smtp/spf"
)

// records is a stand-in DNS for the example; a server leaves Resolver nil
// and gets the system's resolvers through posthorn's caching client.
type records map[string][]string

func (r records) LookupTXT(ctx context.Context, name string) ([]string, error) {
	if txt, ok := r[name]; ok {
		return txt, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}
func (r records) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}
func (r records) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}
func (r records) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	return nil, &net.DNSError{Err: "no such host", Name: addr, IsNotFound: true}
}

// Checking an inbound message: SPF at MAIL FROM, DKIM while DATA streams
// (here given as its result), then DMARC on the From domain.
func ExampleEvaluator_Evaluate() {
	dns := records{
		"bounces.example.com": {"v=spf1 ip4:192.0.2.0/24 -all"},
		"_dmarc.example.com":  {"v=DMARC1; p=reject; rua=mailto:dmarc@example.com"},
	}
	ctx := context.Background()
	client := netip.MustParseAddr("192.0.2.10")

	// At MAIL FROM:<alerts@bounces.example.com>.
	checker := &spf.Checker{Resolver: dns, Receiver: "mx.example.org"}
	spfOutcome := checker.CheckMailFrom(ctx, client, "mail.example.com", "alerts@bounces.example.com")

	// After DATA: the From field's domain and the DKIM verifier's results.
	author, err := dmarc.AuthorDomain(`"Example Alerts" <alerts@example.com>`)
	if err != nil {
		fmt.Println(err)
		return
	}
	ev := (&dmarc.Evaluator{Resolver: dns}).Evaluate(ctx, &dmarc.Message{
		From: author,
		SPF:  dmarc.SPFResult{Domain: spfOutcome.Domain, Result: string(spfOutcome.Result)},
		DKIM: []dmarc.DKIMResult{{Domain: "esp.example.net", Selector: "s1", Result: "pass"}},
	})
	fmt.Println("spf:", spfOutcome.Result)
	fmt.Println("dmarc:", ev.Result, "spf aligned:", ev.SPFAligned, "dkim aligned:", ev.DKIMAligned)
	fmt.Println("disposition:", ev.Disposition)
	// Output:
	// spf: pass
	// dmarc: pass spf aligned: true dkim aligned: false
	// disposition: pass
}

// Publishing a policy: the TXT record to put at _dmarc.<domain>.
func ExampleRecord_String() {
	rec := &dmarc.Record{
		Policy:            dmarc.PolicyQuarantine,
		NonexistentPolicy: dmarc.PolicyReject,
		RUA:               []string{"mailto:dmarc-reports@example.com"},
	}
	fmt.Printf("_dmarc.example.com. IN TXT %q\n", rec.String())
	// Output: _dmarc.example.com. IN TXT "v=DMARC1; p=quarantine; np=reject; rua=mailto:dmarc-reports@example.com"
}

// Reading an aggregate report another receiver sent (the attachment of
// its report message, gzip or zip or plain XML).
func ExampleParseReport() {
	f, err := os.Open("testdata/rfc9990-sample.xml")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	fb, err := dmarc.ParseReport(f)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(fb.ReportMetadata.OrgName, "about", fb.PolicyPublished.Domain)
	for _, r := range fb.Records {
		fmt.Println(r.Row.SourceIP, r.Row.Count, "messages:", r.Row.PolicyEvaluated.Disposition,
			"dkim", r.Row.PolicyEvaluated.DKIM, "spf", r.Row.PolicyEvaluated.SPF)
	}
	// Output:
	// Sample Reporter about example.com
	// 192.0.2.123 123 messages: pass dkim pass spf fail
}

// Building the day's aggregate reports from the evaluations an MX made.
func ExampleAggregator() {
	dns := records{"_dmarc.example.com": {"v=DMARC1; p=reject; rua=mailto:dmarc@example.com"}}
	e := &dmarc.Evaluator{Resolver: dns}
	var agg dmarc.Aggregator
	for _, spfResult := range []string{"pass", "pass", "fail"} {
		m := &dmarc.Message{From: "example.com", SPF: dmarc.SPFResult{Domain: "example.com", Result: spfResult}}
		agg.Add(dmarc.Observation{SourceIP: netip.MustParseAddr("192.0.2.1"), Message: m, Evaluation: e.Evaluate(context.Background(), m)})
	}
	day := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	for _, r := range agg.Reports(dmarc.ReportMetadata{OrgName: "mx.example.org", Email: "postmaster@example.org"}, day, day.Add(24*time.Hour-time.Second)) {
		fmt.Println(r.RUA, r.Filename("mx.example.org", true))
		for _, rec := range r.Feedback.Records {
			fmt.Println(rec.Row.Count, rec.Row.PolicyEvaluated.Disposition)
		}
	}
	// Output:
	// [mailto:dmarc@example.com] mx.example.org!example.com!1796601600!1796687999.xml.gz
	// 2 pass
	// 1 reject
}

// Sending the aggregate reports of the day that ended: record each
// evaluation as it is made (smtpserver.InboundAuth.Reports does it for
// an MX), ask for the due reports after midnight UTC, verify each
// report's destinations and mail the report to them with smtpclient.
func ExampleRecorder() {
	mx := smtptest.NewServer(nil) // stands in for the report consumer's MX
	defer mx.Close()
	dns := records{"_dmarc.example.com": {"v=DMARC1; p=reject; rua=mailto:dmarc@example.com"}}
	e := &dmarc.Evaluator{Resolver: dns}
	rec := &dmarc.Recorder{Metadata: dmarc.ReportMetadata{OrgName: "mx.example.org", Email: "postmaster@example.org", ReportID: "mx1"}}

	morning := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	for _, spfResult := range []string{"pass", "pass", "fail"} {
		m := &dmarc.Message{From: "example.com", SPF: dmarc.SPFResult{Domain: "example.com", Result: spfResult}}
		rec.RecordAt(morning, dmarc.Observation{SourceIP: netip.MustParseAddr("192.0.2.1"), Message: m, Evaluation: e.Evaluate(context.Background(), m)})
	}

	ctx := context.Background()
	cl, err := smtpclient.Dial(ctx, mx.Addr, mx.ClientOptions())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cl.Quit(ctx)
	next := time.Date(2026, 12, 8, 0, 5, 0, 0, time.UTC)
	for _, r := range rec.Due(next) {
		dests, err := e.ReportDestinations(ctx, r.Feedback.PolicyPublished.Domain, r.RUA)
		if err != nil {
			continue // temporary DNS failure: try again later
		}
		for _, uri := range dests {
			to := dmarc.MailtoAddress(uri)
			if to == "" {
				continue
			}
			var msg bytes.Buffer
			if err := r.WriteMessage(&msg, dmarc.MessageOptions{From: "dmarc-reports@example.org", To: to, Receiver: "mx.example.org", Date: next}); err != nil {
				fmt.Println(err)
				continue
			}
			env := &smtpclient.Envelope{From: "dmarc-reports@example.org", To: []string{to}}
			if _, err := cl.Send(ctx, env, bytes.NewReader(msg.Bytes()), int64(msg.Len())); err != nil {
				fmt.Println(err)
			}
		}
	}
	for _, m := range mx.Messages() {
		fmt.Println(m.To, m.Subject)
		for _, a := range m.Attachments {
			fmt.Println(a.Filename)
		}
	}
	// Output:
	// [dmarc@example.com] Report Domain: example.com Submitter: mx.example.org Report-ID: <mx1.example.com.1796601600>
	// mx.example.org!example.com!1796601600!1796687999.xml.gz
}

// A failure report (RFC 9991) for a message that failed DMARC, when the
// author domain's policy asks for one (ruf=, fo=): built from the
// evaluation, completed with what the receiver knows, written as the
// message to send to the ruf= address.
func ExampleEvaluation_FailureReport() {
	dns := records{"_dmarc.example.com": {"v=DMARC1; p=reject; ruf=mailto:failures@example.com"}}
	e := &dmarc.Evaluator{Resolver: dns}
	m := &dmarc.Message{From: "example.com", SPF: dmarc.SPFResult{Domain: "elsewhere.example", Result: "pass"}}
	ev := e.Evaluate(context.Background(), m)
	if !ev.FailureReportWanted() {
		return
	}
	fr := ev.FailureReport("mx.example.org", m)
	fr.SourceIP = netip.MustParseAddr("192.0.2.7")
	fr.DeliveryResult = "reject"
	fr.Original, fr.HeadersOnly = []byte("From: ceo@example.com\r\nSubject: Urgent\r\n\r\n"), true
	var msg bytes.Buffer
	to := dmarc.MailtoAddress(ev.Record.RUF[0])
	if err := fr.WriteMessage(&msg, dmarc.FailureMessageOptions{From: "dmarc-reports@example.org", To: to}); err != nil {
		fmt.Println(err)
		return
	}
	back, _ := dmarc.ParseFailureReport(&msg)
	fmt.Println(to, back.AuthFailure, back.IdentityAlignment, back.SourceIP)
	fmt.Println(back.AuthenticationResults)
	// Output:
	// failures@example.com dmarc [dkim spf] 192.0.2.7
	// mx.example.org; spf=pass smtp.mailfrom=elsewhere.example; dmarc=fail header.from=example.com policy.dmarc=reject
}
