package smtpqueue

import (
	"bytes"
	"context"
	"io"
	"os"
	"time"

	"github.com/posthorn/posthorn/mime"
	"github.com/posthorn/posthorn/smtp"
)

const (
	actionFailed  = mime.ActionFailed
	actionDelayed = mime.ActionDelayed
	// A "relayed" DSN for NOTIFY=SUCCESS: the next hop took the message,
	// and whether it passes the request on is not known (RFC 3461 §5.2.2).
	actionRelayed = mime.ActionRelayed
)

// notify queues a DSN (RFC 3464 multipart/report) about the recipients idx
// of e, sent from the null sender (RFC 5321 §4.5.5) to the message's
// sender. A message from the null sender is never bounced to it: its
// failures go to the postmaster as a double bounce, and a double bounce
// that fails is dropped, so no notification can loop.
func (q *Queue) notify(e *entry, idx []int, action mime.Action, now time.Time) {
	rec := e.rec
	to, kind := rec.From, KindBounce
	if rec.From == "" {
		if action != actionFailed || rec.Kind == KindDoubleBounce {
			if action == actionFailed {
				q.log.Error("smtpqueue: double bounce undeliverable; dropped", "id", rec.ID, "rcpt", rec.To[idx[0]])
			}
			return
		}
		to, kind = q.opts.Postmaster, KindDoubleBounce
	}
	q.mu.Lock()
	rs := make([]mime.RecipientStatus, 0, len(idx))
	global := !isASCII(to)
	for _, i := range idx {
		r := e.st.Rcpts[i]
		s := mime.RecipientStatus{
			FinalRecipient:  addrValue(rec.To[i]),
			Action:          action,
			LastAttemptDate: e.st.LastAttempt,
		}
		if !isASCII(rec.To[i]) {
			global = true
		}
		if rec.RcptOptions != nil && rec.RcptOptions[i].OriginalRecipient != "" {
			// RFC 3461 §4.2: the ORCPT goes into Original-Recipient as given.
			o := rec.RcptOptions[i]
			typ := o.OriginalRecipientType
			if typ == "" {
				typ = "rfc822"
			}
			s.OriginalRecipient = mime.TypedValue{Type: typ, Value: o.OriginalRecipient}
		}
		switch action {
		case actionRelayed:
			s.Status = "2.0.0"
		case actionDelayed:
			s.Status = statusOf(r, "4.0.0")
			s.WillRetryUntil = rec.Arrival.Add(q.retry.Expire)
		default:
			s.Status = statusOf(r, "5.0.0")
		}
		if r.Reply != "" {
			typ := "smtp"
			if r.Code == 0 {
				typ = "x-posthorn"
			}
			s.DiagnosticCode = mime.TypedValue{Type: typ, Value: r.Reply}
		}
		rs = append(rs, s)
	}
	q.mu.Unlock()
	rb := &mime.ReportBuilder{
		From: "Mail Delivery System <MAILER-DAEMON@" + q.opts.Hostname + ">",
		To:   to,
		Date: now,
		Status: mime.DeliveryStatus{
			OriginalEnvelopeID: rec.MailOptions.EnvelopeID,
			ReportingMTA:       mime.TypedValue{Type: "dns", Value: q.opts.Hostname},
			ArrivalDate:        rec.Arrival,
			Recipients:         rs,
		},
		Global: global,
	}
	// RET=HDRS returns the header only, RET=FULL the whole message
	// (RFC 3461 §4.3); without RET, the whole message up to ReturnLimit.
	// A "delayed" or "relayed" notice returns the header only.
	f, err := os.Open(q.st.path("msg", rec.ID))
	if err == nil {
		defer f.Close()
		rb.Original = io.NewSectionReader(f, e.off, e.size)
		switch {
		// RFC 8689 §5: a REQUIRETLS message is bounced as if RET=HDRS.
		case action != actionFailed, rec.MailOptions.Return == smtp.ReturnHeaders, rec.MailOptions.RequireTLS:
			rb.HeadersOnly = true
		case rec.MailOptions.Return == smtp.ReturnFull:
		default:
			rb.HeadersOnly = e.size > q.opts.ReturnLimit
		}
	}
	var buf bytes.Buffer
	if _, err := rb.WriteTo(&buf); err != nil {
		q.log.Error("smtpqueue: cannot build DSN", "id", rec.ID, "err", err)
		return
	}
	// RFC 8689 §5: the DSN of a REQUIRETLS message is protected alike.
	env := &Envelope{To: []string{to}, MailOptions: smtp.MailOptions{RequireTLS: rec.MailOptions.RequireTLS}}
	id, err := q.enqueue(context.Background(), env, &buf, kind)
	if err != nil {
		q.log.Error("smtpqueue: cannot queue DSN", "id", rec.ID, "err", err)
		return
	}
	q.mu.Lock()
	q.stats.DSNs++
	q.mu.Unlock()
	q.log.Info("smtpqueue: DSN queued", "id", rec.ID, "dsn", id, "action", string(action), "to", to, "rcpts", len(idx))
	q.emit(Event{Type: EventDSN, ID: rec.ID, DSN: id, Action: string(action), Recipient: to, Time: now})
}

func statusOf(r rcptState, def string) string {
	if r.Enhanced != "" {
		return r.Enhanced
	}
	switch {
	case r.Code >= 500:
		return "5.0.0"
	case r.Code >= 400:
		return "4.0.0"
	}
	return def
}

func addrValue(a string) mime.TypedValue {
	if isASCII(a) {
		return mime.TypedValue{Type: "rfc822", Value: a}
	}
	return mime.TypedValue{Type: "utf-8", Value: a}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
