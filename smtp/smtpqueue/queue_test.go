package smtpqueue

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posthorn/posthorn/mime"
	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/posthorn/posthorn/smtp/smtptest"
)

// Recipients at one destination go in one transaction; each destination
// gets its own.
func TestDeliver(t *testing.T) {
	h := newHarness(t, []string{"one.test", "two.test", "sender.test"}, nil)
	h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@one.test", "carol@two.test", "dave@ONE.test"}}, testMsg)
	h.empty()
	one := h.srv("one.test").Messages()
	if len(one) != 1 || !slices.Equal(one[0].To, []string{"bob@one.test", "dave@ONE.test"}) {
		t.Fatalf("one.test got %d messages, first to %v", len(one), one[0].To)
	}
	if one[0].From != "alice@sender.test" || !bytes.HasSuffix(one[0].Raw, []byte(testMsg)) {
		t.Errorf("message changed in transit: from %q\n%s", one[0].From, one[0].Raw)
	}
	if two := h.srv("two.test").Messages(); len(two) != 1 || two[0].To[0] != "carol@two.test" {
		t.Fatalf("two.test got %v", two)
	}
	s := h.q.Stats()
	if s.Delivered != 3 || s.Deferred != 0 || s.DSNs != 0 {
		t.Errorf("stats %+v", s)
	}
	if n := len(h.srv("sender.test").Messages()); n != 0 {
		t.Errorf("sender got %d DSNs for a delivered message", n)
	}
}

