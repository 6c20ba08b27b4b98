package authres

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Examples of RFC 8601 Appendix B.
func TestParseRFC8601Examples(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Header
	}{
		// B.2: nothing done.
		{" example.org 1; none", Header{AuthServID: "example.org", Version: 1}},
		// B.3: SPF.
		{" example.com;\r\n  spf=pass smtp.mailfrom=example.net",
			Header{AuthServID: "example.com", Results: []Result{{Method: "spf", Value: "pass",
				Props: []Prop{{"smtp", "mailfrom", "example.net"}}}}}},
		// B.4: SMTP AUTH with a comment.
		{" example.com;\r\n          auth=pass (cram-md5) smtp.auth=sender@example.net;\r\n          spf=pass smtp.mailfrom=example.net",
			Header{AuthServID: "example.com", Results: []Result{
				{Method: "auth", Value: "pass", Props: []Prop{{"smtp", "auth", "sender@example.net"}}},
				{Method: "spf", Value: "pass", Props: []Prop{{"smtp", "mailfrom", "example.net"}}}}}},
		// B.5 / B.6: several methods, a comment in front of the version.
		{" example.com;\r\n          sender-id=fail header.from=example.com;\r\n          dkim=pass (good signature) header.d=example.com",
			Header{AuthServID: "example.com", Results: []Result{
				{Method: "sender-id", Value: "fail", Props: []Prop{{"header", "from", "example.com"}}},
				{Method: "dkim", Value: "pass", Props: []Prop{{"header", "d", "example.com"}}}}}},
		{" mail-router.example.net;\r\n          dkim=pass (good signature) header.d=newyork.example.com\r\n" +
			"                header.b=oINEO8hg;\r\n          dkim=fail (bad signature) header.d=newyork.example.com\r\n                header.b=EToRSuvU",
			Header{AuthServID: "mail-router.example.net", Results: []Result{
				{Method: "dkim", Value: "pass", Props: []Prop{{"header", "d", "newyork.example.com"}, {"header", "b", "oINEO8hg"}}},
				{Method: "dkim", Value: "fail", Props: []Prop{{"header", "d", "newyork.example.com"}, {"header", "b", "EToRSuvU"}}}}}},
		// B.7: reason, method version, quoted strings.
		{` example.com; dkim/1=fail reason="bad \"sig\"" (x (nested)) header.i=@example.com; iprev=pass policy.iprev=192.0.2.200`,
			Header{AuthServID: "example.com", Results: []Result{
				{Method: "dkim", MethodVersion: 1, Value: "fail", Reason: `bad "sig"`, Props: []Prop{{"header", "i", "@example.com"}}},
				{Method: "iprev", Value: "pass", Props: []Prop{{"policy", "iprev", "192.0.2.200"}}}}}},
		// Case is folded where the grammar is case-insensitive.
		{"MX.Example.ORG; DKIM=PASS Header.D=Example.COM;", Header{AuthServID: "MX.Example.ORG", Results: []Result{
			{Method: "dkim", Value: "pass", Props: []Prop{{"header", "d", "Example.COM"}}}}}},
	} {
		h, err := Parse(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, *h, tc.in)
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{
		"", ";", "example.com", "example.com; dkim", "example.com; dkim=", "example.com; =pass",
		"example.com; dkim=pass header", "example.com; dkim=pass header.d", `example.com; dkim=pass reason="open`,
		"example.com; none; dkim=pass", "example.com 99999; none",
		"example.com; dkim=pass" + strings.Repeat(" a.b=c", maxProps+1),
		"example.com" + strings.Repeat("; dkim=pass", maxResults+1),
	} {
		_, err := Parse(in)
		require.ErrorIs(t, err, ErrSyntax, "%q", in)
	}
}

