package main

import (
	"bytes"
	"crypto/ed25519"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dns-records prints MTA-STS (RFC 8461 §3.1, with the policy file of
// §3.2), TLS-RPT (RFC 8460 §3) and the PTR to ask for, besides MX, SPF,
// DKIM and DMARC.
func TestDNSRecordsTransportSecurity(t *testing.T) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	records := func(hostname string) string {
		var b strings.Builder
		require.NoError(t, writeDNSRecords(&b, "example.com", hostname, "s1", key.Public()))
		return b.String()
	}
	out := records("mail.example.com")
	assert.Contains(t, out, "_smtp._tls.example.com.\tIN TXT \"v=TLSRPTv1; rua=mailto:postmaster@example.com\"\n")
	assert.Contains(t, out, ";\tversion: STSv1\n;\tmode: testing\n;\tmx: mail.example.com\n;\tmax_age: 604800\n")
	assert.Contains(t, out, "https://mta-sts.example.com/.well-known/mta-sts.txt")
	assert.Contains(t, out, "IN PTR mail.example.com.\n")
	sts := regexp.MustCompile(`(?m)^_mta-sts\.example\.com\.\tIN TXT "v=STSv1; id=([A-Za-z0-9]{1,32})"$`)
	m := sts.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	assert.Equal(t, m[1], sts.FindStringSubmatch(records("mail.example.com"))[1], "the same policy, the same id")
	assert.NotEqual(t, m[1], sts.FindStringSubmatch(records("mx2.example.com"))[1], "another policy, another id")
	assert.NotContains(t, out, "..", "no doubled root dots")
}
