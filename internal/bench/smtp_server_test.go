package bench

import (
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/dkim"
	"github.com/posthorn/posthorn/smtp/dmarc"
	"github.com/posthorn/posthorn/smtp/smtpserver"
	"github.com/posthorn/posthorn/smtp/spf"
)

// discardBackend reads every message fully and throws it away, like the
// go-smtp server of `mailbench peers`.
type discardBackend struct{}

func (discardBackend) NewSession(ctx context.Context, c *smtpserver.ConnInfo) (smtpserver.Session, error) {
	return discardSession{}, nil
}

type discardSession struct{}

func (discardSession) Mail(ctx context.Context, from smtp.Mailbox, o *smtp.MailOptions) error {
	return nil
}
func (discardSession) Rcpt(ctx context.Context, to smtp.Mailbox, o *smtp.RcptOptions) error {
	return nil
}
func (discardSession) Data(ctx context.Context, r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}
func (discardSession) Reset(ctx context.Context)       {}
func (discardSession) Close(ctx context.Context) error { return nil }

// benchServer is the posthorn server configured as mailbench's go-smtp peer
// is: discard backend, 64 MiB messages, no per-connection message limit.
func benchServer() *smtpserver.Server {
	return &smtpserver.Server{
		Hostname: "bench.test",
		Backend:  discardBackend{},
		Limits: smtpserver.Limits{
			MaxMessageSize:      64 << 20,
			MaxMessages:         -1,
			MaxConnectionsPerIP: -1,
		},
	}
}

// discardStore is a smtpserver.DeliveryStore that reads every message
// fully and keeps none.
type discardStore struct{}

func (discardStore) CheckQuota(ctx context.Context, user string, size int64) error { return nil }

func (discardStore) DeliverMessage(ctx context.Context, users []string, body io.Reader, header func() []byte) ([]error, error) {
	if _, err := io.Copy(io.Discard, body); err != nil {
		return nil, err
	}
	header()
	return make([]error, len(users)), nil
}

// authBackend is NewStoreBackend over discardStore, with SPF and DMARC
// checks (StoreOptions.Authenticate, issue 17) when checks is set, against
// a DNS zone served in this process for mailbench's sender domain; the
// DNS cache is warm after the first message.
func authBackend(t *testing.T, checks bool) smtpserver.Backend {
	opts := smtpserver.StoreOptions{}
	if checks {
		z := dnstest.NewServer(t)
		z.TXT("mailbench.example", "v=spf1 ip4:127.0.0.1 -all")
		z.TXT("_dmarc.mailbench.example", "v=DMARC1; p=reject; rua=mailto:dmarc@mailbench.example")
		client := &dns.Client{Servers: []netip.AddrPort{z.Addr}, Timeout: time.Second}
		opts.Authenticate = &smtpserver.InboundAuth{AuthServID: "bench.test",
			SPF:   &spf.Checker{Resolver: client, Receiver: "bench.test"},
			DKIM:  &dkim.VerifyOptions{Resolver: client},
			DMARC: &dmarc.Evaluator{Resolver: client}, ApplyDMARC: true}
	}
	return smtpserver.NewStoreBackend(discardStore{}, opts)
}

// TestServeSMTPForMailbench runs the posthorn SMTP server as a stand-alone
// process for mailbench (see /work/shared/bench/README.md) when
// POSTHORN_BENCH_SMTP_ADDR is set, until POSTHORN_BENCH_FOR elapses
// (default 10m) or SIGTERM:
//
//	go test -c -o /tmp/phsmtp.test .
//	POSTHORN_BENCH_SMTP_ADDR=127.0.0.1:11025 taskset -c 0 /tmp/phsmtp.test -test.run ServeSMTPForMailbench -test.timeout 0 &
//	taskset -c 1 mailbench smtp -addr 127.0.0.1:11025 -conns 8 -msgs 20000 -size 4096 -pipeline -pid $!
//
// POSTHORN_BENCH_SMTP_AUTH=nochecks serves through NewStoreBackend into a
// store that discards; =checks adds SPF, DKIM and DMARC through
// StoreOptions.Authenticate (smtp/smtpserver/testdata/authcpu.sh compares
// the two).
func TestServeSMTPForMailbench(t *testing.T) {
	addr := os.Getenv("POSTHORN_BENCH_SMTP_ADDR")
	if addr == "" {
		t.Skip("POSTHORN_BENCH_SMTP_ADDR not set")
	}
	d := 10 * time.Minute
	if v := os.Getenv("POSTHORN_BENCH_FOR"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := benchServer()
	if os.Getenv("POSTHORN_BENCH_SMTP_AUTH") != "" {
		s.Backend = authBackend(t, os.Getenv("POSTHORN_BENCH_SMTP_AUTH") == "checks")
	}
	if os.Getenv("POSTHORN_BENCH_SMTP_PLAIN") != "" {
		// A server as many smarthosts are: one command at a time, DATA.
		s.DisableExtensions = []string{"PIPELINING", "CHUNKING"}
	}
	go func() { _ = s.Serve(ln) }()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.Shutdown(sctx)
}
