package dmarc

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The sample report of RFC 9990 Appendix B.
func TestParseSampleReport(t *testing.T) {
	raw, err := os.ReadFile("testdata/rfc9990-sample.xml")
	require.NoError(t, err)
	fb, err := ParseReport(bytes.NewReader(raw))
	require.NoError(t, err)
	assert.Equal(t, "Sample Reporter", fb.ReportMetadata.OrgName)
	assert.Equal(t, "3v98abbp8ya9n3va8yr8oa3ya", fb.ReportMetadata.ReportID)
	assert.Equal(t, DateRange{302832000, 302918399}, fb.ReportMetadata.DateRange)
	assert.Equal(t, PolicyPublished{Domain: "example.com", P: "quarantine", SP: "none", NP: "none", Testing: "n", DiscoveryMethod: "treewalk"}, fb.PolicyPublished)
	require.Len(t, fb.Records, 1)
	r := fb.Records[0]
	assert.Equal(t, Row{SourceIP: "192.0.2.123", Count: 123, PolicyEvaluated: PolicyEvaluated{Disposition: "pass", DKIM: "pass", SPF: "fail"}}, r.Row)
	assert.Equal(t, Identifiers{HeaderFrom: "example.com", EnvelopeFrom: "example.com"}, r.Identifiers)
	assert.Equal(t, []DKIMAuthResult{{Domain: "example.com", Selector: "abc123", Result: "pass"}}, r.AuthResults.DKIM)
	assert.Equal(t, []SPFAuthResult{{Domain: "example.com", Result: "fail"}}, r.AuthResults.SPF)

	// Compressed as reports are mailed (RFC 9990 §3.5.2).
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	fb2, err := ParseReport(&gz)
	require.NoError(t, err)
	assert.Equal(t, fb, fb2)
	var zb bytes.Buffer
	zipw := zip.NewWriter(&zb)
	f, _ := zipw.Create("report.xml")
	f.Write(raw)
	zipw.Close()
	fb3, err := ParseReport(&zb)
	require.NoError(t, err)
	assert.Equal(t, fb, fb3)
}

// An RFC 7489 report has no namespace and a pct element.
func TestParseRFC7489Report(t *testing.T) {
	fb, err := ParseReport(strings.NewReader(`<?xml version="1.0" encoding="UTF-8" ?>
<feedback>
  <report_metadata><org_name>google.com</org_name><email>noreply-dmarc-support@google.com</email>
    <report_id>123</report_id><date_range><begin>1</begin><end>2</end></date_range></report_metadata>
  <policy_published><domain>example.com</domain><adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct></policy_published>
  <record><row><source_ip>2001:db8::1</source_ip><count>2</count>
    <policy_evaluated><disposition>none</disposition><dkim>fail</dkim><spf>pass</spf></policy_evaluated></row>
    <identifiers><header_from>example.com</header_from></identifiers>
    <auth_results><spf><domain>example.com</domain><result>pass</result></spf></auth_results></record>
</feedback>`))
	require.NoError(t, err)
	assert.Equal(t, "100", fb.PolicyPublished.Pct)
	assert.Equal(t, int64(2), fb.Records[0].Row.Count)
}

func TestParseReportBounds(t *testing.T) {
	for name, doc := range map[string]string{
		"not feedback": `<html></html>`,
		"no records":   `<feedback><report_metadata><org_name>a</org_name><report_id>1</report_id></report_metadata><policy_published><domain>d</domain></policy_published></feedback>`,
		"deep":         `<feedback><record>` + strings.Repeat("<x>", 100) + strings.Repeat("</x>", 100) + `</record></feedback>`,
		"unclosed":     `<feedback><record>`,
		"two roots":    `<feedback></feedback><feedback></feedback>`,
		"wrong ns":     `<feedback xmlns="urn:other"></feedback>`,
		"entity":       `<!DOCTYPE x [<!ENTITY a "aaaa">]><feedback>&a;</feedback>`,
	} {
		_, err := ParseReport(strings.NewReader(doc))
		assert.Error(t, err, name)
	}
	// Past the size limit, without reading it all.
	big := strings.NewReader("<feedback>" + strings.Repeat("<record></record>", 1<<16))
	_, err := parseReport(big, 1<<16)
	assert.ErrorIs(t, err, ErrReportTooLarge)
	// A gzip bomb stops at the limit too.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("<feedback>"))
	zw.Write(bytes.Repeat([]byte(" "), 1<<20))
	zw.Close()
	_, err = parseReport(&gz, 1<<16)
	assert.ErrorIs(t, err, ErrReportTooLarge)
}

