package smtpqueue

import (
	"slices"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/testpeer"
	"github.com/posthorn/posthorn/mime"
	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/posthorn/posthorn/smtp/smtpserver"
	"github.com/posthorn/posthorn/smtp/smtptest"
)

// Postfix as the receiving MTA: the queue delivers to it as the MX of
// "localhost" (Postfix hands local mail to our LMTP sink), a recipient
// Postfix refuses is bounced with Postfix's reply in the DSN, and through
// Postfix as a smarthost the DSN parameters travel on to the final hop
// (RFC 3461 §5.2.1).
func TestPostfix(t *testing.T) {
	sink := smtptest.NewUnstartedServer(t)
	sink.Server.Mode = smtpserver.ModeLMTP
	sink.Start()
	p := testpeer.StartPostfix(t, testpeer.PostfixOptions{LMTP: sink.Addr, LocalUsers: []string{"bob", "carol"}})

	t.Run("MX", func(t *testing.T) {
		sink.Reset()
		h := newHarnessAddrs(t, []string{"sender.test"}, map[string]string{"localhost": p.SMTP}, nil)
		h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@localhost", "nobody@localhost"}}, testMsg)
		got, err := sink.WaitForMessages(waitCtx(t), 1)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got[0].To, []string{"bob@localhost"}) || !strings.Contains(string(got[0].Raw), "Hi Bob!") {
			t.Errorf("delivered to %v", got[0].To)
		}
		h.empty()
		dsns, err := h.srv("sender.test").WaitForMessages(waitCtx(t), 1)
		if err != nil {
			t.Fatal(err)
		}
		r := readDSN(t, dsns[0]).Status.Recipients
		if len(r) != 1 || r[0].FinalRecipient.Value != "nobody@localhost" || r[0].Action != mime.ActionFailed ||
			r[0].Status != "5.1.1" || !strings.HasPrefix(r[0].DiagnosticCode.Value, "550 5.1.1") {
			t.Errorf("bounce: %+v", r)
		}
	})

	t.Run("SmarthostRelaysDSN", func(t *testing.T) {
		sink.Reset()
		sub := &smtpclient.Submitter{Addr: p.SMTP, Options: smtpclient.Options{TLSConfig: p.TLSConfig(), LocalName: "queue.test"}}
		t.Cleanup(func() { sub.Close(waitCtx(t)) })
		h := newHarness(t, nil, func(o *Options) { o.Transport = &Smarthost{Submitter: sub} })
		h.enqueue(&Envelope{
			From:        "alice@sender.test",
			To:          []string{"carol@localhost"},
			MailOptions: smtp.MailOptions{EnvelopeID: "pf-1"},
			RcptOptions: []smtp.RcptOptions{{Notify: smtp.NotifyFailure | smtp.NotifyDelay, OriginalRecipientType: "rfc822", OriginalRecipient: "Carol@localhost"}},
		}, testMsg)
		got, err := sink.WaitForMessages(waitCtx(t), 1)
		if err != nil {
			t.Fatal(err)
		}
		h.empty()
		m := got[0]
		if m.MailOptions.EnvelopeID != "pf-1" || len(m.RcptOptions) != 1 ||
			m.RcptOptions[0].Notify != smtp.NotifyFailure|smtp.NotifyDelay || m.RcptOptions[0].OriginalRecipient != "Carol@localhost" {
			t.Errorf("at the final hop: %+v %+v", m.MailOptions, m.RcptOptions)
		}
	})
}
