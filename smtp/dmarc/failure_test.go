package dmarc

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFailureReportWanted(t *testing.T) {
	for _, tc := range []struct {
		rec       string
		spf, dkim bool
		res       Result
		want      bool
		name      string
	}{
		{"v=DMARC1; p=reject; ruf=mailto:f@example.com", false, false, Fail, true, "fo=0 both failed"},
		{"v=DMARC1; p=reject; ruf=mailto:f@example.com", true, false, Pass, false, "fo=0 one passed"},
		{"v=DMARC1; p=reject; ruf=mailto:f@example.com; fo=1", true, false, Pass, true, "fo=1 one failed"},
		{"v=DMARC1; p=reject; ruf=mailto:f@example.com; fo=1:d", true, true, Pass, false, "fo=1 all passed"},
		{"v=DMARC1; p=reject", false, false, Fail, false, "no ruf"},
		{"v=DMARC1; p=reject; psd=y; ruf=mailto:f@example.com", false, false, Fail, false, "psd=y (RFC 9991 §2)"},
		{"v=DMARC1; p=reject; ruf=mailto:f@example.com", false, false, TempError, false, "temperror"},
	} {
		rec, err := ParseRecord(tc.rec)
		require.NoError(t, err)
		ev := &Evaluation{Record: rec, SPFAligned: tc.spf, DKIMAligned: tc.dkim, Result: tc.res}
		assert.Equal(t, tc.want, ev.FailureReportWanted(), tc.name)
	}
}

// A report built from an evaluation and written as a message parses back
// to the same fields, the original message included.
func TestFailureReportRoundTrip(t *testing.T) {
	e := &Evaluator{Resolver: &zone{txt: map[string][]string{"_dmarc.example.com": {"v=DMARC1; p=reject; ruf=mailto:f@example.com"}}}}
	m := &Message{From: "example.com", SPF: SPFResult{Domain: "elsewhere.example", Result: "pass"},
		DKIM: []DKIMResult{{Domain: "example.com", Selector: "s1", Result: "fail"}}}
	ev := e.Evaluate(context.Background(), m)
	require.Equal(t, Fail, ev.Result)
	require.True(t, ev.FailureReportWanted())
	fr := ev.FailureReport("mx.example.org", m)
	assert.Equal(t, []string{"dkim", "spf"}, fr.IdentityAlignment)
	assert.Equal(t, "example.com", fr.DKIMDomain)
	assert.Equal(t, "s1", fr.DKIMSelector)
	assert.Contains(t, fr.AuthenticationResults, "dmarc=fail")
	fr.SourceIP, fr.SourcePort = netip.MustParseAddr("192.0.2.9"), 2525
	fr.OriginalMailFrom, fr.OriginalRcptTo = "x@elsewhere.example", "u@example.org"
	fr.ArrivalDate = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	fr.DeliveryResult = "reject"
	fr.Original = []byte("From: a@example.com\r\nSubject: hi\r\n\r\nbody \xff binary\r\n")

	var buf bytes.Buffer
	require.NoError(t, fr.WriteMessage(&buf, FailureMessageOptions{From: "reports@example.org", To: "f@example.com", Date: fr.ArrivalDate, MessageID: "fr1@example.org"}))
	got, err := ParseFailureReport(&buf)
	require.NoError(t, err)
	fr.UserAgent = "posthorn"
	got.ArrivalDate = got.ArrivalDate.UTC()
	assert.Equal(t, fr, got)

	// Header only.
	fr.Original, fr.HeadersOnly = []byte("From: a@example.com\r\n\r\n"), true
	buf.Reset()
	require.NoError(t, fr.WriteMessage(&buf, FailureMessageOptions{From: "reports@example.org", To: "f@example.com"}))
	got, err = ParseFailureReport(&buf)
	require.NoError(t, err)
	assert.True(t, got.HeadersOnly)
	assert.Equal(t, fr.Original, got.Original)

	// No injection through any field.
	fr.ReportedDomain = "example.com\r\nBcc: x@evil.test"
	assert.ErrorIs(t, fr.WriteMessage(&buf, FailureMessageOptions{From: "reports@example.org", To: "f@example.com"}), ErrHeaderInjection)
}

// A report another receiver wrote, with folded fields and comments.
func TestParseFailureReport(t *testing.T) {
	f, err := os.Open("testdata/failure-report.eml")
	require.NoError(t, err)
	defer f.Close()
	fr, err := ParseFailureReport(f)
	require.NoError(t, err)
	assert.Equal(t, "dmarc", fr.AuthFailure)
	assert.Equal(t, "ExampleFilter/2.0", fr.UserAgent)
	assert.Equal(t, []string{"dkim", "spf"}, fr.IdentityAlignment)
	assert.Equal(t, "sender.example", fr.DKIMDomain)
	assert.Equal(t, netip.MustParseAddr("198.51.100.7"), fr.SourceIP)
	assert.Equal(t, 40123, fr.SourcePort)
	assert.Equal(t, "reject", fr.DeliveryResult)
	assert.Contains(t, fr.AuthenticationResults, "dmarc=fail header.from=sender.example")
	assert.True(t, fr.HeadersOnly)
	assert.Contains(t, string(fr.Original), "Subject: Invoice")

	_, err = ParseFailureReport(strings.NewReader("From: a@b.example\r\nContent-Type: text/plain\r\n\r\nhi\r\n"))
	assert.ErrorIs(t, err, ErrNotFailureReport)
	big := "From: a@b.example\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=x\r\n\r\n--x\r\n\r\n" + strings.Repeat("a", MaxFailureReportSize)
	_, err = ParseFailureReport(strings.NewReader(big))
	assert.ErrorIs(t, err, ErrReportTooLarge)
}
