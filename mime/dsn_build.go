package mime

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// ReportBuilder describes a delivery status notification to write: a
// multipart/report (RFC 6522) with a human-readable part, the delivery
// status (RFC 3464) and the returned message or its header. A mail
// server's queue fills one in when delivery fails, is delayed, or a
// success notification was asked for (RFC 3461 NOTIFY).
//
// The zero values of optional fields give sensible defaults. Values that
// contain CR or LF are rejected (a field can never inject a header line).
type ReportBuilder struct {
	// From is the report's From field, e.g.
	// "Mail Delivery System <MAILER-DAEMON@mx.example.org>". Required.
	From string
	// To is the recipient of the report: the original envelope sender.
	// Required.
	To string
	// Subject defaults to one derived from the recipients' actions
	// ("Undelivered Mail Returned to Sender", "Delayed Mail", ...).
	Subject string
	// Date defaults to time.Now().
	Date time.Time
	// MessageID defaults to a random <...@host of Reporting-MTA>.
	MessageID string
	// Text is the human-readable explanation (UTF-8). It defaults to a
	// short text listing each recipient, its action, status and diagnostic.
	Text string
	// Status is the delivery status. Status.ReportingMTA and each
	// recipient's FinalRecipient, Action and Status are required. Extension
	// fields may be given in the Fields headers; they are written after
	// the standard ones.
	Status DeliveryStatus
	// Original is the message the report is about; nil returns nothing.
	Original io.Reader
	// HeadersOnly returns only the original header, as text/rfc822-headers
	// (RET=HDRS, RFC 3461 §4.3), instead of the whole message.
	HeadersOnly bool
	// Global writes an internationalised report (RFC 6533):
	// message/global-delivery-status with addresses of the utf-8 type in
	// UTF-8, and message/global or message/global-headers for the original.
	// Without it, utf-8 addresses are written in their 7-bit
	// "\x{HEX}" form.
	Global bool
}

// errReportField is wrapped by the errors of a ReportBuilder missing a required field.
var errReportField = errors.New("mime: report: missing required field")

// WriteTo writes the report message to w, with CRLF line ends.
func (b *ReportBuilder) WriteTo(w io.Writer) (int64, error) {
	cw := &dsnCountWriter{w: w}
	err := b.write(cw)
	return cw.n, err
}

func (b *ReportBuilder) write(w io.Writer) error {
	if b.From == "" || b.To == "" || b.Status.ReportingMTA.IsZero() || len(b.Status.Recipients) == 0 {
		return fmt.Errorf("%w (From, To, Status.ReportingMTA and one recipient are required)", errReportField)
	}
	for i, r := range b.Status.Recipients {
		if r.FinalRecipient.IsZero() || r.Action == "" || !validStatus(r.Status) {
			return fmt.Errorf("%w: recipient %d needs FinalRecipient, Action and a valid Status", errReportField, i+1)
		}
	}
	date := b.Date
	if date.IsZero() {
		date = time.Now()
	}
	msgID := b.MessageID
	if msgID == "" {
		msgID = NewMessageID(b.Status.ReportingMTA.Value)
	}
	mw := NewMultipartWriter(w)
	var h Header
	for _, f := range [][2]string{
		{"From", b.From},
		{"To", b.To},
		{"Subject", b.subject()},
		{"Date", FormatDate(date)},
		{"Message-ID", msgID},
		{"MIME-Version", "1.0"},
		// RFC 3834 §5: reports are automatic replies.
		{"Auto-Submitted", "auto-replied"},
		{"Content-Type", mw.ContentType("report", map[string]string{"report-type": "delivery-status"})},
	} {
		v := f[1]
		if f[0] == "Subject" && !dsnASCII(v) {
			v = EncodeWords(v)
		}
		if err := h.Add(f[0], v); err != nil {
			return err
		}
	}
	if _, err := h.WriteTo(w); err != nil {
		return err
	}

	// 1. The human-readable part (RFC 6522 §3).
	text := b.Text
	if text == "" {
		text = b.defaultText()
	}
	var ph Header
	cte := "7bit"
	if !dsnASCII(text) || dsnLongLine(text, 78) {
		cte = "quoted-printable"
	}
	ph.Add("Content-Type", "text/plain; charset=utf-8")
	ph.Add("Content-Transfer-Encoding", cte)
	pw, err := mw.CreatePart(&ph)
	if err != nil {
		return err
	}
	enc := NewTransferEncoder(pw, cte, true)
	if _, err := io.WriteString(enc, text); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}

	// 2. The delivery status (RFC 3464 §2, RFC 6533 §6).
	var sh Header
	if b.Global {
		sh.Add("Content-Type", "message/global-delivery-status")
	} else {
		sh.Add("Content-Type", "message/delivery-status")
	}
	pw, err = mw.CreatePart(&sh)
	if err != nil {
		return err
	}
	if err := b.writeStatus(pw); err != nil {
		return err
	}

	// 3. The original message or its header.
	if b.Original != nil {
		if err := b.writeOriginal(mw); err != nil {
			return err
		}
	}
	return mw.Close()
}