// Reports built from observations parse back to what was observed.
func TestAggregatorRoundTrip(t *testing.T) {
	z := &zone{txt: map[string][]string{"_dmarc.example.com": {"v=DMARC1; p=reject; t=y; rua=mailto:dmarc@example.com"}, "_dmarc.quiet.example": {"v=DMARC1; p=reject"}}}
	e := &Evaluator{Resolver: z}
	var agg Aggregator
	obs := func(ip, spfDomain string, dkim []DKIMResult, from string) {
		m := &Message{From: from, SPF: SPFResult{Domain: spfDomain, Result: "pass"}, DKIM: dkim}
		agg.Add(Observation{SourceIP: netip.MustParseAddr(ip), Message: m, Evaluation: e.Evaluate(context.Background(), m)})
	}
	for range 3 {
		obs("192.0.2.1", "example.com", []DKIMResult{{Domain: "example.com", Selector: "s1", Result: "pass"}}, "example.com")
	}
	obs("198.51.100.9", "spammer.example", nil, "example.com")
	obs("198.51.100.9", "x.quiet.example", nil, "quiet.example") // no rua: not reported

	begin := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	reports := agg.Reports(ReportMetadata{OrgName: "posthorn test", Email: "postmaster@receiver.example", ReportID: "r"}, begin, begin.Add(24*time.Hour-time.Second))
	require.Len(t, reports, 1)
	assert.Equal(t, []string{"mailto:dmarc@example.com"}, reports[0].RUA)
	var buf bytes.Buffer
	require.NoError(t, reports[0].Feedback.WriteXML(&buf))
	assert.Contains(t, buf.String(), `<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">`)
	fb, err := ParseReport(&buf)
	require.NoError(t, err, buf.String())
	assert.Equal(t, "r.example.com.1796601600", fb.ReportMetadata.ReportID)
	assert.Equal(t, PolicyPublished{Domain: "example.com", DiscoveryMethod: "treewalk", P: "reject", ADKIM: "r", ASPF: "r", FO: "0", Testing: "y"}, fb.PolicyPublished)
	require.Len(t, fb.Records, 2)
	assert.Equal(t, int64(3), fb.Records[0].Row.Count)
	assert.Equal(t, "pass", fb.Records[0].Row.PolicyEvaluated.Disposition)
	assert.Equal(t, []DKIMAuthResult{{Domain: "example.com", Selector: "s1", Result: "pass"}}, fb.Records[0].AuthResults.DKIM)
	fail := fb.Records[1]
	assert.Equal(t, "198.51.100.9", fail.Row.SourceIP)
	assert.Equal(t, PolicyEvaluated{Disposition: "quarantine", DKIM: "fail", SPF: "fail", Reasons: []PolicyReason{{Type: "policy_test_mode"}}}, fail.Row.PolicyEvaluated)
	assert.Equal(t, []SPFAuthResult{{Domain: "spammer.example", Scope: "mfrom", Result: "pass"}}, fail.AuthResults.SPF)

	assert.Empty(t, agg.Reports(ReportMetadata{}, begin, begin), "a new period starts empty")
}

// RFC 9990 §4: external report destinations must confirm.
func TestReportDestinations(t *testing.T) {
	z := &zone{txt: map[string][]string{
		"_dmarc.blue.example.com":                          {"v=DMARC1; p=none"},
		"_dmarc.example.com":                               {"v=DMARC1; p=none"},
		"blue.example.com._report._dmarc.red.example.net":  {"v=DMARC1"},
		"blue.example.com._report._dmarc.over.example.net": {"v=DMARC1; rua=mailto:other@over.example.net"},
		"blue.example.com._report._dmarc.evil.example.net": {"v=DMARC1; rua=mailto:victim@victim.example"},
	}, fail: map[string]bool{"blue.example.com._report._dmarc.broken.example": true}}
	e := &Evaluator{Resolver: z}
	ctx := context.Background()
	got, err := e.ReportDestinations(ctx, "blue.example.com", []string{
		"mailto:own@example.com",             // same Organizational Domain
		"mailto:reports@red.example.net",     // confirmed
		"mailto:reports@over.example.net",    // confirmed, overridden
		"mailto:reports@evil.example.net",    // override to another host: dropped
		"mailto:reports@unconfirmed.example", // no record: dropped
		"https://red.example.net/dmarc",      // host of an https URI
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"mailto:own@example.com", "mailto:reports@red.example.net", "mailto:other@over.example.net", "https://red.example.net/dmarc"}, got)
	_, err = e.ReportDestinations(ctx, "blue.example.com", []string{"mailto:r@broken.example"})
	assert.Error(t, err, "a temporary failure is reported, to retry")
}

func TestReportMessageParts(t *testing.T) {
	r := Report{Feedback: &Feedback{ReportMetadata: ReportMetadata{ReportID: "1721054318-example.com@example.org", DateRange: DateRange{1013662812, 1013749130}},
		PolicyPublished: PolicyPublished{Domain: "example.com"}, Records: []ReportRecord{{Row: Row{SourceIP: "192.0.2.1", Count: 1}}}}}
	assert.Equal(t, "mail.receiver.example!example.com!1013662812!1013749130.xml.gz", r.Filename("mail.receiver.example", true))
	assert.Equal(t, "Report Domain: example.com Submitter: mail.receiver.example Report-ID: <1721054318-example.com@example.org>", r.Subject("mail.receiver.example"))
	var buf bytes.Buffer
	require.NoError(t, r.WriteGzip(&buf))
	r.Feedback.ReportMetadata.OrgName = "x"
	_, err := ParseReport(&buf)
	assert.Error(t, err, "org_name was empty when written")
}