func TestFormatRoundTrip(t *testing.T) {
	h := &Header{AuthServID: "mx.example.org", Results: []Result{
		{Method: "dkim", Value: "pass", Props: []Prop{{"header", "d", "example.com"}, {"header", "i", "@example.com"}, {"header", "b", "abcd1234"}}},
		{Method: "spf", Value: "fail", Reason: "not permitted; see \"record\"", Props: []Prop{{"smtp", "mailfrom", "a@example.net"}}},
		{Method: "dmarc", Value: "none", Props: []Prop{{"header", "from", "odd value;"}}},
	}}
	f, err := h.Field()
	require.NoError(t, err)
	require.Equal(t, "Authentication-Results: mx.example.org;\r\n"+
		"\tdkim=pass header.d=example.com header.i=@example.com header.b=abcd1234;\r\n"+
		"\tspf=fail reason=\"not permitted; see \\\"record\\\"\" smtp.mailfrom=a@example.net;\r\n"+
		"\tdmarc=none header.from=\"odd value;\"\r\n", f)
	back, err := Parse(strings.TrimPrefix(strings.TrimSuffix(f, "\r\n"), "Authentication-Results:"))
	require.NoError(t, err)
	require.Equal(t, h, back)

	none, err := (&Header{AuthServID: "mx.example.org"}).Format()
	require.NoError(t, err)
	require.Equal(t, "mx.example.org; none", none)
}

// Nothing built from hostile data can add a header field.
func TestFormatRefusesInjection(t *testing.T) {
	for _, h := range []*Header{
		{AuthServID: "mx\r\nBcc: x"},
		{AuthServID: ""},
		{AuthServID: "mx", Results: []Result{{Method: "dkim=pass", Value: "pass"}}},
		{AuthServID: "mx", Results: []Result{{Method: "dkim", Value: "pass x"}}},
		{AuthServID: "mx", Results: []Result{{Method: "dkim", Value: "pass", Reason: "a\nb"}}},
		{AuthServID: "mx", Results: []Result{{Method: "dkim", Value: "pass", Props: []Prop{{"header", "d", "a\r\nX: y"}}}}},
		{AuthServID: "mx", Results: []Result{{Method: "dkim", Value: "pass", Props: []Prop{{"he ader", "d", "a"}}}}},
	} {
		_, err := h.Field()
		require.ErrorIs(t, err, ErrInvalid, "%+v", h)
	}
}

// RFC 8601 §5: fields claiming our authserv-id are removed; others stay,
// byte for byte, whatever the write sizes.
func TestFilterRemovesForged(t *testing.T) {
	in := "Authentication-Results: mx.example.org; dkim=pass\r\n" +
		"Received: from a by b\r\n\tfor <c>\r\n" +
		"authentication-results: (comment) MX.EXAMPLE.ORG;\r\n\tspf=pass smtp.mailfrom=x\r\n" +
		"Authentication-Results: other.example; dkim=fail\r\n" +
		"Authentication-Results: mx.example.org.evil; dkim=pass\r\n" +
		"Authentication-Results : mx.example.org; broken ===\r\n" +
		"Subject: Authentication-Results: mx.example.org; x\r\n" +
		"\r\n" +
		"Authentication-Results: mx.example.org; in the body stays\r\n"
	want := "Received: from a by b\r\n\tfor <c>\r\n" +
		"Authentication-Results: other.example; dkim=fail\r\n" +
		"Authentication-Results: mx.example.org.evil; dkim=pass\r\n" +
		"Subject: Authentication-Results: mx.example.org; x\r\n" +
		"\r\n" +
		"Authentication-Results: mx.example.org; in the body stays\r\n"
	for _, step := range []int{1, 2, 7, 64, len(in)} {
		var out bytes.Buffer
		f := NewFilter(&out, "mx.example.org")
		for i := 0; i < len(in); i += step {
			_, err := f.Write([]byte(in[i:min(i+step, len(in))]))
			require.NoError(t, err)
		}
		require.NoError(t, f.Close())
		require.Equal(t, want, out.String(), "step %d", step)
		require.Equal(t, 3, f.Removed)
	}
}

func TestFilterHeaderOnlyAndLF(t *testing.T) {
	var out bytes.Buffer
	f := NewFilter(&out, "mx")
	f.Write([]byte("Subject: x\nAuthentication-Results: mx; none"))
	require.NoError(t, f.Close())
	require.Equal(t, "Subject: x\n", out.String())
}

// A field built to be held forever is dropped once past the limit and the
// memory held stays bounded.
func TestFilterBoundsHeldField(t *testing.T) {
	var out bytes.Buffer
	f := NewFilter(&out, "mx")
	f.Write([]byte("Authentication-Results: mx;\r\n"))
	line := []byte("\t" + strings.Repeat("x", 1000) + "\r\n")
	for range 200 {
		f.Write(line)
		require.LessOrEqual(t, cap(f.hold), 2*maxHeldField)
	}
	f.Write([]byte("Subject: y\r\n\r\nbody"))
	require.NoError(t, f.Close())
	require.Equal(t, "Subject: y\r\n\r\nbody", out.String())
}
