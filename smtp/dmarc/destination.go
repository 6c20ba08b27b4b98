package dmarc

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// uriHost returns the destination host of a reporting URI: the domain of a
// mailto: address, the host of any other URI; "" when it has none.
func uriHost(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return ""
	}
	if strings.EqualFold(u.Scheme, "mailto") {
		addr := u.Opaque
		if i := strings.IndexByte(addr, '?'); i >= 0 {
			addr = addr[:i]
		}
		addr, _ = url.PathUnescape(addr)
		i := strings.LastIndexByte(addr, '@')
		if i < 0 {
			return ""
		}
		return normalize(addr[i+1:])
	}
	return normalize(u.Hostname())
}

// ReportDestinations returns the rua URIs of a policy domain's record
// that may receive its aggregate reports (RFC 9990 §4). A URI whose host
// has the policy domain's Organizational Domain is used as it is; for any
// other, the host must publish a DMARC1 record at
// <policy-domain>._report._dmarc.<host>, whose own rua, if any, replaces
// the URI (and must name the same host, or neither is used). An error is
// a temporary DNS failure; the caller may retry later.
func (e *Evaluator) ReportDestinations(ctx context.Context, policyDomain string, rua []string) ([]string, error) {
	e.init()
	policyDomain = normalize(policyDomain)
	policyOrg, err := e.OrganizationalDomain(ctx, policyDomain)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, uri := range rua {
		host := uriHost(uri)
		if host == "" {
			continue
		}
		org, err := e.OrganizationalDomain(ctx, host)
		if err != nil {
			return nil, err
		}
		if org == policyOrg {
			out = append(out, uri)
			continue
		}
		name := policyDomain + "._report._dmarc." + host
		if len(name) > 253 {
			continue // step 4: no positive determination
		}
		txts, err := e.Resolver.LookupTXT(ctx, name)
		if err != nil {
			var de *net.DNSError
			if errors.As(err, &de) && de.IsNotFound && !de.IsTemporary && !de.IsTimeout {
				continue
			}
			return nil, &tempError{err}
		}
		var confirm *Record
		for _, t := range txts {
			// Step 6: the record need not be a full policy; v=DMARC1
			// first is what counts.
			if r, err := ParseRecord(t); err == nil {
				confirm = r
				break
			}
		}
		if confirm == nil {
			continue
		}
		if len(confirm.RUA) == 0 {
			out = append(out, uri)
			continue
		}
		// Step 9: an override must keep the destination host.
		ok := true
		for _, o := range confirm.RUA {
			ok = ok && uriHost(o) == host
		}
		if ok {
			out = append(out, confirm.RUA...)
		}
	}
	return out, nil
}

// Filename is the name of the report's attachment (RFC 9990 §3.5.2):
// receiver!policy-domain!begin!end.xml.gz, or .xml when not compressed.
func (r *Report) Filename(receiver string, gzipped bool) string {
	m := r.Feedback.ReportMetadata
	name := normalize(receiver) + "!" + r.Feedback.PolicyPublished.Domain + "!" +
		strconv.FormatInt(m.DateRange.Begin, 10) + "!" + strconv.FormatInt(m.DateRange.End, 10) + ".xml"
	if gzipped {
		name += ".gz"
	}
	return name
}

// Subject is the Subject field value of the report message (RFC 9990
// §3.5.2): "Report Domain: <policy domain> Submitter: <receiver>
// Report-ID: <id>".
func (r *Report) Subject(receiver string) string {
	s := "Report Domain: " + r.Feedback.PolicyPublished.Domain + " Submitter: " + normalize(receiver)
	if id := r.Feedback.ReportMetadata.ReportID; id != "" && isRidText(id) {
		s += " Report-ID: <" + id + ">"
	}
	return s
}

// isRidText checks ridfmt: dot-atom-text ["@" dot-atom-text].
func isRidText(s string) bool {
	for _, part := range strings.SplitN(s, "@", 2) {
		if part == "" || part[0] == '.' || part[len(part)-1] == '.' || strings.Contains(part, "..") {
			return false
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) >= 0) {
				return false
			}
		}
	}
	return true
}

// WriteGzip writes the report's XML compressed with gzip, the form RFC
// 9990 §3.5.2 asks for (media type application/gzip).
func (r *Report) WriteGzip(w io.Writer) error {
	zw := gzip.NewWriter(w)
	if err := r.Feedback.WriteXML(zw); err != nil {
		return err
	}
	return zw.Close()
}
