package dane_test

import (
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posthorn/posthorn/internal/dane"
	"github.com/posthorn/posthorn/internal/dane/danetest"
	"github.com/posthorn/posthorn/internal/dns"
)

type fixture struct {
	ca, other       *danetest.CA
	good            []*x509.Certificate // mx.example.test, valid
	expired         []*x509.Certificate // mx.example.test, expired last year
	otherName       []*x509.Certificate // elsewhere.test, valid
	wild            []*x509.Certificate // *.example.test
	byOtherCA       []*x509.Certificate
	goodTA, otherTA dns.TLSA
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{}
	var err error
	f.ca, err = danetest.NewCA("Test TA")
	require.NoError(t, err)
	f.other, err = danetest.NewCA("Other CA")
	require.NoError(t, err)
	nb, na := danetest.Valid()
	issue := func(ca *danetest.CA, names []string, nb, na time.Time) []*x509.Certificate {
		c, err := ca.Issue(names, nb, na)
		require.NoError(t, err)
		return danetest.Chain(c)
	}
	f.good = issue(f.ca, []string{"mx.example.test"}, nb, na)
	f.expired = issue(f.ca, []string{"mx.example.test"}, nb.AddDate(-2, 0, 0), nb.AddDate(-1, 0, 0))
	f.otherName = issue(f.ca, []string{"elsewhere.test"}, nb, na)
	f.wild = issue(f.ca, []string{"*.example.test"}, nb, na)
	f.byOtherCA = issue(f.other, []string{"mx.example.test"}, nb, na)
	f.goodTA, f.otherTA = danetest.TA(f.ca.Cert), danetest.TA(f.other.Cert)
	return f
}

// RFC 6698 §4.1, RFC 7672 §3.1.3: which records are usable for SMTP.
func TestUsable(t *testing.T) {
	d32, d64 := make([]byte, 32), make([]byte, 64)
	for _, c := range []struct {
		r    dns.TLSA
		want bool
	}{
		{dns.TLSA{Usage: 3, Selector: 1, MatchingType: 1, Data: d32}, true},
		{dns.TLSA{Usage: 2, Selector: 0, MatchingType: 2, Data: d64}, true},
		{dns.TLSA{Usage: 3, Selector: 0, MatchingType: 0, Data: []byte{1}}, true},
		{dns.TLSA{Usage: 0, Selector: 1, MatchingType: 1, Data: d32}, false}, // PKIX-TA
		{dns.TLSA{Usage: 1, Selector: 1, MatchingType: 1, Data: d32}, false}, // PKIX-EE
		{dns.TLSA{Usage: 4, Selector: 1, MatchingType: 1, Data: d32}, false},
		{dns.TLSA{Usage: 3, Selector: 2, MatchingType: 1, Data: d32}, false},
		{dns.TLSA{Usage: 3, Selector: 1, MatchingType: 3, Data: d32}, false},
		{dns.TLSA{Usage: 3, Selector: 1, MatchingType: 1, Data: d64}, false}, // wrong digest length
		{dns.TLSA{Usage: 3, Selector: 1, MatchingType: 2, Data: d32}, false},
		{dns.TLSA{Usage: 3, Selector: 1, MatchingType: 0}, false},
	} {
		assert.Equal(t, c.want, dane.Usable(c.r), "%d %d %d len %d", c.r.Usage, c.r.Selector, c.r.MatchingType, len(c.r.Data))
	}
}

func TestMatch(t *testing.T) {
	f := newFixture(t)
	leaf := f.good[0]
	h := sha512.Sum512(leaf.Raw)
	for _, r := range []dns.TLSA{
		danetest.EE(leaf),
		{Usage: 3, Selector: 0, MatchingType: 0, Data: leaf.Raw},
		{Usage: 3, Selector: 1, MatchingType: 0, Data: leaf.RawSubjectPublicKeyInfo},
		{Usage: 3, Selector: 0, MatchingType: 2, Data: h[:]},
	} {
		assert.True(t, dane.Match(r, leaf), "%d %d %d", r.Usage, r.Selector, r.MatchingType)
		assert.False(t, dane.Match(r, f.otherName[0]))
	}
}

