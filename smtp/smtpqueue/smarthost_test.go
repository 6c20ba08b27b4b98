package smtpqueue

import (
	"slices"
	"testing"

	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/posthorn/posthorn/smtp/smtptest"
)

// Through a smarthost every recipient goes in one transaction, the DSN
// parameters go along (RFC 3461 §5.2.1 relaying), and a connection
// dropped in the middle of the data is retried.
func TestSmarthost(t *testing.T) {
	relay := smtptest.NewServer(t)
	relay.AddUser("app", "pw")
	relay.RequireAuth = true
	relay.SetFaults(smtptest.Fault{At: smtptest.AtData, Times: 1, Drop: true})
	sub := &smtpclient.Submitter{Addr: relay.Addr, Auth: &sasl.ClientOptions{Username: "app", Password: "pw"}, Options: *relay.ClientOptions()}
	t.Cleanup(func() { sub.Close(waitCtx(t)) })
	h := newHarness(t, nil, func(o *Options) { o.Transport = &Smarthost{Submitter: sub} })
	id := h.enqueue(&Envelope{
		From:        "alice@sender.test",
		To:          []string{"bob@one.test", "carol@two.test"},
		MailOptions: smtp.MailOptions{EnvelopeID: "x1", Return: smtp.ReturnHeaders},
		RcptOptions: []smtp.RcptOptions{{Notify: smtp.NotifyFailure | smtp.NotifyDelay}, {Notify: smtp.NotifyNever, OriginalRecipientType: "rfc822", OriginalRecipient: "carol@two.test"}},
	}, testMsg)
	h.attempted(id, 1)
	mi, err := h.q.Get(id)
	if err != nil {
		t.Fatalf("dropped connection: message gone: %v", err)
	}
	if mi.Recipients[0].Status != StatusPending || mi.Recipients[1].Status != StatusPending {
		t.Fatalf("after the drop: %+v", mi.Recipients)
	}
	h.clock.Set(mi.NextAttempt)
	h.empty()
	got := relay.Messages()
	if len(got) != 1 {
		t.Fatalf("%d messages at the relay", len(got))
	}
	m := got[0]
	if m.Auth != "app" || !slices.Equal(m.To, []string{"bob@one.test", "carol@two.test"}) {
		t.Errorf("auth %q to %v", m.Auth, m.To)
	}
	if m.MailOptions.EnvelopeID != "x1" || m.MailOptions.Return != smtp.ReturnHeaders ||
		m.RcptOptions[0].Notify != smtp.NotifyFailure|smtp.NotifyDelay || m.RcptOptions[1].Notify != smtp.NotifyNever ||
		m.RcptOptions[1].OriginalRecipient != "carol@two.test" {
		t.Errorf("DSN parameters not relayed: %+v %+v", m.MailOptions, m.RcptOptions)
	}
	if d := h.q.Stats().Deferred; d != 2 {
		t.Errorf("deferred %d, want 2 (both recipients once)", d)
	}
}

// NOTIFY=SUCCESS through a smarthost: left to it when it offers DSN
// (RFC 3461 §5.2.1), answered with a "relayed" DSN when it does not
// (§5.2.2).
func TestSmarthostSuccessNotify(t *testing.T) {
	for _, offers := range []bool{true, false} {
		relay := smtptest.NewUnstartedServer(t)
		if !offers {
			relay.Server.DisableExtensions = []string{"DSN"}
		}
		relay.Start()
		sub := &smtpclient.Submitter{Addr: relay.Addr, Options: *relay.ClientOptions()}
		t.Cleanup(func() { sub.Close(waitCtx(t)) })
		h := newHarness(t, nil, func(o *Options) { o.Transport = &Smarthost{Submitter: sub} })
		h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@one.test"},
			RcptOptions: []smtp.RcptOptions{{Notify: smtp.NotifySuccess}}}, testMsg)
		h.empty()
		var dsns int
		for _, m := range relay.Messages() {
			if m.From == "" {
				dsns++
				readDSN(t, m)
			}
		}
		if want := map[bool]int{true: 0, false: 1}[offers]; dsns != want {
			t.Errorf("relay offers DSN %v: %d relayed DSNs, want %d", offers, dsns, want)
		}
	}
}
