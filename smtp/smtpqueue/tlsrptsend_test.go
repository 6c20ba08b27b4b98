package smtpqueue

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"io"
	stdmime "mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/smtp/dkim"
	"github.com/posthorn/posthorn/smtp/smtpclient"
)

// RFC 8460 §3: the _smtp._tls record.
func TestParseTLSRPTRecord(t *testing.T) {
	for _, c := range []struct {
		txts []string
		want []string
	}{
		{[]string{"v=TLSRPTv1; rua=mailto:a@b.test"}, []string{"mailto:a@b.test"}},
		{[]string{"v=TLSRPTv1;rua=mailto:a@b.test, https://r.test/x ;ext=1"}, []string{"mailto:a@b.test", "https://r.test/x"}},
		{[]string{"v=spf1 -all", "v=TLSRPTv1 ; rua=https://r.test/"}, []string{"https://r.test/"}},
		{[]string{"v=TLSRPTv1; rua=mailto:a@b.test", "v=TLSRPTv1; rua=mailto:c@d.test"}, nil}, // two records: none
		{[]string{"v=TLSRPTv10; rua=mailto:a@b.test"}, nil},
		{[]string{"v=TLSRPTv1; ruf=mailto:a@b.test"}, nil},
		{[]string{"rua=mailto:a@b.test; v=TLSRPTv1"}, nil},
		{nil, nil},
	} {
		got, ok := parseTLSRPTRecord(c.txts)
		if ok != (c.want != nil) || strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%q: %q %v, want %q", c.txts, got, ok, c.want)
		}
	}
}