func TestVerify(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	names := []string{"mx.example.test", "example.test"}
	ee := danetest.EE(f.good[0])
	for _, c := range []struct {
		name  string
		recs  []dns.TLSA
		chain []*x509.Certificate
		names []string
		check func(error) bool
	}{
		// §3.1.1, §3.2.1: DANE-EE ignores names and expiry.
		{"EE", []dns.TLSA{ee}, f.good, names, isNil},
		{"EE expired", []dns.TLSA{danetest.EE(f.expired[0])}, f.expired, names, isNil},
		{"EE other name", []dns.TLSA{danetest.EE(f.otherName[0])}, f.otherName, names, isNil},
		{"EE mismatch", []dns.TLSA{ee}, f.otherName, names, is(dane.ErrNoMatch)},
		// An unusable record is skipped, a usable one still decides.
		{"EE after unusable", []dns.TLSA{{Usage: 1, Selector: 1, MatchingType: 1, Data: ee.Data}, ee}, f.good, names, isNil},
		{"only unusable", []dns.TLSA{{Usage: 1, Selector: 1, MatchingType: 1, Data: ee.Data}}, f.good, names, is(dane.ErrNoUsable)},
		// §3.1.2, §3.2.2: DANE-TA checks the chain and the names.
		{"TA", []dns.TLSA{f.goodTA}, f.good, names, isNil},
		{"TA next-hop name", []dns.TLSA{f.goodTA}, f.good, []string{"other.test", "mx.example.test"}, isNil},
		{"TA wildcard", []dns.TLSA{f.goodTA}, f.wild, names, isNil},
		{"TA name mismatch", []dns.TLSA{f.goodTA}, f.otherName, names, func(err error) bool { var ne *dane.NameError; return errors.As(err, &ne) }},
		{"TA expired", []dns.TLSA{f.goodTA}, f.expired, names, func(err error) bool {
			var ci x509.CertificateInvalidError
			return errors.As(err, &ci) && ci.Reason == x509.Expired
		}},
		{"TA of another CA", []dns.TLSA{f.otherTA}, f.good, names, is(dane.ErrNoMatch)},
		// A chain that claims the TA without being signed by it.
		{"TA forged chain", []dns.TLSA{f.goodTA}, []*x509.Certificate{f.byOtherCA[0], f.ca.Cert}, names, func(err error) bool { return err != nil }},
		{"no chain", []dns.TLSA{ee}, nil, names, is(dane.ErrNoMatch)},
	} {
		err := dane.Verify(c.recs, c.chain, c.names, now)
		assert.True(t, c.check(err), "%s: %v", c.name, err)
	}
}

func isNil(err error) bool { return err == nil }

func is(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

// RFC 7672 §3.2.3: DNS-IDs first, the CN only without them, a wildcard is
// one whole first label.
func TestNameMatches(t *testing.T) {
	cert := func(cn string, sans ...string) *x509.Certificate {
		c := &x509.Certificate{DNSNames: sans}
		c.Subject.CommonName = cn
		return c
	}
	assert.True(t, dane.NameMatches(cert("", "MX.Example.test"), "mx.example.test."))
	assert.True(t, dane.NameMatches(cert("", "*.example.test"), "mx.example.test"))
	assert.False(t, dane.NameMatches(cert("", "*.example.test"), "a.mx.example.test"))
	assert.False(t, dane.NameMatches(cert("", "*.example.test"), "example.test"))
	assert.False(t, dane.NameMatches(cert("", "*.test"), "example.test"))
	assert.False(t, dane.NameMatches(cert("", "mx*.example.test"), "mx1.example.test"))
	assert.True(t, dane.NameMatches(cert("mx.example.test"), "mx.example.test"))
	assert.False(t, dane.NameMatches(cert("mx.example.test", "other.test"), "mx.example.test"), "the CN counts only without DNS-IDs")
}
