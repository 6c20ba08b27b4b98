package dmarc

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultPeriod is a Recorder's reporting period when Period is zero: one
// UTC day from 00:00 (RFC 9990 §3.1.1.4).
const DefaultPeriod = 24 * time.Hour

// DefaultMaxPeriods is how many reporting periods a Recorder holds when
// MaxPeriods is zero.
const DefaultMaxPeriods = 3

// Recorder records each DMARC evaluation an MX makes and turns them into
// aggregate reports (RFC 9990), one per reporting period and policy
// domain that asked for them with rua=. Periods do not overlap (§3.1.1.4)
// and are aligned to the Unix epoch, so a day's starts at 00:00 UTC. Due
// gives the reports of the periods that have ended; sending them (after
// Evaluator.ReportDestinations has verified external destinations, RFC
// 9990 §4) is the application's business (see WriteMessage). A Recorder
// is safe for concurrent use; smtpserver.InboundAuth.Reports feeds one.
type Recorder struct {
	// Period is the length of a reporting period; zero means
	// DefaultPeriod.
	Period time.Duration
	// Metadata is every report's report_metadata: OrgName and Email are
	// required (§3.1.1.3); ReportID, if set, prefixes each report's ID.
	Metadata ReportMetadata
	// MaxPeriods bounds the periods held: recording into a new one
	// drops the oldest (its reports are lost) when Due was not called in
	// time. Zero means DefaultMaxPeriods.
	MaxPeriods int

	mu      sync.Mutex
	periods map[int64]*Aggregator // by period start, Unix seconds
}

func (r *Recorder) period() time.Duration {
	if r.Period > 0 {
		return r.Period
	}
	return DefaultPeriod
}

// Record records an observation at the current time.
func (r *Recorder) Record(o Observation) { r.RecordAt(time.Now(), o) }

// RecordAt records an observation made at t.
func (r *Recorder) RecordAt(t time.Time, o Observation) {
	ev := o.Evaluation
	if ev == nil || ev.Record == nil || len(ev.Record.RUA) == 0 || o.Message == nil {
		return // nothing to report (RFC 9989 §4.7: no rua, no reports)
	}
	p := int64(r.period() / time.Second)
	start := t.Unix() - mod(t.Unix(), p)
	r.mu.Lock()
	a := r.periods[start]
	if a == nil {
		if r.periods == nil {
			r.periods = map[int64]*Aggregator{}
		}
		max := r.MaxPeriods
		if max <= 0 {
			max = DefaultMaxPeriods
		}
		for len(r.periods) >= max {
			oldest := int64(0)
			for s := range r.periods {
				if oldest == 0 || s < oldest {
					oldest = s
				}
			}
			delete(r.periods, oldest)
		}
		a = &Aggregator{}
		r.periods[start] = a
	}
	r.mu.Unlock()
	a.Add(o)
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// Due returns the reports of every period that ended by now, and forgets
// those periods.
func (r *Recorder) Due(now time.Time) []Report {
	return r.take(now, false)
}

// Flush returns the reports of every period held, the current one
// included (its end is now), for a server shutting down.
func (r *Recorder) Flush(now time.Time) []Report {
	return r.take(now, true)
}

func (r *Recorder) take(now time.Time, all bool) []Report {
	p := int64(r.period() / time.Second)
	r.mu.Lock()
	var starts []int64
	taken := map[int64]*Aggregator{}
	for s, a := range r.periods {
		if all || s+p <= now.Unix() {
			starts = append(starts, s)
			taken[s] = a
			delete(r.periods, s)
		}
	}
	r.mu.Unlock()
	slices.Sort(starts)
	var out []Report
	for _, s := range starts {
		end := s + p - 1
		if end > now.Unix() {
			end = now.Unix()
		}
		out = append(out, taken[s].Reports(r.Metadata, time.Unix(s, 0), time.Unix(end, 0))...)
	}
	return out
}

// MessageOptions are the envelope-facing fields of a report message.
type MessageOptions struct {
	// From is the report's sender address; RFC 9990 §3.5.2 wants the
	// stream DMARC-aligned (its domain passing DMARC). Required.
	From string
	// To is the recipient address, from a mailto: rua URI (see
	// MailtoAddress). Required.
	To string
	// Receiver is the reporting host's domain, for the file name and
	// Subject. Required.
	Receiver string
	// Date is the Date field; zero means now.
	Date time.Time
	// MessageID is the Message-ID field without angle brackets; empty
	// means the report ID at the receiver's domain.
	MessageID string
}

// ErrHeaderInjection is returned when an address or name would break out
// of its header field.
var ErrHeaderInjection = errors.New("dmarc: CR or LF in a header value")

// WriteMessage writes the report as an email message (RFC 9990 §3.5.2):
// the RFC 9990 Subject, a short text part and the gzip-compressed XML as
// an application/gzip attachment named by Filename, base64-encoded.
func (r *Report) WriteMessage(w io.Writer, o MessageOptions) error {
	for _, v := range []string{o.From, o.To, o.Receiver, o.MessageID} {
		if strings.ContainsAny(v, "\r\n") {
			return ErrHeaderInjection
		}
	}
	if _, err := mail.ParseAddress(o.From); err != nil {
		return errors.New("dmarc: From: " + err.Error())
	}
	if _, err := mail.ParseAddress(o.To); err != nil {
		return errors.New("dmarc: To: " + err.Error())
	}
	date := o.Date
	if date.IsZero() {
		date = time.Now()
	}
	id := o.MessageID
	if id == "" {
		id = r.Feedback.ReportMetadata.ReportID + "@" + normalize(o.Receiver)
	}
	var z bytes.Buffer
	if err := r.WriteGzip(&z); err != nil {
		return err
	}
	const boundary = "=_dmarc_aggregate_report_"
	bw := bufio.NewWriter(w)
	name := r.Filename(o.Receiver, true)
	bw.WriteString("From: " + o.From + "\r\nTo: " + o.To + "\r\n")
	bw.WriteString("Subject: " + mime.QEncoding.Encode("utf-8", r.Subject(o.Receiver)) + "\r\n")
	bw.WriteString("Date: " + date.Format(time.RFC1123Z) + "\r\nMessage-ID: <" + id + ">\r\n")
	bw.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n")
	bw.WriteString("--" + boundary + "\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
	bw.WriteString("DMARC aggregate report for " + r.Feedback.PolicyPublished.Domain + " from " + normalize(o.Receiver) + ".\r\n")
	bw.WriteString("--" + boundary + "\r\nContent-Type: application/gzip\r\nContent-Transfer-Encoding: base64\r\n")
	bw.WriteString("Content-Disposition: attachment; filename=\"" + name + "\"\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(z.Bytes())
	for len(enc) > 76 {
		bw.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	bw.WriteString(enc + "\r\n--" + boundary + "--\r\n")
	return bw.Flush()
}

// MailtoAddress returns the address of a mailto: report URI (RFC 9989
// §4.7: a size limit after "!" is dropped), or "" for another scheme.
func MailtoAddress(uri string) string {
	rest, ok := strings.CutPrefix(strings.TrimSpace(uri), "mailto:")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "!?"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}
