package smtpqueue

import (
	"container/heap"
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/smtpclient"
)

// destSlot limits the deliveries in progress to one destination.
type destSlot struct {
	sem   chan struct{}
	users int
}

func (q *Queue) acquire(ctx context.Context, dest string) (release func(), err error) {
	q.mu.Lock()
	d := q.dests[dest]
	if d == nil {
		d = &destSlot{sem: make(chan struct{}, q.opts.MaxPerDestination)}
		q.dests[dest] = d
	}
	d.users++
	q.mu.Unlock()
	done := func() {
		q.mu.Lock()
		d.users--
		if d.users == 0 {
			delete(q.dests, dest)
		}
		q.mu.Unlock()
	}
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
	release = func() { <-d.sem; done() }
	if delay := q.opts.DestinationRateDelay; delay > 0 {
		// Space the starts of deliveries to dest by delay (Postfix's
		// default_destination_rate_delay).
		q.mu.Lock()
		now := q.clock.Now()
		start := now
		if next := q.rateNext[dest]; next.After(now) {
			start = next
		}
		q.rateNext[dest] = start.Add(delay)
		if len(q.rateNext) > 1024 {
			for k, t := range q.rateNext {
				if t.Before(now) {
					delete(q.rateNext, k)
				}
			}
		}
		q.mu.Unlock()
		if wait := start.Sub(now); wait > 0 {
			select {
			case <-q.clock.After(wait):
			case <-ctx.Done():
				release()
				return nil, ctx.Err()
			}
		}
	}
	return release, nil
}

