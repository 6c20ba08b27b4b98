package dmarc

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Identifier Alignment examples of RFC 9989 Appendix B.1, in relaxed
// and strict mode.
func TestRFC9989AppendixB1(t *testing.T) {
	for _, tc := range []struct {
		name            string
		from, spf, dkim string
		relaxed, strict bool
	}{
		{"B.1.1 example 1: SPF strict", "example.com", "example.com", "", true, true},
		{"B.1.1 example 2: SPF relaxed", "example.com", "child.example.com", "", true, false},
		{"B.1.1 example 3: no SPF alignment", "child.example.com", "example.net", "", false, false},
		{"B.1.2 example 1: DKIM strict", "example.com", "", "example.com", true, true},
		{"B.1.2 example 2: DKIM relaxed", "child.example.com", "", "example.com", true, false},
		{"B.1.2 example 3: no DKIM alignment", "child.example.com", "", "example.net", false, false},
	} {
		for _, strict := range []bool{false, true} {
			rec := "v=DMARC1; p=reject"
			want := tc.relaxed
			if strict {
				rec += "; adkim=s; aspf=s"
				want = tc.strict
			}
			z := &zone{txt: map[string][]string{"_dmarc.example.com": {rec}, "_dmarc.example.net": {"v=DMARC1; p=none"}},
				exists: map[string]bool{"child.example.com": true}}
			m := &Message{From: tc.from}
			if tc.spf != "" {
				m.SPF = SPFResult{Domain: tc.spf, Result: "pass"}
			}
			if tc.dkim != "" {
				m.DKIM = []DKIMResult{{Domain: tc.dkim, Selector: "s", Result: "pass"}}
			}
			ev := evaluate(t, z, m)
			assert.Equal(t, want, ev.SPFAligned || ev.DKIMAligned, "%s (strict %v)", tc.name, strict)
			if want {
				assert.Equal(t, Pass, ev.Result, tc.name)
			} else {
				assert.Equal(t, Fail, ev.Result, tc.name)
			}
		}
	}
}

// The Tree Walk examples of RFC 9989 Appendix B.4.
func TestRFC9989AppendixB4(t *testing.T) {
	ctx := context.Background()

	t.Run("B.4.1 simple", func(t *testing.T) {
		z := &zone{txt: map[string][]string{"_dmarc.example.com": {"v=DMARC1; p=reject"}, "_dmarc.signing.example.com": {"v=DMARC1; p=none"}}}
		e := &Evaluator{Resolver: z}
		ev := e.Evaluate(ctx, &Message{From: "example.com", SPF: SPFResult{Domain: "example.com", Result: "pass"},
			DKIM: []DKIMResult{{Domain: "signing.example.com", Selector: "s", Result: "pass"}}})
		assert.Equal(t, Pass, ev.Result)
		assert.True(t, ev.SPFAligned)
		assert.True(t, ev.DKIMAligned, "signing.example.com's Organizational Domain is example.com")
		assert.Equal(t, "example.com", ev.PolicyDomain)
		org, err := e.OrganizationalDomain(ctx, "signing.example.com")
		require.NoError(t, err)
		assert.Equal(t, "example.com", org)
	})

	t.Run("B.4.2 deep", func(t *testing.T) {
		z := &zone{txt: map[string][]string{"_dmarc.example.com": {"v=DMARC1; p=reject"}, "_dmarc.signing.example.com": {"v=DMARC1; p=none"}}}
		e := &Evaluator{Resolver: z}
		d, err := e.Discover(ctx, "a.b.c.d.e.f.g.h.i.j.k.example.com")
		require.NoError(t, err)
		assert.Equal(t, []string{
			"_dmarc.a.b.c.d.e.f.g.h.i.j.k.example.com",
			"_dmarc.g.h.i.j.k.example.com",
			"_dmarc.h.i.j.k.example.com",
			"_dmarc.i.j.k.example.com",
			"_dmarc.j.k.example.com",
			"_dmarc.k.example.com",
			"_dmarc.example.com",
			"_dmarc.com",
		}, z.queries, "the queries the example lists, in order")
		assert.Equal(t, "example.com", d.OrgDomain)
		assert.Equal(t, "example.com", d.PolicyDomain)
		ev := e.Evaluate(ctx, &Message{From: "a.b.c.d.e.f.g.h.i.j.k.example.com", SPF: SPFResult{Domain: "example.com", Result: "pass"},
			DKIM: []DKIMResult{{Domain: "signing.example.com", Selector: "s", Result: "pass"}}})
		assert.True(t, ev.SPFAligned)
		assert.True(t, ev.DKIMAligned)
	})

	t.Run("B.4.3 PSD", func(t *testing.T) {
		z := &zone{txt: map[string][]string{"_dmarc.bank.example": {"v=DMARC1; p=reject; psd=y"}, "_dmarc.giant.bank.example": {"v=DMARC1; p=quarantine"}}}
		e := &Evaluator{Resolver: z}
		for domain, want := range map[string]string{
			"giant.bank.example":      "giant.bank.example",
			"mail.giant.bank.example": "giant.bank.example",
			"mail.mega.bank.example":  "mega.bank.example",
		} {
			org, err := e.OrganizationalDomain(ctx, domain)
			require.NoError(t, err)
			assert.Equal(t, want, org, domain)
		}
		ev := e.Evaluate(ctx, &Message{From: "giant.bank.example", SPF: SPFResult{Domain: "mail.giant.bank.example", Result: "pass"},
			DKIM: []DKIMResult{{Domain: "mail.mega.bank.example", Selector: "s", Result: "pass"}}})
		assert.Equal(t, Pass, ev.Result)
		assert.True(t, ev.SPFAligned)
		assert.False(t, ev.DKIMAligned)
		assert.Equal(t, "giant.bank.example", ev.PolicyDomain)
		assert.Equal(t, PolicyQuarantine, ev.Policy)
	})
}
