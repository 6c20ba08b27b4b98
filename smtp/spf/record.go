package spf

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// MaxRecordLength bounds the SPF record ParseRecord accepts. A TXT record
// over UDP rarely exceeds 512 octets (RFC 7208 §3.4); 4096 leaves room for
// several joined strings and keeps a hostile record's parse cheap.
const MaxRecordLength = 4096

// maxTerms bounds the terms of one record.
const maxTerms = 256

// Mechanism names (RFC 7208 §5).
const (
	MechAll     = "all"
	MechInclude = "include"
	MechA       = "a"
	MechMX      = "mx"
	MechPTR     = "ptr"
	MechIP4     = "ip4"
	MechIP6     = "ip6"
	MechExists  = "exists"
)

// Qualifier is the result a directive gives when its mechanism matches
// (RFC 7208 §4.6.2).
type Qualifier byte

// Qualifiers.
const (
	QualPass     Qualifier = '+'
	QualFail     Qualifier = '-'
	QualSoftFail Qualifier = '~'
	QualNeutral  Qualifier = '?'
)

func (q Qualifier) result() Result {
	switch q {
	case QualFail:
		return Fail
	case QualSoftFail:
		return SoftFail
	case QualNeutral:
		return Neutral
	}
	return Pass
}

// Directive is a qualifier and a mechanism (RFC 7208 §4.6.1).
type Directive struct {
	Qualifier Qualifier
	// Mechanism is one of the Mech constants.
	Mechanism string
	// Domain is the domain-spec, unexpanded (macros intact); empty where
	// the mechanism has none or it was left out ("a", "mx", "ptr").
	Domain string
	// Net is the network of ip4 and ip6.
	Net netip.Prefix
	// CIDR4 and CIDR6 are the prefix lengths of a and mx ("a/24//64"),
	// given when HasCIDR4 and HasCIDR6 say so.
	CIDR4, CIDR6       int
	HasCIDR4, HasCIDR6 bool
}

// Modifier is a name=value term other than redirect and exp, which the
// evaluation ignores (RFC 7208 §6).
type Modifier struct {
	Name, Value string
}

// Record is a parsed SPF record (RFC 7208 §4.5, §12).
type Record struct {
	Directives []Directive
	// Redirect and Exp are the domain-specs of the redirect= and exp=
	// modifiers, empty when absent.
	Redirect, Exp string
	// Unknown lists the other modifiers in order.
	Unknown []Modifier

	names []string // Directives[i].String(), made once by ParseRecord
}

// mechanism returns the text of directive i for Outcome.Mechanism.
func (r *Record) mechanism(i int) string {
	if i < len(r.names) {
		return r.names[i]
	}
	return r.Directives[i].String()
}

// SyntaxError describes why a record is not valid SPF; evaluation turns it
// into permerror.
type SyntaxError struct {
	Term   string
	Reason string
}

func (e *SyntaxError) Error() string {
	if e.Term == "" {
		return "spf: " + e.Reason
	}
	return "spf: " + e.Reason + ": " + strconv.Quote(e.Term)
}

// errNotSPF marks a TXT record that is not an SPF record at all.
var errNotSPF = errors.New("spf: not an SPF record")

// isSPF reports whether a TXT record is an SPF version 1 record: "v=spf1"
// then a space or the end (RFC 7208 §4.5; the version is case-insensitive).
func isSPF(txt string) bool {
	if len(txt) < 6 || !strings.EqualFold(txt[:6], "v=spf1") {
		return false
	}
	return len(txt) == 6 || txt[6] == ' '
}

// ParseRecord parses an SPF record, checking the whole record's syntax as
// evaluation must before it interprets any term (RFC 7208 §4.6).
func ParseRecord(txt string) (*Record, error) {
	if !isSPF(txt) {
		return nil, errNotSPF
	}
	if len(txt) > MaxRecordLength {
		return nil, &SyntaxError{Reason: "record too long"}
	}
	for i := 0; i < len(txt); i++ {
		if c := txt[i]; c < 0x20 || c > 0x7e {
			// RFC 7208 §3.1: records are 7-bit ASCII; §12: terms are
			// separated by SP only.
			return nil, &SyntaxError{Reason: "character outside printable ASCII"}
		}
	}
	r := &Record{}
	hasRedirect, hasExp := false, false
	for i, term := range strings.Split(txt[6:], " ") {
		if term == "" {
			continue
		}
		if i > maxTerms {
			return nil, &SyntaxError{Reason: "too many terms"}
		}
		if name, value, ok := strings.Cut(term, "="); ok && isModifierName(name) {
			switch strings.ToLower(name) {
			case "redirect":
				if hasRedirect {
					return nil, &SyntaxError{Term: term, Reason: "second redirect modifier"} // §6
				}
				hasRedirect = true
				if err := checkDomainSpec(value); err != nil {
					return nil, &SyntaxError{Term: term, Reason: err.Error()}
				}
				r.Redirect = value
			case "exp":
				if hasExp {
					return nil, &SyntaxError{Term: term, Reason: "second exp modifier"} // §6
				}
				hasExp = true
				if err := checkDomainSpec(value); err != nil {
					return nil, &SyntaxError{Term: term, Reason: err.Error()}
				}
				r.Exp = value
			default:
				if err := checkMacroString(value, false); err != nil {
					return nil, &SyntaxError{Term: term, Reason: err.Error()}
				}
				r.Unknown = append(r.Unknown, Modifier{Name: name, Value: value})
			}
			continue
		}
		d, err := parseDirective(term)
		if err != nil {
			return nil, &SyntaxError{Term: term, Reason: err.Error()}
		}
		r.Directives = append(r.Directives, d)
	}
	r.names = make([]string, len(r.Directives))
	for i, d := range r.Directives {
		r.names[i] = d.String()
	}
	return r, nil
}