func (b *ReportBuilder) subject() string {
	if b.Subject != "" {
		return b.Subject
	}
	worst := ActionDelivered
	for _, r := range b.Status.Recipients {
		switch {
		case r.Action == ActionFailed:
			worst = ActionFailed
		case r.Action == ActionDelayed && worst != ActionFailed:
			worst = ActionDelayed
		}
	}
	switch worst {
	case ActionFailed:
		return "Undelivered Mail Returned to Sender"
	case ActionDelayed:
		return "Delayed Mail (still being retried)"
	}
	return "Successful Mail Delivery Report"
}

func (b *ReportBuilder) defaultText() string {
	var s strings.Builder
	fmt.Fprintf(&s, "This is the mail system at host %s.\r\n\r\n", b.Status.ReportingMTA.Value)
	for _, r := range b.Status.Recipients {
		switch r.Action {
		case ActionFailed:
			s.WriteString("Your message could not be delivered to:\r\n")
		case ActionDelayed:
			s.WriteString("Delivery of your message has been delayed to:\r\n")
		default:
			fmt.Fprintf(&s, "Your message was %s to:\r\n", r.Action)
		}
		fmt.Fprintf(&s, "\r\n    %s (status %s)\r\n", r.FinalRecipient.Value, r.Status)
		if !r.DiagnosticCode.IsZero() {
			fmt.Fprintf(&s, "    %s\r\n", r.DiagnosticCode.Value)
		}
		s.WriteString("\r\n")
	}
	return s.String()
}

