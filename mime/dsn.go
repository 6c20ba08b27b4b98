package mime

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Delivery status notifications: RFC 3464 (message/delivery-status),
// RFC 6522 (multipart/report), RFC 6533 (message/global-delivery-status and
// the utf-8 address type).

// Action is the Action field of a per-recipient group (RFC 3464 §2.3.3),
// lower-cased.
type Action string

// The actions of RFC 3464 §2.3.3.
const (
	ActionFailed    Action = "failed"
	ActionDelayed   Action = "delayed"
	ActionDelivered Action = "delivered"
	ActionRelayed   Action = "relayed"
	ActionExpanded  Action = "expanded"
)

// TypedValue is a DSN field value of the form "type; value": an
// address-type and address (RFC 3464 §2.3.1, §2.3.2), an mta-name-type and
// MTA name (§2.2.2), or a diagnostic-type and text (§2.3.6).
type TypedValue struct {
	Type  string // lower-cased: "rfc822", "utf-8", "dns", "smtp", "x-unix", ...
	Value string // for the utf-8 address type, "\x{...}" escapes are decoded
}

// IsZero reports whether the field was absent.
func (v TypedValue) IsZero() bool { return v.Type == "" && v.Value == "" }

// String returns the field value as written: "type; value".
func (v TypedValue) String() string { return v.Type + "; " + v.Value }

// RecipientStatus is one per-recipient group of a delivery status
// (RFC 3464 §2.3).
type RecipientStatus struct {
	OriginalRecipient TypedValue // Original-Recipient (the ORCPT of RFC 3461)
	FinalRecipient    TypedValue // Final-Recipient (required)
	Action            Action     // Action (required)
	// Status is the enhanced status code "class.subject.detail"
	// (RFC 3463), e.g. "5.1.1" (required).
	Status          string
	RemoteMTA       TypedValue // Remote-MTA
	DiagnosticCode  TypedValue // Diagnostic-Code, e.g. {"smtp", "550 5.1.1 no such user"}
	LastAttemptDate time.Time  // Last-Attempt-Date; zero when absent
	FinalLogID      string     // Final-Log-ID
	WillRetryUntil  time.Time  // Will-Retry-Until (delayed only); zero when absent
	// Fields holds the whole group as read, extension fields included.
	Fields Header
}

// StatusClass returns the class digit of Status: 2 (success), 4
// (persistent transient failure) or 5 (permanent failure); 0 if Status is
// malformed.
func (r *RecipientStatus) StatusClass() int {
	if len(r.Status) < 1 {
		return 0
	}
	switch r.Status[0] {
	case '2', '4', '5':
		return int(r.Status[0] - '0')
	}
	return 0
}

// DeliveryStatus is the content of a message/delivery-status or
// message/global-delivery-status part: the per-message fields and one
// RecipientStatus per recipient (RFC 3464 §2.1).
type DeliveryStatus struct {
	OriginalEnvelopeID string     // Original-Envelope-Id (the ENVID of RFC 3461)
	ReportingMTA       TypedValue // Reporting-MTA (required)
	DSNGateway         TypedValue // DSN-Gateway
	ReceivedFromMTA    TypedValue // Received-From-MTA
	ArrivalDate        time.Time  // Arrival-Date; zero when absent
	// Fields holds the per-message group as read, extension fields included.
	Fields     Header
	Recipients []RecipientStatus
}

// Report is a parsed multipart/report delivery status notification
// (RFC 6522, RFC 3464 §2).
type Report struct {
	// Header is the header of the report message.
	Header Header
	// ReportType is the report-type parameter ("delivery-status").
	ReportType string
	// HumanReadable is the first part, converted to UTF-8, at most
	// MaxHumanReadable bytes.
	HumanReadable string
	// Status is the parsed delivery status.
	Status *DeliveryStatus
	// ReturnedHeader is the header of the returned message
	// (message/rfc822, message/global, text/rfc822-headers or
	// message/global-headers third part); empty when none was returned.
	ReturnedHeader Header
	// Defects are soft errors in the delivery status fields (e.g. a
	// recipient group without Final-Recipient or Status).
	Defects []error
}

// MaxHumanReadable bounds Report.HumanReadable.
const MaxHumanReadable = 64 << 10

// ErrNotReport is returned by ReadReport for a message that holds no
// delivery status part.
var ErrNotReport = errors.New("mime: not a delivery status notification")