// A daily report by mail (DKIM-signed multipart/report, §5.3) and by HTTPS
// POST (§5.4); the report mail goes despite the receiving domain's TLS
// policy, and its own session is not reported.
func TestTLSReporter(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	keyRec, err := dkim.KeyRecordFor(pub)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var posted [][]byte
	var ctypes []string
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posted = append(posted, b)
		ctypes = append(ctypes, r.Header.Get("Content-Type"))
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer hs.Close()

	rec := &TLSRecorder{}
	h := newHarness(t, []string{"one.test", "two.test", "three.test", "reports.test", "sender.test"}, func(o *Options) {
		o.Sign = DKIM(&dkim.SignOptions{Domain: "sender.test", Selector: "q1", Key: key})
		mx := o.Transport.(*MX)
		mx.TLSRPT = rec
		// reports.test demands verified TLS its server cannot give.
		mx.DomainTLS = func(d string) smtpclient.TLSPolicy {
			if d == "reports.test" {
				return smtpclient.TLSRequired
			}
			return smtpclient.TLSDefault
		}
	})
	for _, d := range []string{"one.test", "two.test", "three.test"} {
		h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@" + d}}, testMsg)
	}
	normal := h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@reports.test"}}, testMsg)
	h.attempted(normal, 1)
	h.eventually("deliveries", func() bool { return h.q.Stats().Queued == 1 })
	if mi, err := h.q.Get(normal); err != nil || mi.Recipients[0].Status != StatusPending {
		t.Fatalf("ordinary mail to reports.test not held back by its policy: %+v %v", mi, err)
	}
	h.q.Delete(normal)
	rec.Report("reports.test", time.Time{}, time.Now(), "", "x@y") // forget that session

	r := &TLSReporter{
		Recorder: rec,
		Queue:    h.q,
		From:     "tlsrpt-noreply@sender.test",
		Resolver: txtMap{
			"_smtp._tls.one.test": "v=TLSRPTv1; rua=mailto:tlsrpt@reports.test",
			"_smtp._tls.two.test": "v=TLSRPTv1; rua=" + hs.URL + "/tlsrpt",
			// three.test publishes no record: no report.
		},
		HTTPClient: hs.Client(),
	}
	start := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	end := start.Add(24 * time.Hour)
	n, err := r.Send(context.Background(), start, end)
	if n != 2 || err != nil {
		t.Fatalf("Send: %d sent, %v", n, err)
	}
	if d := rec.Domains(); len(d) != 0 {
		t.Errorf("sessions left after the reports: %v", d)
	}

	// HTTPS: one POST of application/tlsrpt+gzip.
	mu.Lock()
	if len(posted) != 1 || ctypes[0] != "application/tlsrpt+gzip" {
		t.Fatalf("%d posts, %q", len(posted), ctypes)
	}
	rep, err := ParseTLSReport(bytes.NewReader(posted[0]))
	mu.Unlock()
	if err != nil || rep.Policies[0].Policy.Domain != "two.test" || rep.Policies[0].Summary.Successful != 1 {
		t.Fatalf("posted report %+v %v", rep, err)
	}

	// Mail: delivered to reports.test in spite of its policy.
	got, err := h.srv("reports.test").WaitForMessages(waitCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	h.empty()
	raw := got[0].Raw
	v := dkim.NewVerifier(context.Background(), &dkim.VerifyOptions{Resolver: txtMap{"q1._domainkey.sender.test": keyRec}})
	v.Write(raw)
	v.Close()
	if res := v.Results(); len(res) != 1 || res[0].Status != dkim.Pass {
		t.Errorf("report not DKIM-signed: %+v", res)
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("TLS-Report-Domain") != "one.test" || m.Header.Get("TLS-Report-Submitter") != "sender.test" {
		t.Errorf("report fields: %v", m.Header)
	}
	if ok, _ := regexp.MatchString(`^Report Domain: one\.test Submitter: sender\.test Report-ID: <[^<>@ ]+@[^<>@ ]+>$`, m.Header.Get("Subject")); !ok {
		t.Errorf("Subject %q", m.Header.Get("Subject"))
	}
	mt, params, err := stdmime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "tlsrpt" {
		t.Fatalf("Content-Type %q", m.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	text, err := mr.NextPart()
	if err != nil || !strings.HasPrefix(text.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("first part: %v %v", text, err)
	}
	att, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	if att.Header.Get("Content-Type") != "application/tlsrpt+gzip" {
		t.Errorf("attachment type %q", att.Header.Get("Content-Type"))
	}
	// §5.1: sender!policy-domain!begin!end!unique-id.json.gz
	if ok, _ := regexp.MatchString(`^sender\.test!one\.test!1796515200!1796601600![a-z0-9]+\.json\.gz$`, att.FileName()); !ok {
		t.Errorf("filename %q", att.FileName())
	}
	rep, err = ParseTLSReport(base64.NewDecoder(base64.StdEncoding, att))
	if err != nil || rep.Policies[0].Policy.Domain != "one.test" || rep.ContactInfo != "tlsrpt-noreply@sender.test" {
		t.Fatalf("mailed report %+v %v", rep, err)
	}
	if d := rec.Domains(); len(d) != 0 {
		t.Errorf("the report's own session was recorded: %v", d)
	}
}

// Run sends the previous day's reports after midnight UTC by the queue's
// clock.
func TestTLSReporterRun(t *testing.T) {
	var mu sync.Mutex
	var posted int
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		posted++
		mu.Unlock()
	}))
	defer hs.Close()
	rec := &TLSRecorder{}
	h := newHarness(t, []string{"two.test"}, func(o *Options) { o.Transport.(*MX).TLSRPT = rec })
	h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@two.test"}}, testMsg)
	h.empty()
	r := &TLSReporter{Recorder: rec, Queue: h.q, From: "tlsrpt@sender.test", HTTPClient: hs.Client(),
		Resolver: txtMap{"_smtp._tls.two.test": "v=TLSRPTv1; rua=" + hs.URL}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	// Run waits for midnight, 12 hours away. Moving the clock before it
	// started waiting would put its midnight a day later.
	now := h.clock.Now()
	midnight := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
	h.eventually("Run to wait for midnight", func() bool { return h.clock.waiting(midnight) })
	h.clock.Advance(11 * time.Hour)
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	if posted != 0 {
		t.Fatal("report sent before midnight")
	}
	mu.Unlock()
	h.clock.Advance(time.Hour)
	h.eventually("the daily report", func() bool { mu.Lock(); defer mu.Unlock(); return posted == 1 })
}

// RFC 8460 §5.5: a report no endpoint took is tried again with backoff,
// for a day at most.
func TestTLSReporterRetry(t *testing.T) {
	var mu sync.Mutex
	fails, posts := 2, 0
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		posts++
		if fails > 0 {
			fails--
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer hs.Close()
	rec := &TLSRecorder{}
	h := newHarness(t, []string{"two.test", "three.test"}, func(o *Options) { o.Transport.(*MX).TLSRPT = rec })
	h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@two.test"}}, testMsg)
	h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@three.test"}}, testMsg)
	h.empty()
	r := &TLSReporter{Recorder: rec, Queue: h.q, From: "tlsrpt@sender.test", HTTPClient: hs.Client(),
		Resolver: txtMap{
			"_smtp._tls.two.test":   "v=TLSRPTv1; rua=" + hs.URL,
			"_smtp._tls.three.test": "v=TLSRPTv1; rua=https://127.0.0.1:1/never",
		}}
	ctx := context.Background()
	now := h.clock.Now()
	if n, err := r.Send(ctx, now.Add(-24*time.Hour), now); n != 0 || err == nil {
		t.Fatalf("Send: %d sent, %v", n, err)
	}
	if n := r.RetryFailed(ctx); n != 0 {
		t.Fatalf("retried before its time: %d", n)
	}
	h.clock.Advance(10 * time.Minute)
	if n := r.RetryFailed(ctx); n != 0 {
		t.Fatalf("second try: %d sent, want 0 (the server still fails)", n)
	}
	h.clock.Advance(20 * time.Minute) // the backoff doubled
	if n := r.RetryFailed(ctx); n != 1 {
		t.Fatalf("third try: %d sent, want 1", n)
	}
	mu.Lock()
	if posts != 3 {
		t.Errorf("%d posts, want 3", posts)
	}
	mu.Unlock()
	// three.test's endpoint never answers: dropped after a day.
	for range 12 {
		h.clock.Advance(3 * time.Hour)
		r.RetryFailed(ctx)
	}
	if _, ok := r.nextRetry(); ok {
		t.Error("a report still waits after a day of failures")
	}
}