// A 4xx for one recipient retries only that recipient, after the
// backoff.
func TestTemporaryFailureRetried(t *testing.T) {
	h := newHarness(t, []string{"one.test", "sender.test"}, nil)
	var refused atomic.Int32
	h.srv("one.test").SetFaults(smtptest.Fault{At: smtptest.AtRcpt, Reply: smtptest.Reply(451, "4.3.0 try later"),
		When: func(a *smtptest.Attempt) bool { return a.To == "carol@one.test" && refused.Add(1) == 1 }})
	start := h.clock.Now()
	id := h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@one.test", "carol@one.test"}}, testMsg)
	h.attempted(id, 1)
	mi, err := h.q.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if mi.Recipients[0].Status != StatusDelivered || mi.Recipients[1].Status != StatusPending {
		t.Fatalf("after attempt 1: %+v", mi.Recipients)
	}
	if !strings.Contains(mi.LastReply, "451 4.3.0 try later") {
		t.Errorf("last reply %q", mi.LastReply)
	}
	// RetryPolicy default: 5 minutes ± 10%.
	if d := mi.NextAttempt.Sub(start); d < 4*time.Minute+30*time.Second || d > 5*time.Minute+30*time.Second {
		t.Errorf("next attempt after %v, want about 5m", d)
	}
	if err := h.srv("one.test").WaitForNoMessages(context.Background(), 0); err == nil {
		// bob's copy is there; nothing for carol yet.
	}
	h.clock.Advance(4 * time.Minute)
	time.Sleep(20 * time.Millisecond)
	if mi, _ := h.q.Get(id); mi.Attempts != 1 {
		t.Fatalf("retried before the backoff: %d attempts", mi.Attempts)
	}
	h.clock.Set(mi.NextAttempt)
	h.empty()
	msgs := h.srv("one.test").Messages()
	if len(msgs) != 2 || !slices.Equal(msgs[0].To, []string{"bob@one.test"}) || !slices.Equal(msgs[1].To, []string{"carol@one.test"}) {
		t.Fatalf("deliveries: %d", len(msgs))
	}
	if s := h.q.Stats(); s.Delivered != 2 || s.Deferred != 1 || s.DSNs != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestBackoff(t *testing.T) {
	var p RetryPolicy
	want := []time.Duration{5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 40 * time.Minute, time.Hour, time.Hour}
	for i, w := range want {
		if got := p.Backoff(i + 1); got != w {
			t.Errorf("Backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	p = RetryPolicy{}.withDefaults()
	for range 100 {
		if d := p.jittered(1); d < 270*time.Second || d > 330*time.Second {
			t.Fatalf("jittered 5m = %v", d)
		}
	}
}

func readDSN(t *testing.T, m *smtptest.Message) *mime.Report {
	t.Helper()
	if m.From != "" {
		t.Errorf("DSN sent from %q, want the null sender (RFC 3461 §6.2)", m.From)
	}
	rep, err := mime.ReadReport(bytes.NewReader(m.Raw), mime.Limits{})
	if err != nil {
		t.Fatalf("not a DSN: %v\n%s", err, m.Raw)
	}
	return rep
}

// A 5xx bounces the recipient with a DSN that carries ENVID, ORCPT, the
// reply, and the header only for RET=HDRS; the others are delivered.
func TestPermanentFailureBounced(t *testing.T) {
	h := newHarness(t, []string{"one.test", "sender.test"}, nil)
	h.srv("one.test").SetFaults(smtptest.Fault{At: smtptest.AtRcpt, Reply: smtptest.Reply(550, "5.1.1 no such user"),
		When: func(a *smtptest.Attempt) bool { return a.To == "nobody@one.test" }})
	h.enqueue(&Envelope{
		From:        "alice@sender.test",
		To:          []string{"bob@one.test", "nobody@one.test"},
		MailOptions: smtp.MailOptions{Return: smtp.ReturnHeaders, EnvelopeID: "env-42"},
		RcptOptions: []smtp.RcptOptions{{}, {Notify: smtp.NotifyFailure, OriginalRecipientType: "rfc822", OriginalRecipient: "Nobody@one.test"}},
	}, testMsg)
	h.empty()
	dsns, err := h.srv("sender.test").WaitForMessages(waitCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(dsns) != 1 || !slices.Equal(dsns[0].To, []string{"alice@sender.test"}) {
		t.Fatalf("%d DSNs, to %v", len(dsns), dsns[0].To)
	}
	rep := readDSN(t, dsns[0])
	st := rep.Status
	if st.OriginalEnvelopeID != "env-42" || st.ReportingMTA.Value != "queue.test" || st.ArrivalDate.IsZero() {
		t.Errorf("per-message fields: %+v", st)
	}
	if len(st.Recipients) != 1 {
		t.Fatalf("%d recipients in the DSN, want only the failed one", len(st.Recipients))
	}
	r := st.Recipients[0]
	if r.FinalRecipient.Value != "nobody@one.test" || r.Action != mime.ActionFailed || r.Status != "5.1.1" ||
		r.OriginalRecipient.Value != "Nobody@one.test" || r.DiagnosticCode.Type != "smtp" ||
		!strings.HasPrefix(r.DiagnosticCode.Value, "550 5.1.1 no such user") {
		t.Errorf("recipient fields: %+v", r)
	}
	if got := rep.ReturnedHeader.Get("Subject"); strings.TrimSpace(got) != "hello" {
		t.Errorf("returned header Subject %q", got)
	}
	if strings.Contains(string(dsns[0].Raw), "Hi Bob!") {
		t.Error("RET=HDRS but the body was returned")
	}
	if got := dsns[0].Header.Get("Auto-Submitted"); got == "" {
		t.Error("DSN lacks Auto-Submitted")
	}
	s := h.q.Stats()
	if s.Failed != 1 || s.FailedByCode[550] != 1 || s.Delivered != 2 || s.DSNs != 1 {
		// Delivered counts bob and the DSN itself.
		t.Errorf("stats %+v", s)
	}
}

// NOTIFY=NEVER: no DSN. NOTIFY and ORCPT go on to an MX that offers DSN
// (RFC 3461 §5.2.1), which then answers NOTIFY=SUCCESS; an MX without DSN
// gets a "relayed" DSN from us instead (§5.2.2).
func TestNotify(t *testing.T) {
	two := smtptest.NewUnstartedServer(t)
	two.Server.DisableExtensions = []string{"DSN"}
	two.Start()
	h := newHarness(t, []string{"one.test", "sender.test"}, nil)
	h.net.mu.Lock()
	h.net.servers["two.test"] = two
	h.net.mu.Unlock()
	h.srv("one.test").SetFaults(smtptest.Fault{At: smtptest.AtRcpt, Reply: smtptest.Reply(550, "5.1.1 no such user"),
		When: func(a *smtptest.Attempt) bool { return a.To == "nobody@one.test" }})
	h.enqueue(&Envelope{
		From:        "alice@sender.test",
		To:          []string{"bob@one.test", "nobody@one.test", "carol@two.test"},
		RcptOptions: []smtp.RcptOptions{{Notify: smtp.NotifySuccess, OriginalRecipientType: "rfc822", OriginalRecipient: "Bob@one.test"}, {Notify: smtp.NotifyNever}, {Notify: smtp.NotifySuccess}},
	}, testMsg)
	h.empty()
	one := h.srv("one.test").Messages()
	if len(one) != 1 || one[0].RcptOptions[0].Notify != smtp.NotifySuccess || one[0].RcptOptions[0].OriginalRecipient != "Bob@one.test" {
		t.Fatalf("NOTIFY and ORCPT not relayed: %+v", one)
	}
	dsns := h.srv("sender.test").Messages()
	if len(dsns) != 1 {
		for _, d := range dsns {
			t.Logf("%s", d.Raw)
		}
		t.Fatalf("%d DSNs, want 1", len(dsns))
	}
	rep := readDSN(t, dsns[0])
	if r := rep.Status.Recipients; len(r) != 1 || r[0].Action != mime.ActionRelayed || r[0].FinalRecipient.Value != "carol@two.test" || r[0].Status != "2.0.0" {
		t.Errorf("success DSN: %+v", r)
	}
}

// Messages to one MX host in a row share a connection.
func TestConnectionReuse(t *testing.T) {
	h := newHarness(t, []string{"one.test", "sender.test"}, nil)
	for i := range 3 {
		id := h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@one.test"}}, testMsg)
		h.attempted(id, 1)
		if _, err := h.srv("one.test").WaitForMessages(waitCtx(t), i+1); err != nil {
			t.Fatal(err)
		}
	}
	msgs := h.srv("one.test").Messages()
	for _, m := range msgs[1:] {
		if m.RemoteAddr.String() != msgs[0].RemoteAddr.String() {
			t.Errorf("new connection from %v, first was %v", m.RemoteAddr, msgs[0].RemoteAddr)
		}
	}
	h.stop() // closes the idle connection
}

// A recipient deferred past DelayWarning gets one "delayed" DSN; after
// Retry.Expire it fails with 4.4.7 and a "failed" DSN; then the message
// is gone.
func TestDelayNoticeAndExpiry(t *testing.T) {
	h := newHarness(t, []string{"one.test", "sender.test"}, func(o *Options) {
		o.DelayWarning = time.Hour
		o.Retry.Expire = 4 * time.Hour
	})
	h.srv("one.test").SetFaults(smtptest.Fault{At: smtptest.AtRcpt, Reply: smtptest.Reply(452, "4.2.2 mailbox full")})
	id := h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@one.test"}, MailOptions: smtp.MailOptions{EnvelopeID: "e1"}}, testMsg)
	start := h.clock.Now()
	n := 1
	for {
		h.attempted(id, n)
		mi, err := h.q.Get(id)
		if err == ErrNotFound {
			break
		}
		if h.clock.Now().Sub(start) < time.Hour && len(h.srv("sender.test").Messages()) != 0 {
			t.Fatal("delay notice before DelayWarning")
		}
		h.clock.Set(mi.NextAttempt)
		n++
		if n > 50 {
			t.Fatal("never expired")
		}
	}
	h.empty()
	dsns := h.srv("sender.test").Messages()
	if len(dsns) != 2 {
		t.Fatalf("%d DSNs, want a delay notice and a bounce", len(dsns))
	}
	d := readDSN(t, dsns[0]).Status
	if r := d.Recipients[0]; r.Action != mime.ActionDelayed || r.Status != "4.2.2" || !r.WillRetryUntil.Equal(start.Add(4*time.Hour)) ||
		!strings.Contains(r.DiagnosticCode.Value, "mailbox full") || d.OriginalEnvelopeID != "e1" {
		t.Errorf("delay notice: %+v", r)
	}
	f := readDSN(t, dsns[1])
	if r := f.Status.Recipients[0]; r.Action != mime.ActionFailed || r.Status != "4.4.7" || !strings.Contains(r.DiagnosticCode.Value, "452 4.2.2 mailbox full") {
		t.Errorf("expiry bounce: %+v", r)
	}
	if f.ReturnedHeader.Get("Subject") == "" || !strings.Contains(string(dsns[1].Raw), "Hi Bob!") {
		t.Error("expiry bounce without RET returns the whole small message")
	}
	if s := h.q.Stats(); s.Expired != 1 || s.Failed != 1 || s.FailedByCode[452] != 1 {
		t.Errorf("stats %+v", s)
	}
	if got := h.eventsOf(EventExpired); len(got) != 1 {
		t.Errorf("%d expired events", len(got))
	}
}

// A message from the null sender is never bounced to it: its failure goes
// to the postmaster, and a double bounce that fails is dropped.
func TestNullSenderNeverBounced(t *testing.T) {
	h := newHarness(t, []string{"one.test", "sender.test"}, nil)
	h.srv("one.test").SetFaults(smtptest.Fault{At: smtptest.AtRcpt, Reply: smtptest.Reply(550, "5.1.1 no such user")})
	h.enqueue(&Envelope{From: "", To: []string{"nobody@one.test"}}, testMsg)
	h.empty()
	pm := h.srv("sender.test").Messages()
	if len(pm) != 1 || !slices.Equal(pm[0].To, []string{"postmaster@sender.test"}) {
		t.Fatalf("double bounce: %d messages", len(pm))
	}
	readDSN(t, pm[0])

	// Now the postmaster's server refuses too: one attempt, no loop.
	h.srv("sender.test").SetFaults(smtptest.Fault{At: smtptest.AtRcpt, Reply: smtptest.Reply(550, "5.1.1 no postmaster")})
	h.enqueue(&Envelope{From: "", To: []string{"nobody@one.test"}}, testMsg)
	h.empty()
	time.Sleep(50 * time.Millisecond)
	if s := h.q.Stats(); s.Queued != 0 || s.DSNs != 2 {
		t.Errorf("stats %+v", s)
	}
}

// Messages enqueued and not delivered are found again by Open.
func TestRestartRecovers(t *testing.T) {
	h := newHarness(t, []string{"one.test", "sender.test"}, nil)
	h.srv("one.test").SetFaults(smtptest.Fault{At: smtptest.AtMail, Times: 1, Reply: smtptest.Reply(421, "4.3.2 busy")})
	id := h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@one.test"}}, testMsg)
	h.attempted(id, 1)
	before, _ := h.q.Get(id)
	h.stop()

	h.start(nil)
	mi, err := h.q.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if mi.Attempts != 1 || !mi.NextAttempt.Equal(before.NextAttempt) || mi.LastReply != before.LastReply {
		t.Errorf("state not recovered: %+v vs %+v", mi, before)
	}
	h.q.RetryNow(id)
	h.empty()
	if n := len(h.srv("one.test").Messages()); n != 1 {
		t.Errorf("%d deliveries", n)
	}
}

func TestHoldReleaseDelete(t *testing.T) {
	h := newHarness(t, []string{"one.test", "sender.test"}, nil)
	h.srv("one.test").SetFaults(smtptest.Fault{At: smtptest.AtRcpt, Times: 1, Reply: smtptest.Reply(451, "later")})
	id := h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@one.test"}}, testMsg)
	h.attempted(id, 1)
	if err := h.q.Hold(id); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(2 * time.Hour)
	time.Sleep(30 * time.Millisecond)
	mi, _ := h.q.Get(id)
	if mi.Attempts != 1 || !mi.Held || !mi.NextAttempt.IsZero() {
		t.Fatalf("held message tried: %+v", mi)
	}
	if s := h.q.Stats(); s.Held != 1 || s.Oldest != 2*time.Hour {
		t.Errorf("stats %+v", s)
	}
	// The hold survives a restart.
	h.stop()
	h.start(nil)
	if mi, _ := h.q.Get(id); !mi.Held {
		t.Fatal("hold lost on restart")
	}
	if err := h.q.Release(id); err != nil {
		t.Fatal(err)
	}
	h.empty()

	id2 := h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@one.test"}}, testMsg)
	h.q.Hold(id2) // may race with the first attempt; either way Delete ends it
	if err := h.q.Delete(id2); err != nil {
		t.Fatal(err)
	}
	if err := h.q.Delete(id2); err != ErrNotFound {
		t.Errorf("second delete: %v", err)
	}
	h.empty()
	if err := h.q.Hold("0123456789abcdef"); err != ErrNotFound {
		t.Errorf("hold of unknown: %v", err)
	}
}

func TestEnqueueRefusesBadEnvelopes(t *testing.T) {
	h := newHarness(t, nil, nil)
	for _, env := range []*Envelope{
		{From: "a@b.test"},
		{From: "a@b.test", To: []string{"x\r\nRCPT TO:<y@z>"}},
		{From: "a@b.test>", To: []string{"x@y.test"}},
		{From: "a@b.test", To: []string{"x@y.test"}, RcptOptions: []smtp.RcptOptions{{}, {}}},
		{From: "a@b.test", To: []string{"x@y.test"}, MailOptions: smtp.MailOptions{EnvelopeID: "a b\r\n"}},
	} {
		if _, err := h.q.Enqueue(context.Background(), env, strings.NewReader(testMsg)); err == nil {
			t.Errorf("accepted %+v", env)
		}
	}
	if s := h.q.Stats(); s.Queued != 0 {
		t.Errorf("queued %d", s.Queued)
	}
}

func TestEnqueueTooLarge(t *testing.T) {
	h := newHarness(t, nil, func(o *Options) { o.MaxMessageSize = 100 })
	env := &Envelope{From: "a@b.test", To: []string{"x@y.test"}}
	if _, err := h.q.Enqueue(context.Background(), env, strings.NewReader(strings.Repeat("x", 101))); err == nil || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("101 bytes: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(h.dir, "tmp")); len(ents) != 0 {
		t.Errorf("left %d files in tmp", len(ents))
	}
	h.q.Hold(h.enqueue(env, strings.Repeat("x", 100)))
	if s := h.q.Stats(); s.Queued != 1 {
		t.Errorf("queued %d", s.Queued)
	}
}

// Stopping Run in the middle of an attempt counts no attempt: the message
// stays due and goes out after a restart.
func TestStopDuringAttempt(t *testing.T) {
	h := newHarness(t, []string{"one.test", "sender.test"}, nil)
	h.srv("one.test").SetFaults(smtptest.Fault{At: smtptest.AtRcpt, Times: 1, Delay: time.Second})
	id := h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@one.test"}}, testMsg)
	h.eventually("attempt in progress", func() bool { return h.q.Stats().Active == 1 })
	h.stop()
	mi, err := h.q.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if mi.Attempts != 0 || mi.Recipients[0].Status != StatusPending || mi.LastReply != "" {
		t.Errorf("after stop: %+v", mi)
	}
	h.start(nil)
	h.empty()
	if n := len(h.srv("one.test").Messages()); n != 1 {
		t.Errorf("%d deliveries", n)
	}
}

// REQUIRETLS to a server that does not offer it: bounced with 5.7.30
// (RFC 8689 §4.2.1), the header only even with RET=FULL, and the DSN
// itself sent with REQUIRETLS (§5).
func TestRequireTLSBounce(t *testing.T) {
	one := smtptest.NewUnstartedServer(t)
	one.Server.DisableExtensions = []string{"REQUIRETLS"}
	one.Start()
	h := newHarness(t, []string{"sender.test"}, func(o *Options) {
		mx := o.Transport.(*MX)
		mx.Options.Options.TLSConfig = one.ClientTLSConfig() // trusts every smtptest server
	})
	h.net.mu.Lock()
	h.net.servers["one.test"] = one
	h.net.mu.Unlock()
	h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@one.test"}, MailOptions: smtp.MailOptions{RequireTLS: true, Return: smtp.ReturnFull}}, testMsg)
	h.empty()
	dsns := h.srv("sender.test").Messages()
	if len(dsns) != 1 {
		t.Fatalf("%d DSNs", len(dsns))
	}
	if !dsns[0].MailOptions.RequireTLS || !dsns[0].TLS {
		t.Error("the DSN of a REQUIRETLS message went without REQUIRETLS")
	}
	if r := readDSN(t, dsns[0]).Status.Recipients[0]; r.Status != "5.7.30" || r.Action != mime.ActionFailed {
		t.Errorf("DSN: %+v", r)
	}
	if strings.Contains(string(dsns[0].Raw), "Hi Bob!") {
		t.Error("the body of a REQUIRETLS message was returned")
	}
	if len(h.srv("one.test").Messages()) != 0 {
		t.Error("delivered without REQUIRETLS")
	}
}

func TestOpenLocks(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, nil); err != ErrLocked {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	q.Close()
	q2, err := Open(dir, nil)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	q2.Close()
}

// DestinationRateDelay spaces deliveries to one destination; another
// destination is not held up.
func TestDestinationRateDelay(t *testing.T) {
	h := newHarness(t, []string{"one.test", "two.test", "sender.test"}, func(o *Options) { o.DestinationRateDelay = time.Minute })
	for range 3 {
		h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@one.test"}}, testMsg)
	}
	h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@two.test"}}, testMsg)
	if _, err := h.srv("one.test").WaitForMessages(waitCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := h.srv("two.test").WaitForMessages(waitCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(h.srv("one.test").Messages()); n != 1 {
		t.Fatalf("%d deliveries to one.test before the delay passed", n)
	}
	for want := 2; want <= 3; want++ {
		h.clock.Advance(time.Minute)
		if _, err := h.srv("one.test").WaitForMessages(waitCtx(t), want); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond)
		if n := len(h.srv("one.test").Messages()); n != want {
			t.Fatalf("%d deliveries after %d minutes", n, want-1)
		}
	}
	h.empty()
}

// A TLS policy of our own: a domain that requires verified TLS is not
// delivered to a server whose certificate we do not trust (deferred, not
// bounced), and is once we trust it.
func TestDomainTLS(t *testing.T) {
	var trust atomic.Bool
	h := newHarness(t, []string{"one.test", "sender.test"}, func(o *Options) {
		mx := o.Transport.(*MX)
		mx.DomainTLS = func(d string) smtpclient.TLSPolicy {
			if d == "one.test" {
				return smtpclient.TLSRequired
			}
			return smtpclient.TLSDefault
		}
		trusted := smtptest.NewServer(t).ClientTLSConfig()
		mx.Options.Options.TLSConfig = &tls.Config{ServerName: "localhost", VerifyConnection: func(cs tls.ConnectionState) error {
			if !trust.Load() {
				return errors.New("not trusted yet")
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: trusted.RootCAs, DNSName: "localhost"})
			return err
		}, InsecureSkipVerify: true}
	})
	id := h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@one.test"}}, testMsg)
	h.attempted(id, 1)
	mi, err := h.q.Get(id)
	if err != nil || mi.Recipients[0].Status != StatusPending {
		t.Fatalf("untrusted certificate: %+v %v", mi, err)
	}
	if n := len(h.srv("one.test").Messages()); n != 0 {
		t.Fatal("delivered without verified TLS")
	}
	trust.Store(true)
	h.q.RetryNow(id)
	h.empty()
	if got := h.srv("one.test").Messages(); len(got) != 1 || !got[0].TLS {
		t.Fatal("not delivered over TLS once trusted")
	}
	if n := len(h.srv("sender.test").Messages()); n != 0 {
		t.Errorf("%d DSNs", n)
	}
}

// A connection dropped in the middle of the data defers the message (it
// may or may not have arrived: RFC 5321 §6.1), without waiting on the
// dead connection, and the retry goes out on a new one.
func TestDroppedConnectionRetried(t *testing.T) {
	h := newHarness(t, []string{"one.test", "sender.test"}, nil)
	h.srv("one.test").SetFaults(smtptest.Fault{At: smtptest.AtData, Times: 1, Drop: true})
	start := time.Now()
	id := h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@one.test"}}, testMsg)
	h.attempted(id, 1)
	mi, err := h.q.Get(id)
	if err != nil || mi.Recipients[0].Status != StatusPending {
		t.Fatalf("after the drop: %+v %v", mi, err)
	}
	h.q.RetryNow(id)
	h.empty()
	if n := len(h.srv("one.test").Messages()); n != 1 {
		t.Errorf("%d deliveries", n)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v: waited on the dead connection", d)
	}
}