// DSNFieldError describes a missing or malformed DSN field; ReadReport
// records it in Report.Defects and goes on.
type DSNFieldError struct {
	Group int    // 0 for the per-message group, i ≥ 1 for the i-th recipient
	Field string // field name
	Err   string
}

// Error names the group and field and says what is wrong.
func (e *DSNFieldError) Error() string {
	return fmt.Sprintf("mime: DSN group %d: %s: %s", e.Group, e.Field, e.Err)
}

// ReadReport reads a delivery status notification: a multipart/report
// message (RFC 6522) with a message/delivery-status or
// message/global-delivery-status part. It also accepts such a part found
// elsewhere in the tree (some MTAs omit report-type, or nest the report).
// It returns ErrNotReport when there is none.
func ReadReport(r io.Reader, lim Limits) (*Report, error) {
	rd := NewReader(r, lim)
	rep := &Report{}
	var text bool
	var prev *Part
	for {
		p, err := rd.NextPart()
		enclosed := prev != nil && prev.IsMessage() && p != nil && p.Depth == prev.Depth+1 && p.HeaderOffset == prev.BodyOffset
		prev = p
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch {
		case p.Depth == 0:
			rep.Header = p.Header
			if p.MediaType == "multipart" && p.SubType == "report" {
				rep.ReportType = strings.ToLower(p.Params["report-type"])
			}
		case p.MediaType == "message" && (p.SubType == "delivery-status" || p.SubType == "global-delivery-status"):
			if rep.Status != nil {
				continue
			}
			ds, defects, err := ParseDeliveryStatus(rd.Body(), lim)
			if err != nil {
				return nil, err
			}
			rep.Status, rep.Defects = ds, append(rep.Defects, defects...)
		case rep.Status == nil && !text && p.MediaType == "text" && p.Disposition != "attachment":
			text = true
			b, err := io.ReadAll(io.LimitReader(rd.Text(), MaxHumanReadable))
			if err != nil {
				return nil, err
			}
			rep.HumanReadable = string(b)
		case rep.Status != nil && rep.ReturnedHeader.Len() == 0 &&
			(p.ContentType() == "text/rfc822-headers" || p.ContentType() == "message/global-headers"):
			h, _ := ReadHeader(bufio.NewReader(rd.Body()), lim)
			rep.ReturnedHeader = h
		case rep.Status != nil && rep.ReturnedHeader.Len() == 0 && enclosed:
			rep.ReturnedHeader = p.Header
		}
	}
	if rep.Status == nil {
		return nil, ErrNotReport
	}
	return rep, nil
}

// ParseDeliveryStatus parses the body of a message/delivery-status or
// message/global-delivery-status part (RFC 3464 §2.1, RFC 6533 §6): a
// per-message group and per-recipient groups of header-like fields,
// separated by blank lines. Missing required fields and malformed values
// are returned as *DSNFieldError defects; only a read error or a limit
// fails the parse.
func ParseDeliveryStatus(r io.Reader, lim Limits) (*DeliveryStatus, []error, error) {
	br := bufio.NewReader(r)
	ds := &DeliveryStatus{}
	var defects []error
	bad := func(g int, field, msg string) {
		defects = append(defects, &DSNFieldError{Group: g, Field: field, Err: msg})
	}
	for g := 0; ; g++ {
		// Blank lines between groups may be repeated.
		if err := skipBlankLines(br); err != nil {
			if err == io.EOF {
				break
			}
			return nil, nil, err
		}
		if g > lim.parts() {
			return nil, nil, &LimitError{Kind: LimitParts, Limit: lim.parts(), Offset: -1}
		}
		h, err := ReadHeader(br, lim)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		if g == 0 {
			ds.Fields = h
			ds.OriginalEnvelopeID = fieldValue(&h, "Original-Envelope-Id")
			ds.ReportingMTA = typedField(&h, "Reporting-MTA", false)
			ds.DSNGateway = typedField(&h, "DSN-Gateway", false)
			ds.ReceivedFromMTA = typedField(&h, "Received-From-MTA", false)
			ds.ArrivalDate = dateField(&h, "Arrival-Date", 0, bad)
			if ds.ReportingMTA.IsZero() {
				bad(0, "Reporting-MTA", "missing")
			}
			continue
		}
		rs := RecipientStatus{Fields: h}
		rs.OriginalRecipient = typedField(&h, "Original-Recipient", true)
		rs.FinalRecipient = typedField(&h, "Final-Recipient", true)
		rs.Action = Action(strings.ToLower(fieldValue(&h, "Action")))
		rs.Status = fieldValue(&h, "Status")
		if i := strings.IndexAny(rs.Status, " \t("); i >= 0 {
			rs.Status = rs.Status[:i] // a comment after the code
		}
		rs.RemoteMTA = typedField(&h, "Remote-MTA", false)
		rs.DiagnosticCode = typedField(&h, "Diagnostic-Code", false)
		rs.LastAttemptDate = dateField(&h, "Last-Attempt-Date", g, bad)
		rs.FinalLogID = fieldValue(&h, "Final-Log-Id")
		rs.WillRetryUntil = dateField(&h, "Will-Retry-Until", g, bad)
		if rs.FinalRecipient.IsZero() {
			bad(g, "Final-Recipient", "missing")
		}
		switch rs.Action {
		case ActionFailed, ActionDelayed, ActionDelivered, ActionRelayed, ActionExpanded:
		case "":
			bad(g, "Action", "missing")
		default:
			bad(g, "Action", "unknown action "+strconv.Quote(string(rs.Action)))
		}
		if !validStatus(rs.Status) {
			bad(g, "Status", "malformed status code "+strconv.Quote(rs.Status))
		}
		ds.Recipients = append(ds.Recipients, rs)
	}
	return ds, defects, nil
}