// writeStatus writes the per-message group and one group per recipient,
// separated by blank lines.
func (b *ReportBuilder) writeStatus(w io.Writer) error {
	ds := &b.Status
	var g Header
	add := func(h *Header, key, v string) error {
		if v == "" {
			return nil
		}
		if !b.Global && !dsnASCII(v) {
			return &FieldError{Key: key, Reason: "non-ASCII value in a message/delivery-status (set Global)"}
		}
		return h.Add(key, v)
	}
	typed := func(h *Header, key string, v TypedValue, address bool) error {
		if v.IsZero() {
			return nil
		}
		t := v.Type
		if t == "" {
			t = "rfc822"
		}
		val := v.Value
		if address && strings.EqualFold(t, "utf-8") && !b.Global {
			val = encodeUnitext(val)
		}
		return add(h, key, t+"; "+val)
	}
	date := func(h *Header, key string, t time.Time) error {
		if t.IsZero() {
			return nil
		}
		return h.Add(key, FormatDate(t))
	}
	errs := []error{
		add(&g, "Original-Envelope-Id", ds.OriginalEnvelopeID),
		typed(&g, "Reporting-MTA", ds.ReportingMTA, false),
		typed(&g, "DSN-Gateway", ds.DSNGateway, false),
		typed(&g, "Received-From-MTA", ds.ReceivedFromMTA, false),
		date(&g, "Arrival-Date", ds.ArrivalDate),
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := appendExtensions(&g, &ds.Fields, perMessageFields); err != nil {
		return err
	}
	if err := writeGroup(w, &g, true); err != nil {
		return err
	}
	for i := range ds.Recipients {
		r := &ds.Recipients[i]
		var rh Header
		errs := []error{
			typed(&rh, "Original-Recipient", r.OriginalRecipient, true),
			typed(&rh, "Final-Recipient", r.FinalRecipient, true),
			add(&rh, "Action", string(r.Action)),
			add(&rh, "Status", r.Status),
			typed(&rh, "Remote-MTA", r.RemoteMTA, false),
			typed(&rh, "Diagnostic-Code", r.DiagnosticCode, false),
			date(&rh, "Last-Attempt-Date", r.LastAttemptDate),
			add(&rh, "Final-Log-ID", r.FinalLogID),
			date(&rh, "Will-Retry-Until", r.WillRetryUntil),
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
		if err := appendExtensions(&rh, &r.Fields, perRecipientFields); err != nil {
			return err
		}
		if err := writeGroup(w, &rh, false); err != nil {
			return err
		}
	}
	return nil
}

// writeGroup writes a group of fields, after a blank line unless it is the
// first: the last group must not end with a blank line, or readers see an
// empty group before the next delimiter.
func writeGroup(w io.Writer, h *Header, first bool) error {
	if !first {
		if _, err := io.WriteString(w, "\r\n"); err != nil {
			return err
		}
	}
	for _, f := range h.Fields() {
		if _, err := w.Write(f.Raw); err != nil {
			return err
		}
	}
	return nil
}

var perMessageFields = []string{"Original-Envelope-Id", "Reporting-MTA", "DSN-Gateway", "Received-From-MTA", "Arrival-Date"}

var perRecipientFields = []string{"Original-Recipient", "Final-Recipient", "Action", "Status", "Remote-MTA",
	"Diagnostic-Code", "Last-Attempt-Date", "Final-Log-Id", "Will-Retry-Until"}

// appendExtensions copies the fields of from that are not standard ones.
func appendExtensions(to, from *Header, std []string) error {
	for _, f := range from.Fields() {
		if f.Key == "" {
			continue
		}
		skip := false
		for _, k := range std {
			if strings.EqualFold(k, f.Key) {
				skip = true
				break
			}
		}
		if !skip {
			if err := to.Add(f.Key, strings.TrimSpace(f.Value())); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *ReportBuilder) writeOriginal(mw *MultipartWriter) error {
	var h Header
	switch {
	case b.HeadersOnly && b.Global:
		h.Add("Content-Type", "message/global-headers")
	case b.HeadersOnly:
		h.Add("Content-Type", "text/rfc822-headers")
	case b.Global:
		h.Add("Content-Type", "message/global")
	default:
		h.Add("Content-Type", "message/rfc822")
	}
	pw, err := mw.CreatePart(&h)
	if err != nil {
		return err
	}
	br := bufio.NewReader(b.Original)
	if b.HeadersOnly {
		oh, err := ReadHeader(br, Limits{})
		if err != nil && err != io.EOF {
			var le *LimitError
			if !errors.As(err, &le) {
				return err
			}
		}
		for _, f := range oh.Fields() {
			if err := writeCRLF(pw, f.Raw); err != nil {
				return err
			}
		}
		return nil
	}
	// The whole message, with line ends made CRLF so that the report is
	// canonical whatever the store keeps.
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			line = bytes.TrimRight(line, "\r\n")
			if _, werr := pw.Write(line); werr != nil {
				return werr
			}
			if err == nil {
				if _, werr := io.WriteString(pw, "\r\n"); werr != nil {
					return werr
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil && err != bufio.ErrBufferFull {
			return err
		}
	}
}

func dsnASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func dsnLongLine(s string, n int) bool {
	for _, l := range strings.Split(s, "\n") {
		if len(l) > n {
			return true
		}
	}
	return false
}

type dsnCountWriter struct {
	w io.Writer
	n int64
}

func (c *dsnCountWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writeCRLF writes b with every line end made CRLF.
func writeCRLF(w io.Writer, b []byte) error {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			_, err := w.Write(b)
			return err
		}
		line := bytes.TrimRight(b[:i], "\r")
		if _, err := w.Write(line); err != nil {
			return err
		}
		if _, err := io.WriteString(w, "\r\n"); err != nil {
			return err
		}
		b = b[i+1:]
	}
	return nil
}
