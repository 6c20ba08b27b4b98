package spf

import (
	"strconv"
	"strings"
)

// String formats the directive as it appears in a record, with the
// qualifier only when it is not "+".
func (d Directive) String() string {
	var b strings.Builder
	if d.Qualifier != QualPass && d.Qualifier != 0 {
		b.WriteByte(byte(d.Qualifier))
	}
	b.WriteString(d.Mechanism)
	switch d.Mechanism {
	case MechIP4, MechIP6:
		b.WriteByte(':')
		if d.Net.Bits() == d.Net.Addr().BitLen() {
			b.WriteString(d.Net.Addr().String())
		} else {
			b.WriteString(d.Net.String())
		}
		return b.String()
	}
	if d.Domain != "" {
		b.WriteByte(':')
		b.WriteString(d.Domain)
	}
	if d.HasCIDR4 {
		b.WriteString("/" + strconv.Itoa(d.CIDR4))
	}
	if d.HasCIDR6 {
		b.WriteString("//" + strconv.Itoa(d.CIDR6))
	}
	return b.String()
}

// String formats the record for publishing in a TXT record: "v=spf1",
// the directives, then the modifiers.
func (r *Record) String() string {
	var b strings.Builder
	b.WriteString("v=spf1")
	for _, d := range r.Directives {
		b.WriteByte(' ')
		b.WriteString(d.String())
	}
	if r.Redirect != "" {
		b.WriteString(" redirect=" + r.Redirect)
	}
	if r.Exp != "" {
		b.WriteString(" exp=" + r.Exp)
	}
	for _, m := range r.Unknown {
		b.WriteString(" " + m.Name + "=" + m.Value)
	}
	return b.String()
}
