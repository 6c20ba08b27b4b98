package dmarc

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/posthorn/posthorn/smtp/authres"
)

// FailureReport is a DMARC failure report (RFC 9991): an authentication
// failure report in the Abuse Reporting Format (RFC 6591 over RFC 5965)
// with Auth-Failure: dmarc and RFC 9991 §4's Identity-Alignment field.
// Evaluation.FailureReport fills in what the evaluation knows; the
// receiver adds the rest (SourceIP, the envelope, Original) before
// WriteMessage. ParseFailureReport reads one.
type FailureReport struct {
	// UserAgent names the reporting software (RFC 5965 §3.1, required).
	UserAgent string
	// AuthFailure is the Auth-Failure field: "dmarc" for these reports
	// (RFC 9991 §4 item 3).
	AuthFailure string
	// AuthenticationResults is the value of an Authentication-Results
	// field with the DMARC result (RFC 6591 §3.1, required).
	AuthenticationResults string
	// IdentityAlignment lists the mechanisms that failed to authenticate
	// an aligned identifier, "dkim" and "spf"; empty means "none" (RFC
	// 9991 §4 item 2, required).
	IdentityAlignment []string
	// DeliveryResult is "delivered", "spam", "policy", "reject" or
	// "other" (RFC 6591 §3.1; optional).
	DeliveryResult string
	// DKIMDomain, DKIMIdentity and DKIMSelector describe a failed
	// signature of an aligned domain (RFC 9991 §4: required then).
	DKIMDomain, DKIMIdentity, DKIMSelector string
	// SPFDNS is the SPF-DNS field for an SPF failure of an aligned
	// identifier (RFC 6591 §3.2: "txt : domain : record").
	SPFDNS string
	// OriginalEnvelopeID, OriginalMailFrom and OriginalRcptTo are the
	// reported message's envelope (RFC 5965 §3.2; optional).
	OriginalEnvelopeID, OriginalMailFrom, OriginalRcptTo string
	// SourceIP and SourcePort are the SMTP client's (optional).
	SourceIP   netip.Addr
	SourcePort int
	// ReportedDomain is the Author Domain.
	ReportedDomain string
	// ArrivalDate is when the message arrived (optional).
	ArrivalDate time.Time
	// Original is the reported message, or its header alone when
	// HeadersOnly (RFC 6591 §3.3: text/rfc822-headers), as much as the
	// receiver's privacy policy allows (RFC 9991 §7).
	Original    []byte
	HeadersOnly bool
}

// FailureReportWanted reports whether the policy asks for a DMARC
// failure report about this evaluation (RFC 9989 §4.7 ruf= and fo=): a
// ruf= URI, no psd=y (RFC 9991 §2: its ruf is not considered), and under
// fo=0 (the default) no aligned pass at all, under fo=1 a mechanism
// without an aligned pass. The d and s options ask for DKIM and SPF
// failure reports (RFC 6651, RFC 6652), which this package does not
// build.
func (e *Evaluation) FailureReportWanted() bool {
	r := e.Record
	if r == nil || len(r.RUF) == 0 || r.PSD == 'y' || e.Result == TempError || e.Result == None {
		return false
	}
	any := false
	for opt := range strings.SplitSeq(r.FailureOptions, ":") {
		if strings.TrimSpace(opt) == "1" {
			any = true
		}
	}
	if any {
		return !e.SPFAligned || !e.DKIMAligned
	}
	return e.Result == Fail
}

// FailureReport starts the failure report of an evaluation of m: the
// Authentication-Results value (authServID; the DMARC result and m's SPF
// and DKIM results), Identity-Alignment, Reported-Domain and, for a
// signature of an aligned domain that did not pass, the DKIM fields.
func (e *Evaluation) FailureReport(authServID string, m *Message) *FailureReport {
	fr := &FailureReport{AuthFailure: "dmarc", ReportedDomain: e.AuthorDomain}
	h := authres.Header{AuthServID: authServID}
	if m != nil && m.SPF.Result != "" {
		h.Results = append(h.Results, authres.Result{Method: "spf", Value: strings.ToLower(m.SPF.Result),
			Props: []authres.Prop{{Type: "smtp", Name: "mailfrom", Value: m.SPF.Domain}}})
	}
	if m != nil {
		for _, k := range m.DKIM {
			h.Results = append(h.Results, authres.Result{Method: "dkim", Value: strings.ToLower(k.Result),
				Props: []authres.Prop{{Type: "header", Name: "d", Value: k.Domain}, {Type: "header", Name: "s", Value: k.Selector}}})
			if fr.DKIMDomain == "" && !strings.EqualFold(k.Result, "pass") && k.Domain != "" &&
				(normalize(k.Domain) == e.AuthorDomain || strings.HasSuffix(normalize(k.Domain), "."+e.OrgDomain) || normalize(k.Domain) == e.OrgDomain) {
				fr.DKIMDomain, fr.DKIMIdentity, fr.DKIMSelector = normalize(k.Domain), "@"+normalize(k.Domain), k.Selector
			}
		}
	}
	h.Results = append(h.Results, e.AuthResult())
	if v, err := h.Format(); err == nil {
		fr.AuthenticationResults = v
	}
	if !e.DKIMAligned {
		fr.IdentityAlignment = append(fr.IdentityAlignment, "dkim")
	}
	if !e.SPFAligned {
		fr.IdentityAlignment = append(fr.IdentityAlignment, "spf")
	}
	return fr
}

