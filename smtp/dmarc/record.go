package dmarc

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// Policy is a Domain Owner Assessment Policy (RFC 9989 §4.7, "p").
type Policy string

// Policies.
const (
	PolicyNone       Policy = "none"
	PolicyQuarantine Policy = "quarantine"
	PolicyReject     Policy = "reject"
)

func parsePolicy(s string) (Policy, bool) {
	switch p := Policy(s); p {
	case PolicyNone, PolicyQuarantine, PolicyReject:
		return p, true
	}
	return "", false
}

// Alignment is an Identifier Alignment mode (RFC 9989 §4.4).
type Alignment byte

// Alignment modes.
const (
	Relaxed Alignment = 'r'
	Strict  Alignment = 's'
)

// Limits on what a record may hold; a longer record or list is cut, not
// processed in full.
const (
	MaxRecordLength = 8192
	maxURIs         = 32
)

// Record is a DMARC Policy Record (RFC 9989 §4.7). Fields have the tags'
// defaults when the tag is absent or its value invalid (§4.8: "Syntax
// errors in the remainder of the record MUST be discarded in favor of
// default values").
type Record struct {
	// Policy is p=; empty when p= is absent or invalid (see PolicyValid).
	Policy Policy
	// SubdomainPolicy (sp=) and NonexistentPolicy (np=) are empty when
	// absent.
	SubdomainPolicy, NonexistentPolicy Policy
	// PolicyValid is false when p= is missing or invalid, or sp= or np=
	// is present but invalid (§4.10.1 then falls back on rua).
	PolicyValid bool
	// ADKIM and ASPF are the alignment modes (default relaxed).
	ADKIM, ASPF Alignment
	// PSD is the psd= flag: 'y', 'n' or 'u' (default).
	PSD byte
	// Testing is t=y (RFC 9989 §4.7).
	Testing bool
	// Pct is RFC 7489's pct= (0 to 100), given when HasPct says so.
	// RFC 9989 Appendix A.6 replaces it with t=; pct=0 counts as t=y.
	Pct    int
	HasPct bool
	// RUA and RUF are the valid reporting URIs, without any obsolete
	// "!size" suffix.
	RUA, RUF []string
	// FailureOptions is fo= as written ("0" by default).
	FailureOptions string
}

// errNotDMARC marks a TXT record that is not a DMARC record.
var errNotDMARC = errors.New("dmarc: not a DMARC record")

// isWSP: WSP = SP / HTAB.
func trimWSP(s string) string { return strings.Trim(s, " \t") }

// isDMARC reports whether txt starts with the tag v=DMARC1 (§4.7: it MUST
// be the first tag; the value is case-sensitive).
func isDMARC(txt string) bool {
	first, _, _ := strings.Cut(txt, ";")
	name, value, ok := strings.Cut(first, "=")
	return ok && trimWSP(name) == "v" && trimWSP(value) == "DMARC1"
}

// ParseRecord parses a DMARC Policy Record. It fails only when txt is not
// a DMARC record at all; invalid tag values fall back to defaults as
// §4.8 requires, and unknown tags are ignored. A tag given twice keeps its
// first value.
func ParseRecord(txt string) (*Record, error) {
	if !isDMARC(txt) {
		return nil, errNotDMARC
	}
	if len(txt) > MaxRecordLength {
		return nil, errors.New("dmarc: record too long")
	}
	r := &Record{ADKIM: Relaxed, ASPF: Relaxed, PSD: 'u', FailureOptions: "0"}
	seen := map[string]bool{}
	pOK, spOK, npOK := false, true, true
	for i, tag := range strings.Split(txt, ";") {
		if i == 0 {
			continue // v=DMARC1
		}
		name, value, ok := strings.Cut(tag, "=")
		name, value = trimWSP(name), trimWSP(value)
		if !ok || name == "" || seen[name] {
			continue
		}
		seen[name] = true
		switch name {
		case "p":
			r.Policy, pOK = parsePolicy(value)
		case "sp":
			r.SubdomainPolicy, spOK = parsePolicy(value)
		case "np":
			r.NonexistentPolicy, npOK = parsePolicy(value)
		case "adkim", "aspf":
			a := Relaxed
			if value == "s" {
				a = Strict
			}
			if name == "adkim" {
				r.ADKIM = a
			} else {
				r.ASPF = a
			}
		case "psd":
			if value == "y" || value == "n" || value == "u" {
				r.PSD = value[0]
			}
		case "t":
			r.Testing = value == "y"
		case "pct":
			if n, err := strconv.Atoi(value); err == nil && n >= 0 && n <= 100 && len(value) <= 3 {
				r.Pct, r.HasPct = n, true
			}
		case "rua":
			r.RUA = parseURIs(value)
		case "ruf":
			r.RUF = parseURIs(value)
		case "fo":
			if validFO(value) {
				r.FailureOptions = value
			}
		}
	}
	r.PolicyValid = pOK && spOK && npOK
	return r, nil
}

