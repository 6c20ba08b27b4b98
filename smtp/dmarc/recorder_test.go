package dmarc

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func recorderEval(t *testing.T, spfResult string) Observation {
	e := &Evaluator{Resolver: &zone{txt: map[string][]string{
		"_dmarc.example.com": {"v=DMARC1; p=reject; rua=mailto:d@example.com"},
		"_dmarc.norua.test":  {"v=DMARC1; p=reject"},
	}}}
	m := &Message{From: "example.com", SPF: SPFResult{Domain: "example.com", Result: spfResult}}
	return Observation{SourceIP: netip.MustParseAddr("192.0.2.1"), Message: m, Evaluation: e.Evaluate(context.Background(), m)}
}

// Evaluations are counted per UTC day and policy domain; Due gives the
// days that ended and forgets them, Flush the rest.
func TestRecorderPeriods(t *testing.T) {
	r := &Recorder{Metadata: ReportMetadata{OrgName: "mx.example.org", Email: "pm@example.org"}}
	d1 := time.Date(2026, 12, 7, 23, 59, 59, 0, time.UTC)
	d2 := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	r.RecordAt(d1, recorderEval(t, "pass"))
	r.RecordAt(d1, recorderEval(t, "fail"))
	r.RecordAt(d2, recorderEval(t, "pass"))
	// No rua: nothing recorded.
	e := &Evaluator{Resolver: &zone{txt: map[string][]string{"_dmarc.norua.test": {"v=DMARC1; p=reject"}}}}
	m := &Message{From: "norua.test"}
	r.RecordAt(d1, Observation{SourceIP: netip.MustParseAddr("192.0.2.1"), Message: m, Evaluation: e.Evaluate(context.Background(), m)})

	assert.Empty(t, r.Due(d1), "the day has not ended")
	due := r.Due(d2.Add(time.Minute))
	require.Len(t, due, 1)
	fb := due[0].Feedback
	assert.Equal(t, "example.com", fb.PolicyPublished.Domain)
	assert.Equal(t, DateRange{Begin: d2.Add(-24 * time.Hour).Unix(), End: d2.Unix() - 1}, fb.ReportMetadata.DateRange)
	require.Len(t, fb.Records, 2)
	assert.Equal(t, "pass", fb.Records[0].Row.PolicyEvaluated.Disposition)
	assert.Equal(t, "reject", fb.Records[1].Row.PolicyEvaluated.Disposition)
	assert.Empty(t, r.Due(d2.Add(time.Minute)), "given once")

	now := d2.Add(time.Hour)
	rest := r.Flush(now)
	require.Len(t, rest, 1)
	assert.Equal(t, DateRange{Begin: d2.Unix(), End: now.Unix()}, rest[0].Feedback.ReportMetadata.DateRange)
	assert.Empty(t, r.Flush(now))
}

// At most MaxPeriods periods are held: the oldest goes.
func TestRecorderMaxPeriods(t *testing.T) {
	r := &Recorder{Period: time.Hour, MaxPeriods: 2}
	t0 := time.Date(2026, 12, 7, 0, 30, 0, 0, time.UTC)
	for i := range 3 {
		r.RecordAt(t0.Add(time.Duration(i)*time.Hour), recorderEval(t, "pass"))
	}
	due := r.Due(t0.Add(5 * time.Hour))
	require.Len(t, due, 2)
	assert.Equal(t, t0.Add(time.Hour).Truncate(time.Hour).Unix(), due[0].Feedback.ReportMetadata.DateRange.Begin)
}

// The report message is RFC 9990 §3.5.2's: Subject, and the gzip XML as
// an application/gzip attachment with the file name, which parses back.
func TestReportWriteMessage(t *testing.T) {
	r := &Recorder{Metadata: ReportMetadata{OrgName: "mx.example.org", Email: "pm@example.org", ReportID: "id1"}}
	day := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	r.RecordAt(day, recorderEval(t, "pass"))
	reps := r.Flush(day)
	require.Len(t, reps, 1)
	var buf bytes.Buffer
	require.NoError(t, reps[0].WriteMessage(&buf, MessageOptions{From: "reports@example.org", To: "d@example.com", Receiver: "mx.example.org", Date: day}))
	msg, err := mail.ReadMessage(&buf)
	require.NoError(t, err)
	assert.Equal(t, "Report Domain: example.com Submitter: mx.example.org Report-ID: <id1.example.com.1796601600>", msg.Header.Get("Subject"))
	assert.Equal(t, "<id1.example.com.1796601600@mx.example.org>", msg.Header.Get("Message-ID"))
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	assert.Equal(t, "multipart/mixed", mt)
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var found bool
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		if p.Header.Get("Content-Type") != "application/gzip" {
			continue
		}
		found = true
		assert.Equal(t, reps[0].Filename("mx.example.org", true), p.FileName())
		fb, err := ParseReport(base64.NewDecoder(base64.StdEncoding, p))
		require.NoError(t, err)
		assert.Equal(t, reps[0].Feedback.Records, fb.Records)
	}
	assert.True(t, found)

	// No header injection through the options.
	err = reps[0].WriteMessage(io.Discard, MessageOptions{From: "reports@example.org", To: "d@example.com\r\nBcc: x@evil.test", Receiver: "mx.example.org"})
	assert.ErrorIs(t, err, ErrHeaderInjection)
	assert.Error(t, reps[0].WriteMessage(io.Discard, MessageOptions{From: "not an address", To: "d@example.com", Receiver: "mx.example.org"}))
}

func TestMailtoAddress(t *testing.T) {
	assert.Equal(t, "d@example.com", MailtoAddress("mailto:d@example.com"))
	assert.Equal(t, "d@example.com", MailtoAddress("mailto:d@example.com!10m"))
	assert.Equal(t, "", MailtoAddress("https://example.com/r"))
}
