package dmarc

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Namespace is the XML namespace of RFC 9990 aggregate reports. Reports
// in RFC 7489's format carry none; ParseReport reads both.
const Namespace = "urn:ietf:params:xml:ns:dmarc-2.0"

// Feedback is an aggregate report (RFC 9990 §3.1.1, Appendix A).
type Feedback struct {
	XMLName         xml.Name        `xml:"feedback"`
	Version         string          `xml:"version,omitempty"`
	ReportMetadata  ReportMetadata  `xml:"report_metadata"`
	PolicyPublished PolicyPublished `xml:"policy_published"`
	Records         []ReportRecord  `xml:"record"`
}

// ReportMetadata is report_metadata (§3.1.1.3).
type ReportMetadata struct {
	OrgName          string    `xml:"org_name"`
	Email            string    `xml:"email"`
	ExtraContactInfo string    `xml:"extra_contact_info,omitempty"`
	ReportID         string    `xml:"report_id"`
	DateRange        DateRange `xml:"date_range"`
	Errors           []string  `xml:"error,omitempty"`
	Generator        string    `xml:"generator,omitempty"`
}

// DateRange is the reporting period in seconds since the epoch, UTC
// (§3.1.1.4).
type DateRange struct {
	Begin int64 `xml:"begin"`
	End   int64 `xml:"end"`
}

// PolicyPublished is the policy the reporter found (§3.1.1.5).
type PolicyPublished struct {
	Domain          string `xml:"domain"`
	DiscoveryMethod string `xml:"discovery_method,omitempty"`
	P               string `xml:"p"`
	SP              string `xml:"sp,omitempty"`
	NP              string `xml:"np,omitempty"`
	ADKIM           string `xml:"adkim,omitempty"`
	ASPF            string `xml:"aspf,omitempty"`
	// Pct is RFC 7489's pct, read from older reports.
	Pct     string `xml:"pct,omitempty"`
	FO      string `xml:"fo,omitempty"`
	Testing string `xml:"testing,omitempty"`
}

// ReportRecord is one record: a row of messages with the same outcome
// (§3.1.1.7).
type ReportRecord struct {
	Row         Row         `xml:"row"`
	Identifiers Identifiers `xml:"identifiers"`
	AuthResults AuthResults `xml:"auth_results"`
}

// Row is §3.1.1.8.
type Row struct {
	SourceIP        string          `xml:"source_ip"`
	Count           int64           `xml:"count"`
	PolicyEvaluated PolicyEvaluated `xml:"policy_evaluated"`
}

// PolicyEvaluated is §3.1.1.9.
type PolicyEvaluated struct {
	Disposition string         `xml:"disposition"`
	DKIM        string         `xml:"dkim"`
	SPF         string         `xml:"spf"`
	Reasons     []PolicyReason `xml:"reason,omitempty"`
}

// PolicyReason is §3.1.1.14; Type is one of local_policy, mailing_list,
// other, policy_test_mode, trusted_forwarder (§3.1.6).
type PolicyReason struct {
	Type    string `xml:"type"`
	Comment string `xml:"comment,omitempty"`
}

// Identifiers is §3.1.1.10.
type Identifiers struct {
	HeaderFrom   string `xml:"header_from"`
	EnvelopeFrom string `xml:"envelope_from"`
	EnvelopeTo   string `xml:"envelope_to,omitempty"`
}

// AuthResults is §3.1.1.11.
type AuthResults struct {
	DKIM []DKIMAuthResult `xml:"dkim"`
	SPF  []SPFAuthResult  `xml:"spf"`
}

// DKIMAuthResult is §3.1.1.12.
type DKIMAuthResult struct {
	Domain      string `xml:"domain"`
	Selector    string `xml:"selector"`
	Result      string `xml:"result"`
	HumanResult string `xml:"human_result,omitempty"`
}

// SPFAuthResult is §3.1.1.13.
type SPFAuthResult struct {
	Domain      string `xml:"domain"`
	Scope       string `xml:"scope,omitempty"`
	Result      string `xml:"result"`
	HumanResult string `xml:"human_result,omitempty"`
}

// Limits on reports ParseReport reads (they arrive from anyone).
const (
	// MaxReportSize bounds the XML after decompression.
	MaxReportSize = 32 << 20
	// MaxReportRecords bounds the record elements.
	MaxReportRecords = 100000
	// maxDepth bounds element nesting; the schema needs 5 levels.
	maxDepth = 16
)

// ErrReportTooLarge is returned for a report past MaxReportSize or
// MaxReportRecords.
var ErrReportTooLarge = errors.New("dmarc: aggregate report too large")

// ParseReport reads an aggregate report: XML, or XML compressed with
// gzip or in a zip archive, as reports are mailed (RFC 9990 §3.5.2). It
// reads at most MaxReportSize bytes of XML and MaxReportRecords records,
// rejects nesting deeper than the schema's and a report without the
// required elements.
func ParseReport(r io.Reader) (*Feedback, error) {
	return parseReport(r, MaxReportSize)
}