// attempt tries a message's pending recipients once, grouped by
// destination, then records the outcome.
func (q *Queue) attempt(ctx context.Context, e *entry) {
	defer q.workers.Done()
	rec := e.rec
	q.mu.Lock()
	var pending []int
	for i, r := range e.st.Rcpts {
		if r.Status == StatusPending {
			pending = append(pending, i)
		}
	}
	q.mu.Unlock()

	if rec.Kind == KindTLSReport {
		ctx = context.WithValue(ctx, noTLSPolicy{}, true)
	}
	results := make(map[int]error, len(pending))
	nextHopDSN := map[int]bool{} // the next hop took NOTIFY over
	f, err := os.Open(q.st.path("msg", rec.ID))
	if err != nil {
		for _, i := range pending {
			results[i] = err
		}
	} else {
		var msg smtpclient.Message = io.NewSectionReader(f, e.off, e.size)
		if q.opts.Sign != nil {
			if m, err := q.opts.Sign(ctx, msg); err == nil {
				msg = m
			} else {
				q.log.Warn("smtpqueue: signing failed; sending unsigned", "id", rec.ID, "err", err)
			}
		}
		groups := map[string][]int{}
		var order []string
		for _, i := range pending {
			d := q.tr.Destination(rec.To[i])
			if _, ok := groups[d]; !ok {
				order = append(order, d)
			}
			groups[d] = append(groups[d], i)
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, dest := range order {
			idx := groups[dest]
			wg.Go(func() {
				res, dsn := q.sendTo(ctx, e, dest, idx, msg)
				mu.Lock()
				for j, i := range idx {
					results[i] = res[j]
					nextHopDSN[i] = dsn
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		f.Close()
	}
	q.finish(e, pending, results, nextHopDSN, ctx.Err() != nil)
}

// sendTo sends to the recipients idx at dest; dsn reports whether the
// next hop took over their NOTIFY=SUCCESS requests (RFC 3461 §5.2.1).
func (q *Queue) sendTo(ctx context.Context, e *entry, dest string, idx []int, msg smtpclient.Message) (out []error, dsn bool) {
	rec := e.rec
	out = make([]error, len(idx))
	release, err := q.acquire(ctx, dest)
	if err != nil {
		for j := range out {
			out[j] = err
		}
		return out, false
	}
	env := &smtpclient.Envelope{From: rec.From, MailOptions: rec.MailOptions}
	for _, i := range idx {
		env.To = append(env.To, rec.To[i])
		if rec.RcptOptions != nil {
			env.RcptOptions = append(env.RcptOptions, rec.RcptOptions[i])
		}
	}
	start := time.Now()
	res := q.tr.Send(ctx, env, msg)
	release()
	for j := range out {
		if j < len(res) {
			out[j] = res[j].Err
		} else {
			out[j] = errors.New("smtpqueue: transport returned no result")
		}
		lvl, outcome := levelInfo, "delivered"
		if out[j] != nil {
			lvl, outcome = levelWarn, "deferred"
			if !temporary(out[j]) {
				outcome = "failed"
			}
		}
		args := []any{"id", rec.ID, "rcpt", env.To[j], "dest", dest, "outcome", outcome, "attempt", e.st.Attempts + 1, "duration", time.Since(start).Round(time.Millisecond)}
		if out[j] != nil {
			args = append(args, "reply", replyText(out[j]))
		}
		q.log.Log(context.Background(), lvl, "smtpqueue: attempt", args...)
	}
	if r, ok := q.tr.(DSNRelayer); ok {
		for j, i := range idx {
			if out[j] == nil && wants(rec, i, smtp.NotifySuccess) {
				dsn = r.RelaysDSN(ctx, dest)
				break
			}
		}
	}
	return out, dsn
}

func temporary(err error) bool {
	return smtpclient.RecipientResult{Err: err}.Temporary()
}

// replyText formats an error for the queue listing and the DSN's
// Diagnostic-Code: "550 5.1.1 text" for a reply, on one line.
func replyText(err error) string {
	var se *smtp.Error
	if errors.As(err, &se) {
		var b strings.Builder
		b.WriteString(strconv.Itoa(se.Code))
		if !se.Enhanced.IsZero() {
			b.WriteString(" " + se.Enhanced.String())
		}
		if se.Message != "" {
			b.WriteString(" " + se.Message)
		}
		return oneLine(b.String())
	}
	return oneLine(err.Error())
}

func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r < 0x20 {
			return ' '
		}
		return r
	}, s)
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}

// finish records the outcome of an attempt: delivered and failed
// recipients, DSNs, the next attempt or the removal of the message.
//
// aborted means Run's context ended during the attempt: a recipient that
// failed then was not really tried, so it stays pending and due, with no
// attempt counted, and is tried again at once after a restart.
func (q *Queue) finish(e *entry, pending []int, results map[int]error, nextHopDSN map[int]bool, aborted bool) {
	rec := e.rec
	q.mu.Lock()
	now := q.clock.Now()
	if !aborted {
		e.st.Attempts++
		e.st.LastAttempt = now
	}
	var failed, succeeded []int
	var events []Event
	for _, i := range pending {
		err := results[i]
		r := &e.st.Rcpts[i]
		ev := Event{ID: rec.ID, Recipient: rec.To[i], Destination: q.tr.Destination(rec.To[i]), Attempts: e.st.Attempts, Time: now}
		switch {
		case err != nil && aborted:
			continue
		case err == nil:
			r.Status, r.Reply, r.Code, r.Enhanced = StatusDelivered, "", 0, ""
			q.stats.Delivered++
			ev.Type = EventDelivered
			if wants(rec, i, smtp.NotifySuccess) && !nextHopDSN[i] {
				// RFC 3461 §5.2.2: the next hop does not offer DSN, so
				// the request ends here with a "relayed" notice.
				succeeded = append(succeeded, i)
			}
		default:
			setReply(r, err)
			e.st.LastReply = r.Reply
			ev.Reply, ev.Code = r.Reply, r.Code
			if temporary(err) {
				q.stats.Deferred++
				ev.Type = EventDeferred
			} else {
				r.Status = StatusFailed
				q.stats.Failed++
				q.stats.failedCode(r.Code)
				ev.Type = EventFailed
				failed = append(failed, i)
			}
		}
		events = append(events, ev)
	}
	var left []int
	for i, r := range e.st.Rcpts {
		if r.Status == StatusPending {
			left = append(left, i)
		}
	}
	var delayed []int
	// Neither expire nor warn on an attempt that did not happen.
	if !aborted && len(left) > 0 && now.Sub(rec.Arrival) >= q.retry.Expire {
		// RFC 5321 §4.5.4.1: give up after the retry period; the DSN
		// keeps the last reply as the diagnostic.
		for _, i := range left {
			r := &e.st.Rcpts[i]
			r.Status = StatusFailed
			if r.Enhanced == "" || r.Enhanced[0] != '5' {
				r.Enhanced = "4.4.7"
			}
			q.stats.Failed++
			q.stats.Expired++
			q.stats.failedCode(r.Code)
			failed = append(failed, i)
			events = append(events, Event{Type: EventExpired, ID: rec.ID, Recipient: rec.To[i], Destination: q.tr.Destination(rec.To[i]), Attempts: e.st.Attempts, Reply: r.Reply, Code: r.Code, Time: now})
		}
		left = nil
	} else if !aborted && len(left) > 0 && !e.st.DelayWarned && q.opts.DelayWarning > 0 && now.Sub(rec.Arrival) >= q.opts.DelayWarning {
		for _, i := range left {
			if wants(rec, i, smtp.NotifyDelay) {
				delayed = append(delayed, i)
			}
		}
		e.st.DelayWarned = true
	}
	if len(left) > 0 && !aborted {
		e.st.NextAttempt = now.Add(q.retry.jittered(e.st.Attempts))
	}
	q.mu.Unlock()

	for _, ev := range events {
		q.emit(ev)
	}
	// The DSNs are queued (durably) before the state that says they were
	// sent is written: a crash in between sends one twice, never none.
	failed = slices.DeleteFunc(failed, func(i int) bool { return !wants(rec, i, smtp.NotifyFailure) })
	if len(failed) > 0 {
		q.notify(e, failed, actionFailed, now)
	}
	if len(succeeded) > 0 {
		q.notify(e, succeeded, actionRelayed, now)
	}
	if len(delayed) > 0 {
		q.notify(e, delayed, actionDelayed, now)
	}

	done := len(left) == 0
	var err error
	if done {
		e.wmu.Lock()
		err = q.st.remove(rec.ID)
		e.wmu.Unlock()
	} else {
		err = q.saveState(e)
	}
	if err != nil {
		q.log.Error("smtpqueue: cannot record the outcome; the message may be sent again", "id", rec.ID, "err", err)
	}

	q.mu.Lock()
	e.busy = false
	q.active--
	if done || e.deleted {
		if e.deleted && !done {
			q.st.remove(rec.ID)
		}
		if _, ok := q.entries[rec.ID]; ok {
			delete(q.entries, rec.ID)
			q.stats.Queued--
		}
	} else if !e.st.Held {
		heap.Push(&q.due, e)
	}
	q.mu.Unlock()
	q.kick()
}

func setReply(r *rcptState, err error) {
	r.Reply = replyText(err)
	r.Code, r.Enhanced = 0, ""
	var se *smtp.Error
	if errors.As(err, &se) {
		r.Code = se.Code
		if !se.Enhanced.IsZero() {
			r.Enhanced = se.Enhanced.String()
		}
		return
	}
	// The client's own refusals, with the status codes their RFCs give.
	for _, c := range []struct {
		err error
		enh string
	}{
		{smtpclient.ErrRequireTLS, "5.7.30"},   // RFC 8689 §4.2.1: REQUIRETLS support required
		{smtpclient.ErrNeedsSMTPUTF8, "5.6.7"}, // RFC 6531 §3.2, RFC 6533 §3: non-ASCII address
		{smtpclient.ErrNeeds8BitMIME, "5.6.3"}, // RFC 3463: conversion required but not supported
		{smtpclient.ErrTooLarge, "5.3.4"},      // RFC 3463: message too big for system
	} {
		if errors.Is(err, c.err) {
			r.Enhanced = c.enh
			return
		}
	}
}

// wants reports whether recipient i asked for the notification n. Without
// NOTIFY the default is FAILURE,DELAY (RFC 3461 §4.1 allows either
// FAILURE or FAILURE,DELAY).
func wants(rec *record, i int, n smtp.DSNNotify) bool {
	var have smtp.DSNNotify
	if rec.RcptOptions != nil {
		have = rec.RcptOptions[i].Notify
	}
	if have == 0 {
		have = smtp.NotifyFailure | smtp.NotifyDelay
	}
	if have&smtp.NotifyNever != 0 {
		return false
	}
	return have&n != 0
}
