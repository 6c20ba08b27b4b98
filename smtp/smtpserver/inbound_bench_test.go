package smtpserver

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/dkim"
	"github.com/posthorn/posthorn/smtp/dmarc"
	"github.com/posthorn/posthorn/smtp/spf"
)

// discardStore takes every message and keeps none.
type discardStore struct{ buf [8192]byte }

func (discardStore) CheckQuota(ctx context.Context, user string, size int64) error { return nil }

func (s *discardStore) DeliverMessage(ctx context.Context, users []string, body io.Reader, header func() []byte) ([]error, error) {
	if _, err := io.CopyBuffer(io.Discard, body, s.buf[:]); err != nil {
		return nil, err
	}
	header()
	return make([]error, len(users)), nil
}

// BenchmarkInboundAuthSession is the work StoreOptions.Authenticate adds
// to one transaction, without the network: MAIL (SPF), RCPT, and the
// message streaming into a store that discards it (DKIM, the From:
// scanner, the forged-field filter, DMARC and the result fields), with a
// warm DNS cache. The DKIM row includes the ed25519 verify (quoted apart
// by BenchmarkEd25519Verify in smtp/dmarc).
func BenchmarkInboundAuthSession(b *testing.B) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	rec, _ := dkim.KeyRecordFor(key.Public())
	z := dnstest.NewServer(b)
	z.TXT("example.com", "v=spf1 ip4:127.0.0.1 -all")
	z.TXT("s1._domainkey.example.com", rec)
	z.TXT("_dmarc.example.com", "v=DMARC1; p=reject; rua=mailto:dmarc@example.com")
	client := &dns.Client{Servers: []netip.AddrPort{z.Addr}, Timeout: time.Second}
	msg := "From: Alerts <alerts@example.com>\r\nTo: user@example.org\r\nSubject: Your report\r\n" +
		"Date: Mon, 07 Dec 2026 20:00:00 +0000\r\nMessage-ID: <r1@example.com>\r\n\r\n" +
		strings.Repeat("The report is ready.\r\n", 100)
	var signed bytes.Buffer
	if err := dkim.Sign(&signed, strings.NewReader(msg), &dkim.SignOptions{Domain: "example.com", Selector: "s1", Key: key}); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"nochecks", "spf+dmarc", "spf+dkim+dmarc"} {
		b.Run(mode, func(b *testing.B) {
			opts := StoreOptions{}
			if mode != "nochecks" {
				opts.Authenticate = &InboundAuth{AuthServID: "mx.example.org",
					SPF:   &spf.Checker{Resolver: client, Receiver: "mx.example.org"},
					DMARC: &dmarc.Evaluator{Resolver: client}, ApplyDMARC: true}
				if mode == "spf+dkim+dmarc" {
					opts.Authenticate.DKIM = &dkim.VerifyOptions{Resolver: client}
				}
			}
			be := NewStoreBackend(&discardStore{}, opts)
			ctx := context.Background()
			info := &ConnInfo{RemoteAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2525}, Hostname: "mail.example.com", Service: "smtp"}
			sess, _ := be.NewSession(ctx, info)
			s := sess.(*storeSession)
			from := smtp.Mailbox{Local: "bounces", Domain: "example.com"}
			to := smtp.Mailbox{Local: "user", Domain: "example.org"}
			trace := []byte("Received: from mail.example.com\r\n")
			r := bytes.NewReader(signed.Bytes())
			run := func() {
				if err := s.Mail(ctx, from, nil); err != nil {
					b.Fatal(err)
				}
				if err := s.Rcpt(ctx, to, nil); err != nil {
					b.Fatal(err)
				}
				s.takeTrace(trace)
				r.Reset(signed.Bytes())
				if err := s.Data(ctx, r); err != nil {
					b.Fatal(err)
				}
				s.Reset(ctx)
			}
			run()
			b.ReportAllocs()
			for b.Loop() {
				run()
			}
		})
	}
}
