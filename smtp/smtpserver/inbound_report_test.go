package smtpserver_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/dmarc"
	"github.com/posthorn/posthorn/smtp/smtpserver"
	"github.com/posthorn/posthorn/smtp/spf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// InboundAuth.Reports records one row per evaluated message, accepted or
// refused, for the aggregate reports; with ApplyDMARC unset a failing
// message's disposition is none with reason local_policy.
func TestInboundAuthReports(t *testing.T) {
	z := dnstest.NewServer(t)
	z.TXT("example.com", "v=spf1 ip4:127.0.0.1 -all")
	z.TXT("_dmarc.example.com", "v=DMARC1; p=reject; rua=mailto:dmarc@example.com")
	z.TXT("forwarder.example", "v=spf1 +all")
	client := &dns.Client{Servers: []netip.AddrPort{z.Addr}, Timeout: time.Second}
	for _, apply := range []bool{true, false} {
		rec := &dmarc.Recorder{Metadata: dmarc.ReportMetadata{OrgName: "mx.example.org", Email: "pm@example.org"}}
		b := smtpserver.NewStoreBackend(&authStore{}, smtpserver.StoreOptions{Authenticate: &smtpserver.InboundAuth{
			AuthServID: "mx.example.org",
			SPF:        &spf.Checker{Resolver: client},
			DMARC:      &dmarc.Evaluator{Resolver: client},
			ApplyDMARC: apply,
			Reports:    rec,
		}})
		srv := &smtpserver.Server{Hostname: "mx.example.org", Backend: b}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		go srv.Serve(ln)
		addr := ln.Addr().String()
		require.NoError(t, authSend(t, addr, "a@example.com", []byte("From: a@example.com\r\n\r\nhi\r\n")))
		require.NoError(t, authSend(t, addr, "a@example.com", []byte("From: b@example.com\r\n\r\nhi\r\n")))
		err = authSend(t, addr, "x@forwarder.example", []byte("From: a@example.com\r\n\r\nhi\r\n"))
		if apply {
			requireCode(t, err, 550, smtp.EnhancedCode{5, 7, 1})
		} else {
			require.NoError(t, err)
		}
		srv.Shutdown(context.Background())

		reps := rec.Flush(time.Now())
		require.Len(t, reps, 1)
		fb := reps[0].Feedback
		assert.Equal(t, []string{"mailto:dmarc@example.com"}, reps[0].RUA)
		require.Len(t, fb.Records, 2)
		assert.Equal(t, int64(2), fb.Records[0].Row.Count)
		assert.Equal(t, "pass", fb.Records[0].Row.PolicyEvaluated.Disposition)
		assert.Equal(t, "127.0.0.1", fb.Records[0].Row.SourceIP)
		assert.Equal(t, "example.org", fb.Records[0].Identifiers.EnvelopeTo)
		failed := fb.Records[1]
		assert.Equal(t, "forwarder.example", failed.Identifiers.EnvelopeFrom)
		if apply {
			assert.Equal(t, "reject", failed.Row.PolicyEvaluated.Disposition)
			assert.Empty(t, failed.Row.PolicyEvaluated.Reasons)
		} else {
			assert.Equal(t, "none", failed.Row.PolicyEvaluated.Disposition)
			assert.Equal(t, []dmarc.PolicyReason{{Type: "local_policy"}}, failed.Row.PolicyEvaluated.Reasons)
		}
	}
}