func parseReport(r io.Reader, maxSize int64) (*Feedback, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(4)
	var xr io.Reader = br
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		xr = zr
	case len(magic) == 4 && string(magic) == "PK\x03\x04":
		raw, err := io.ReadAll(io.LimitReader(br, maxSize+1))
		if err != nil {
			return nil, err
		}
		if int64(len(raw)) > maxSize {
			return nil, ErrReportTooLarge
		}
		zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
		if err != nil {
			return nil, err
		}
		if len(zr.File) != 1 {
			return nil, errors.New("dmarc: zip report must hold exactly one file")
		}
		f, err := zr.File[0].Open()
		if err != nil {
			return nil, err
		}
		defer f.Close()
		xr = f
	}
	lr := &limitedReader{r: xr, n: maxSize}
	fb, err := decodeFeedback(lr)
	if lr.over {
		return nil, ErrReportTooLarge
	}
	return fb, err
}

// limitedReader fails once more than n bytes are read.
type limitedReader struct {
	r    io.Reader
	n    int64
	over bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		l.over = true
		return 0, ErrReportTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// decodeFeedback decodes element by element so depth and record count
// are checked as the document streams.
func decodeFeedback(r io.Reader) (*Feedback, error) {
	d := xml.NewDecoder(r)
	d.Strict = true
	// Only the predefined entities; no external ones, no DTD expansion
	// (encoding/xml expands none).
	var fb *Feedback
	depth := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				if t.Name.Local != "feedback" || (t.Name.Space != "" && t.Name.Space != Namespace) {
					return nil, fmt.Errorf("dmarc: root element %q is not feedback", t.Name.Local)
				}
				if fb != nil {
					return nil, errors.New("dmarc: more than one feedback element")
				}
				fb = &Feedback{}
				depth++
				continue
			}
			if depth != 1 {
				return nil, errors.New("dmarc: unexpected nesting")
			}
			if err := decodeChild(d, t, fb); err != nil {
				return nil, err
			}
		case xml.EndElement:
			depth--
		}
	}
	if fb == nil {
		return nil, errors.New("dmarc: no feedback element")
	}
	if fb.ReportMetadata.OrgName == "" || fb.ReportMetadata.ReportID == "" || fb.PolicyPublished.Domain == "" {
		return nil, errors.New("dmarc: report lacks org_name, report_id or policy domain")
	}
	if len(fb.Records) == 0 {
		return nil, errors.New("dmarc: report without records") // §3.1.1.2
	}
	return fb, nil
}

// decodeChild decodes one first-level element after checking its depth.
func decodeChild(d *xml.Decoder, start xml.StartElement, fb *Feedback) error {
	var raw bytes.Buffer
	enc := xml.NewEncoder(&raw)
	// Copy the element's tokens, checking depth, then decode the copy:
	// the copy is bounded by the size limit the reader enforces.
	depth := 0
	tok := xml.Token(start)
	for {
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth > maxDepth {
				return errors.New("dmarc: report nested too deeply")
			}
			t.Name.Space, t.Attr = "", nil
			tok = t
		case xml.EndElement:
			depth--
			t.Name.Space = ""
			tok = t
		}
		if err := enc.EncodeToken(tok); err != nil {
			return err
		}
		if depth == 0 {
			break
		}
		var err error
		if tok, err = d.Token(); err != nil {
			return err
		}
	}
	if err := enc.Flush(); err != nil {
		return err
	}
	switch start.Name.Local {
	case "version":
		return xml.Unmarshal(raw.Bytes(), &fb.Version)
	case "report_metadata":
		return xml.Unmarshal(raw.Bytes(), &fb.ReportMetadata)
	case "policy_published":
		return xml.Unmarshal(raw.Bytes(), &fb.PolicyPublished)
	case "record":
		if len(fb.Records) >= MaxReportRecords {
			return ErrReportTooLarge
		}
		var rec ReportRecord
		if err := xml.Unmarshal(raw.Bytes(), &rec); err != nil {
			return err
		}
		fb.Records = append(fb.Records, rec)
	}
	// extension and unknown elements are skipped.
	return nil
}

// WriteXML writes the report as an RFC 9990 XML document.
func (f *Feedback) WriteXML(w io.Writer) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	out := *f
	out.XMLName = xml.Name{Local: "feedback"}
	if out.Version == "" {
		out.Version = "1.0"
	}
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	enc.Indent("", " ")
	start := xml.StartElement{Name: xml.Name{Local: "feedback"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: Namespace}}}
	if err := enc.EncodeElement(out, start); err != nil {
		return err
	}
	if err := enc.Flush(); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// String summarises the report for logs.
func (f *Feedback) String() string {
	var n int64
	for _, r := range f.Records {
		n += r.Row.Count
	}
	return strings.Join([]string{f.ReportMetadata.OrgName, f.ReportMetadata.ReportID, f.PolicyPublished.Domain}, " ") + fmt.Sprintf(" records=%d messages=%d", len(f.Records), n)
}