func skipBlankLines(br *bufio.Reader) error {
	for {
		b, err := br.Peek(1)
		if err != nil {
			return err
		}
		if b[0] != '\r' && b[0] != '\n' {
			return nil
		}
		if _, err := br.ReadByte(); err != nil {
			return err
		}
	}
}

// validStatus checks "class.subject.detail" (RFC 3463 §2; RFC 3464 §2.3.4).
func validStatus(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || len(s) < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || len(parts[0]) != 1 {
		return false
	}
	for _, p := range parts[1:] {
		if len(p) == 0 || len(p) > 3 {
			return false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
	}
	return true
}

// fieldValue returns the unfolded value of a field with comments at the
// ends left alone and surrounding white space removed.
func fieldValue(h *Header, key string) string {
	return strings.TrimSpace(h.Get(key))
}

// typedField parses "type; value". For address fields of the utf-8 type
// the unitext escapes are decoded (RFC 6533 §3).
func typedField(h *Header, key string, address bool) TypedValue {
	v := fieldValue(h, key)
	if v == "" {
		return TypedValue{}
	}
	t, rest, ok := strings.Cut(v, ";")
	if !ok {
		// No type: take it as the value (seen from broken MTAs).
		return TypedValue{Value: v}
	}
	tv := TypedValue{Type: strings.ToLower(strings.TrimSpace(t)), Value: strings.TrimSpace(rest)}
	if address && tv.Type == "utf-8" {
		tv.Value = decodeUnitext(tv.Value)
	}
	return tv
}

func dateField(h *Header, key string, g int, bad func(int, string, string)) time.Time {
	v := fieldValue(h, key)
	if v == "" {
		return time.Time{}
	}
	t, err := ParseDate(v)
	if err != nil {
		bad(g, key, err.Error())
	}
	return t
}

// decodeUnitext replaces each "\x{HEXPOINT}" (RFC 6533 §3) with its
// character; anything malformed is kept as written.
func decodeUnitext(s string) string {
	if !strings.Contains(s, `\x{`) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, `\x{`)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i+3:], '}')
		if j < 2 || j > 6 {
			b.WriteString(s[i : i+3])
			s = s[i+3:]
			continue
		}
		n, err := strconv.ParseUint(s[i+3:i+3+j], 16, 32)
		if err != nil || !utf8.ValidRune(rune(n)) {
			b.WriteString(s[i : i+3])
			s = s[i+3:]
			continue
		}
		b.WriteRune(rune(n))
		s = s[i+4+j:]
	}
}

// encodeUnitext writes a utf-8 type address in its 7-bit utf-8-addr-xtext
// form: non-ASCII, CTLs, SP, "\", "+" and "=" as "\x{HEX}" (RFC 6533 §3).
func encodeUnitext(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		if r > 0x20 && r < 0x7f && r != '\\' && r != '+' && r != '=' {
			b.WriteRune(r)
			continue
		}
		fmt.Fprintf(&b, `\x{%02X}`, r)
	}
	return b.String()
}