// FailureMessageOptions are the header fields of a failure report
// message.
type FailureMessageOptions struct {
	// From and To are the report's sender and recipient (To from a ruf=
	// mailto: URI, see MailtoAddress). Required.
	From, To string
	// Date is the Date field; zero means now.
	Date time.Time
	// MessageID is the Message-ID without angle brackets; empty means
	// none (the submission server adds one).
	MessageID string
}

// fields returns the message/feedback-report fields in RFC 5965 order,
// with an error when a value would inject a line.
func (r *FailureReport) fields() ([][2]string, error) {
	align := "none"
	if len(r.IdentityAlignment) > 0 {
		align = strings.Join(r.IdentityAlignment, ", ")
	}
	authFailure := r.AuthFailure
	if authFailure == "" {
		authFailure = "dmarc"
	}
	ua := r.UserAgent
	if ua == "" {
		ua = "posthorn"
	}
	f := [][2]string{{"Feedback-Type", "auth-failure"}, {"User-Agent", ua}, {"Version", "1"},
		{"Auth-Failure", authFailure}, {"Authentication-Results", r.AuthenticationResults}, {"Identity-Alignment", align}}
	add := func(name, value string) {
		if value != "" {
			f = append(f, [2]string{name, value})
		}
	}
	add("Delivery-Result", r.DeliveryResult)
	add("DKIM-Domain", r.DKIMDomain)
	add("DKIM-Identity", r.DKIMIdentity)
	add("DKIM-Selector", r.DKIMSelector)
	add("SPF-DNS", r.SPFDNS)
	if !r.ArrivalDate.IsZero() {
		add("Arrival-Date", r.ArrivalDate.Format(time.RFC1123Z))
	}
	add("Original-Envelope-Id", r.OriginalEnvelopeID)
	add("Original-Mail-From", r.OriginalMailFrom)
	add("Original-Rcpt-To", r.OriginalRcptTo)
	if r.SourceIP.IsValid() {
		add("Source-IP", r.SourceIP.String())
	}
	if r.SourcePort > 0 {
		add("Source-Port", strconv.Itoa(r.SourcePort))
	}
	add("Reported-Domain", r.ReportedDomain)
	for _, kv := range f {
		if strings.ContainsAny(kv[1], "\r\n\x00") {
			return nil, ErrHeaderInjection
		}
	}
	return f, nil
}