// parseURIs keeps the syntactically valid URIs of a dmarc-urilist,
// dropping an obsolete "!size" suffix (§4.8).
func parseURIs(s string) []string {
	var out []string
	for _, u := range strings.Split(s, ",") {
		u = trimWSP(u)
		if i := strings.LastIndexByte(u, '!'); i >= 0 && isReportSize(u[i+1:]) {
			u = trimWSP(u[:i])
		}
		if strings.ContainsFunc(u, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == '!' }) {
			// RFC 3986 URIs have no spaces, controls or raw non-ASCII;
			// §4.8: "!" MUST be encoded.
			continue
		}
		p, err := url.Parse(u)
		if err != nil || p.Scheme == "" || (p.Opaque == "" && p.Host == "") {
			continue
		}
		out = append(out, u)
		if len(out) == maxURIs {
			break
		}
	}
	return out
}

// isReportSize matches obs-dmarc-report-size after its "!":
// 1*DIGIT [ "k" / "m" / "g" / "t" ].
func isReportSize(s string) bool {
	if s != "" && strings.IndexByte("kmgt", s[len(s)-1]) >= 0 {
		s = s[:len(s)-1]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validFO checks dmarc-fo: colon-separated 0, 1, d, s, each at most once,
// 0 and 1 not both.
func validFO(s string) bool {
	seen := map[string]bool{}
	for _, v := range strings.Split(s, ":") {
		v = trimWSP(v)
		if (v != "0" && v != "1" && v != "d" && v != "s") || seen[v] {
			return false
		}
		seen[v] = true
	}
	return !(seen["0"] && seen["1"])
}

// String formats the record for publishing in a TXT record at
// _dmarc.<domain>, leaving out tags that have their default values.
func (r *Record) String() string {
	var b strings.Builder
	b.WriteString("v=DMARC1")
	add := func(k, v string) {
		b.WriteString("; ")
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	}
	p := r.Policy
	if p == "" {
		p = PolicyNone
	}
	add("p", string(p))
	if r.SubdomainPolicy != "" {
		add("sp", string(r.SubdomainPolicy))
	}
	if r.NonexistentPolicy != "" {
		add("np", string(r.NonexistentPolicy))
	}
	if r.ADKIM == Strict {
		add("adkim", "s")
	}
	if r.ASPF == Strict {
		add("aspf", "s")
	}
	if r.PSD == 'y' || r.PSD == 'n' {
		add("psd", string(r.PSD))
	}
	if r.Testing {
		add("t", "y")
	}
	if r.HasPct && r.Pct < 100 {
		add("pct", strconv.Itoa(r.Pct))
	}
	if len(r.RUA) > 0 {
		add("rua", strings.Join(r.RUA, ","))
	}
	if len(r.RUF) > 0 {
		add("ruf", strings.Join(r.RUF, ","))
	}
	if r.FailureOptions != "" && r.FailureOptions != "0" {
		add("fo", r.FailureOptions)
	}
	return b.String()
}
