package dkim_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/smtp/dkim"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"
)

// The shared caching client of internal/dns is a dkim.Resolver, and its
// answers map to the results RFC 6376 §6.1.2 asks for: a key split over
// several strings is joined; SERVFAIL and a timeout are temperrors;
// NXDOMAIN and "no data" are permerrors.
func TestVerifyThroughSharedDNSClient(t *testing.T) {
	srv := dnstest.NewServer(t)
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32))
	rec, err := dkim.KeyRecordFor(key.Public())
	require.NoError(t, err)
	srv.TXT("good._domainkey.example.com", rec[:20], rec[20:])
	srv.RCode("broken._domainkey.example.com", dnsmessage.RCodeServerFailure)
	srv.AddName("nodata._domainkey.example.com")
	srv.Silent("silent._domainkey.example.com")

	var resolver dkim.Resolver = &dns.Client{Servers: []netip.AddrPort{srv.Addr}, Timeout: 300 * time.Millisecond, Attempts: 1}
	msg := "From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n"
	for _, tc := range []struct {
		selector string
		status   dkim.Status
		err      error
	}{
		{"good", dkim.Pass, nil},
		{"broken", dkim.TempError, dkim.ErrTemporary},
		{"missing", dkim.PermError, dkim.ErrNoKey},
		{"nodata", dkim.PermError, dkim.ErrNoKey},
		{"silent", dkim.TempError, dkim.ErrTemporary},
	} {
		t.Run(tc.selector, func(t *testing.T) {
			var signed bytes.Buffer
			require.NoError(t, dkim.Sign(&signed, strings.NewReader(msg), &dkim.SignOptions{Domain: "example.com", Selector: tc.selector, Key: key}))
			res, err := dkim.Verify(context.Background(), &signed, &dkim.VerifyOptions{Resolver: resolver})
			require.NoError(t, err)
			require.Len(t, res, 1)
			require.Equal(t, tc.status, res[0].Status, "%v", res[0].Err)
			if tc.err != nil {
				require.ErrorIs(t, res[0].Err, tc.err)
			}
		})
	}
}