// isModifierName: name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ).
func isModifierName(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func parseDirective(term string) (Directive, error) {
	d := Directive{Qualifier: QualPass}
	switch term[0] {
	case '+', '-', '~', '?':
		d.Qualifier = Qualifier(term[0])
		term = term[1:]
	}
	end := strings.IndexAny(term, ":/")
	if end < 0 {
		end = len(term)
	}
	name, rest := strings.ToLower(term[:end]), term[end:]
	d.Mechanism = name
	switch name {
	case MechAll:
		if rest != "" {
			return d, errors.New("all takes no argument")
		}
	case MechInclude, MechExists:
		if !strings.HasPrefix(rest, ":") {
			return d, errors.New(name + " needs a domain")
		}
		d.Domain = rest[1:]
		return d, checkDomainSpec(d.Domain)
	case MechA, MechMX:
		rest, c4, c6, err := dualCIDR(rest)
		if err != nil {
			return d, err
		}
		if c4 >= 0 {
			d.CIDR4, d.HasCIDR4 = c4, true
		}
		if c6 >= 0 {
			d.CIDR6, d.HasCIDR6 = c6, true
		}
		if rest != "" {
			if rest[0] != ':' {
				return d, errors.New("bad argument")
			}
			d.Domain = rest[1:]
			return d, checkDomainSpec(d.Domain)
		}
	case MechPTR:
		if rest != "" {
			if rest[0] != ':' {
				return d, errors.New("bad argument")
			}
			d.Domain = rest[1:]
			return d, checkDomainSpec(d.Domain)
		}
	case MechIP4, MechIP6:
		if !strings.HasPrefix(rest, ":") {
			return d, errors.New(name + " needs an address")
		}
		addr, bits := rest[1:], -1
		if i := strings.IndexByte(addr, '/'); i >= 0 {
			max := 32
			if name == MechIP6 {
				max = 128
			}
			n, err := cidrLength(addr[i+1:], max)
			if err != nil {
				return d, err
			}
			addr, bits = addr[:i], n
		}
		ip, err := netip.ParseAddr(addr)
		if err != nil || ip.Zone() != "" || (name == MechIP4) != ip.Is4() {
			return d, errors.New("bad address")
		}
		if name == MechIP4 && !strictDottedQuad(addr) {
			return d, errors.New("bad address")
		}
		if bits < 0 {
			bits = ip.BitLen()
		}
		d.Net = netip.PrefixFrom(ip, bits).Masked()
	default:
		return d, errors.New("unknown mechanism")
	}
	return d, nil
}

// strictDottedQuad: ip4-network = qnum "." qnum "." qnum "." qnum, with
// no leading zeros (RFC 7208 §5.6). netip.ParseAddr already refuses
// leading zeros; this also refuses an IPv4-mapped form.
func strictDottedQuad(s string) bool {
	return strings.Count(s, ".") == 3 && !strings.Contains(s, ":")
}

// dualCIDR strips "/n", "//n" or "/n//m" from the end of an a or mx
// argument (RFC 7208 §5.6 dual-cidr-length).
func dualCIDR(s string) (rest string, c4, c6 int, err error) {
	c4, c6 = -1, -1
	if i := strings.LastIndex(s, "//"); i >= 0 && isAllDigits(s[i+2:]) {
		if c6, err = cidrLength(s[i+2:], 128); err != nil {
			return "", 0, 0, err
		}
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '/'); i >= 0 && isAllDigits(s[i+1:]) {
		if c4, err = cidrLength(s[i+1:], 32); err != nil {
			return "", 0, 0, err
		}
		s = s[:i]
	}
	if strings.Contains(s, "/") && !strings.HasPrefix(s, ":") {
		return "", 0, 0, errors.New("bad prefix length")
	}
	return s, c4, c6, nil
}

func isAllDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// cidrLength: "0" / %x31-39 0*1DIGIT (or 0*2DIGIT for IPv6), at most max.
func cidrLength(s string, max int) (int, error) {
	if s == "" || len(s) > 3 || !isAllDigits(s) || (len(s) > 1 && s[0] == '0') {
		return 0, errors.New("bad prefix length")
	}
	n, _ := strconv.Atoi(s)
	if n > max {
		return 0, errors.New("prefix length too large")
	}
	return n, nil
}

// checkDomainSpec checks domain-spec = macro-string domain-end, where
// domain-end = ( "." toplabel [ "." ] ) / macro-expand (RFC 7208 §7.1).
func checkDomainSpec(s string) error {
	if s == "" {
		return errors.New("empty domain")
	}
	if err := checkMacroString(s, false); err != nil {
		return err
	}
	if strings.HasSuffix(s, "}") {
		// Ends with a macro-expand: whether it is one is for the
		// macro-string check above; "%%}" would be a literal.
		if i := strings.LastIndex(s, "%{"); i >= 0 && !strings.Contains(s[i:], "%%") {
			return nil
		}
	}
	t := strings.TrimSuffix(s, ".")
	i := strings.LastIndexByte(t, '.')
	if i < 0 {
		return errors.New("domain without a top label")
	}
	if !isTopLabel(t[i+1:]) {
		return errors.New("bad top label")
	}
	return nil
}

// isTopLabel: ( *alphanum ALPHA *alphanum ) /
// ( 1*alphanum "-" *( alphanum / "-" ) alphanum ).
func isTopLabel(l string) bool {
	if l == "" {
		return false
	}
	alpha := false
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case isAlpha(c):
			alpha = true
		case isDigit(c):
		case c == '-':
			if i == 0 || i == len(l)-1 {
				return false
			}
			alpha = true // the second form: digits with a hyphen inside
		default:
			return false
		}
	}
	return alpha
}