// WriteMessage writes the report as a multipart/report message
// (report-type=feedback-report, RFC 5965 §2): a text part, the
// message/feedback-report part and the reported message
// (message/rfc822) or its header (text/rfc822-headers), base64-encoded
// so that any content passes any relay.
func (r *FailureReport) WriteMessage(w io.Writer, o FailureMessageOptions) error {
	for _, v := range []string{o.From, o.To, o.MessageID} {
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
	fields, err := r.fields()
	if err != nil {
		return err
	}
	date := o.Date
	if date.IsZero() {
		date = time.Now()
	}
	const boundary = "=_dmarc_failure_report_"
	bw := bufio.NewWriter(w)
	bw.WriteString("From: " + o.From + "\r\nTo: " + o.To + "\r\n")
	bw.WriteString("Subject: " + mime.QEncoding.Encode("utf-8", "DMARC failure report for "+r.ReportedDomain) + "\r\n")
	bw.WriteString("Date: " + date.Format(time.RFC1123Z) + "\r\n")
	if o.MessageID != "" {
		bw.WriteString("Message-ID: <" + o.MessageID + ">\r\n")
	}
	bw.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report;\r\n\tboundary=\"" + boundary + "\"\r\n\r\n")
	bw.WriteString("--" + boundary + "\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
	bw.WriteString("This is a DMARC failure report (RFC 9991) for a message from " + r.ReportedDomain)
	if r.SourceIP.IsValid() {
		bw.WriteString(" received from " + r.SourceIP.String())
	}
	bw.WriteString(".\r\n--" + boundary + "\r\nContent-Type: message/feedback-report\r\n\r\n")
	for _, kv := range fields {
		bw.WriteString(kv[0] + ": " + kv[1] + "\r\n")
	}
	if r.Original != nil {
		ct := "message/rfc822"
		if r.HeadersOnly {
			ct = "text/rfc822-headers"
		}
		bw.WriteString("\r\n--" + boundary + "\r\nContent-Type: " + ct + "\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		enc := base64.StdEncoding.EncodeToString(r.Original)
		for len(enc) > 76 {
			bw.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		bw.WriteString(enc + "\r\n")
	}
	bw.WriteString("\r\n--" + boundary + "--\r\n")
	return bw.Flush()
}

// Limits on the failure reports ParseFailureReport reads.
const (
	// MaxFailureReportSize bounds the whole report message.
	MaxFailureReportSize = 4 << 20
	// maxReportParts bounds the MIME parts looked at.
	maxReportParts = 16
)

// ErrNotFailureReport is returned for a message that is not a
// multipart/report with a feedback report of type auth-failure.
var ErrNotFailureReport = errors.New("dmarc: not an authentication failure report")

// ParseFailureReport reads a failure report message (RFC 9991, RFC 6591,
// RFC 5965). It reads at most MaxFailureReportSize bytes and 16 MIME
// parts; a longer report is ErrReportTooLarge.
func ParseFailureReport(r io.Reader) (*FailureReport, error) {
	lr := &limitedReader{r: r, n: MaxFailureReportSize}
	msg, err := mail.ReadMessage(bufio.NewReader(lr))
	if err != nil {
		return nil, lr.wrap(err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || !strings.EqualFold(params["report-type"], "feedback-report") || params["boundary"] == "" {
		return nil, ErrNotFailureReport
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var fr *FailureReport
	var original []byte
	headersOnly := false
	for i := 0; ; i++ {
		if i == maxReportParts {
			return nil, ErrReportTooLarge
		}
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, lr.wrap(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		var body io.Reader = p
		if strings.EqualFold(strings.TrimSpace(p.Header.Get("Content-Transfer-Encoding")), "base64") {
			body = base64.NewDecoder(base64.StdEncoding, &crlfDropper{r: p})
		}
		switch ct {
		case "message/feedback-report":
			if fr != nil {
				return nil, ErrNotFailureReport // one per report (RFC 5965 §2)
			}
			if fr, err = parseFeedbackFields(body); err != nil {
				return nil, lr.wrap(err)
			}
		case "message/rfc822", "text/rfc822-headers", "message/rfc822-headers":
			if original == nil {
				if original, err = io.ReadAll(body); err != nil {
					return nil, lr.wrap(err)
				}
				headersOnly = ct != "message/rfc822"
			}
		}
	}
	if fr == nil {
		return nil, ErrNotFailureReport
	}
	fr.Original, fr.HeadersOnly = original, headersOnly
	return fr, nil
}

// wrap turns a read error past the limit into ErrReportTooLarge.
func (l *limitedReader) wrap(err error) error {
	if l.over || errors.Is(err, ErrReportTooLarge) {
		return ErrReportTooLarge
	}
	return err
}

// crlfDropper passes a base64 body without its line breaks (the stdlib
// decoder skips them too; this also drops stray spaces).
type crlfDropper struct{ r io.Reader }

func (c *crlfDropper) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	j := 0
	for _, b := range p[:n] {
		if b != '\r' && b != '\n' && b != ' ' && b != '\t' {
			p[j] = b
			j++
		}
	}
	return j, err
}

// parseFeedbackFields reads the message/feedback-report fields.
func parseFeedbackFields(r io.Reader) (*FailureReport, error) {
	h, err := textproto.NewReader(bufio.NewReader(r)).ReadMIMEHeader()
	if err != nil && !(errors.Is(err, io.EOF) && len(h) > 0) {
		return nil, err
	}
	if !strings.EqualFold(strings.TrimSpace(h.Get("Feedback-Type")), "auth-failure") {
		return nil, ErrNotFailureReport
	}
	get := func(name string) string { return strings.TrimSpace(h.Get(name)) }
	fr := &FailureReport{
		UserAgent: get("User-Agent"), AuthFailure: strings.ToLower(get("Auth-Failure")),
		AuthenticationResults: get("Authentication-Results"), DeliveryResult: get("Delivery-Result"),
		DKIMDomain: get("DKIM-Domain"), DKIMIdentity: get("DKIM-Identity"), DKIMSelector: get("DKIM-Selector"),
		SPFDNS: get("SPF-DNS"), OriginalEnvelopeID: get("Original-Envelope-Id"), OriginalMailFrom: get("Original-Mail-From"),
		OriginalRcptTo: get("Original-Rcpt-To"), ReportedDomain: get("Reported-Domain"),
	}
	// RFC 9991 §4: a comma-separated list, CFWS allowed; "none" is empty.
	for m := range strings.SplitSeq(stripComments(get("Identity-Alignment")), ",") {
		m = strings.ToLower(strings.TrimSpace(m))
		if m != "" && m != "none" {
			fr.IdentityAlignment = append(fr.IdentityAlignment, m)
		}
	}
	if ip, err := netip.ParseAddr(get("Source-IP")); err == nil {
		fr.SourceIP = ip
	}
	if p, err := strconv.Atoi(get("Source-Port")); err == nil && p > 0 && p < 65536 {
		fr.SourcePort = p
	}
	if d, err := mail.ParseDate(get("Arrival-Date")); err == nil {
		fr.ArrivalDate = d
	}
	return fr, nil
}

// stripComments removes RFC 5322 comments (nested, with quoted pairs).
func stripComments(s string) string {
	if !strings.Contains(s, "(") {
		return s
	}
	var b bytes.Buffer
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && depth > 0:
			i++
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}
