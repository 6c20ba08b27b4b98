package smtpqueue

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testpeer"
	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/smtpserver"
	"github.com/posthorn/posthorn/smtp/smtptest"
)

// queueBackend is an smtpserver.Backend that queues every message: the
// relay path of a mail server, a 250 only once the message is on disk.
type queueBackend struct{ q *Queue }

func (b queueBackend) NewSession(ctx context.Context, c *smtpserver.ConnInfo) (smtpserver.Session, error) {
	return &queueSession{q: b.q}, nil
}

type queueSession struct {
	q   *Queue
	env Envelope
}

func (s *queueSession) Mail(ctx context.Context, from smtp.Mailbox, opts *smtp.MailOptions) error {
	s.env = Envelope{MailOptions: smtp.MailOptions{Return: opts.Return, EnvelopeID: opts.EnvelopeID, RequireTLS: opts.RequireTLS}}
	if !from.IsNull() {
		s.env.From = from.String()
	}
	return nil
}

func (s *queueSession) Rcpt(ctx context.Context, to smtp.Mailbox, opts *smtp.RcptOptions) error {
	s.env.To = append(s.env.To, to.String())
	s.env.RcptOptions = append(s.env.RcptOptions, *opts)
	return nil
}

func (s *queueSession) Data(ctx context.Context, r io.Reader) error {
	_, err := s.q.Enqueue(ctx, &s.env, r)
	return err
}

func (s *queueSession) Reset(ctx context.Context)       { s.env = Envelope{} }
func (s *queueSession) Close(ctx context.Context) error { return nil }

// TestThroughputVsPostfix (SMTPQUEUE_VS_POSTFIX=N) compares, in one run,
// N 4 KB messages to 100 recipient domains (d0.test … d99.test), fed by
// Postfix's smtp-source over SMTP (16 sessions at a time) into Postfix's
// queue and into ours (through our SMTP server), each delivering to an
// smtptest sink: the time from the first connection to the sink's last
// accepted message. Both fsync their queue files. Our queue reaches the
// sink through a test resolver (every domain's MX is the sink, so 100
// destinations with their own limits); Postfix takes the 100 domains as
// local (mydestination) and hands them to the sink by LMTP.
func TestThroughputVsPostfix(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SMTPQUEUE_VS_POSTFIX"))
	if n == 0 {
		t.Skip("set SMTPQUEUE_VS_POSTFIX=2000")
	}
	const domains, sessions = 100, 16
	n -= n % domains
	source := testpeer.Need(t, "smtp-source", "postfix")
	// 16 feeders at a time, each sending its domains' share in turn.
	feed := func(addr string) {
		var wg sync.WaitGroup
		errs := make(chan error, sessions)
		for k := range sessions {
			wg.Go(func() {
				for d := k; d < domains; d += sessions {
					out, err := exec.Command(source, "-s", "1", "-m", strconv.Itoa(n/domains), "-l", "4096", "-f", "a@sender.test", "-t", fmt.Sprintf("bob@d%d.test", d), addr).CombinedOutput()
					if err != nil {
						errs <- fmt.Errorf("smtp-source: %v\n%s", err, out)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	waitFor := 5 * time.Minute
	if v, err := time.ParseDuration(os.Getenv("SMTPQUEUE_VS_POSTFIX_WAIT")); err == nil {
		waitFor = v
	}
	var pfLog string
	wait := func(sink *smtptest.Server, who string) {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if _, err := sink.WaitForMessages(ctx, n); err != nil {
			if b, _ := os.ReadFile(pfLog); who == "Postfix" && len(b) > 0 {
				t.Logf("Postfix log (end):\n%s", b[max(0, len(b)-3000):])
			}
			t.Fatalf("%s's sink: %v", who, err)
		}
	}

	// Postfix: smtpd → its queue → LMTP to the sink.
	pfSink := smtptest.NewUnstartedServer(t)
	pfSink.Server.Mode = smtpserver.ModeLMTP
	pfSink.Server.Limits.MaxConnectionsPerIP = 1000 // as smtp-sink: no limit
	pfSink.Start()
	p := testpeer.StartPostfix(t, testpeer.PostfixOptions{LMTP: pfSink.Addr})
	var dests []string
	for d := range domains {
		dests = append(dests, fmt.Sprintf("d%d.test", d))
	}
	pfLog = p.LogFile
	etc := filepath.Join(p.Dir, "etc")
	if out, err := exec.Command("postconf", "-c", etc, "-e", "mydestination=localhost "+strings.Join(dests, " ")).CombinedOutput(); err != nil {
		t.Fatalf("postconf: %v\n%s", err, out)
	}
	if out, err := exec.Command("postfix", "-c", etc, "reload").CombinedOutput(); err != nil {
		t.Fatalf("postfix reload: %v\n%s", err, out)
	}
	time.Sleep(time.Second)

	// Ours: smtpserver → Enqueue → MX delivery to the sink.
	sink := smtptest.NewUnstartedServer(t)
	sink.Server.Limits.MaxConnectionsPerIP = 1000
	sink.Start()
	q, err := Open(t.TempDir(), &Options{Hostname: "queue.test", Transport: crashTransport(sink.Addr), MaxDeliveries: 64,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	defer func() { stop(); <-done; q.Close() }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &smtpserver.Server{Hostname: "queue.test", Backend: queueBackend{q}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	srv.Limits.MaxConnections = 64
	go srv.Serve(ln)
	defer srv.Close()

	rounds := 3
	var pfs, ourss []time.Duration
	for range rounds {
		pfSink.Reset()
		start := time.Now()
		feed(p.SMTP)
		wait(pfSink, "Postfix")
		pfs = append(pfs, time.Since(start))

		sink.Reset()
		start = time.Now()
		feed(ln.Addr().String())
		wait(sink, "smtpqueue")
		ourss = append(ourss, time.Since(start))
	}
	slices.Sort(pfs)
	slices.Sort(ourss)
	pf, ours := pfs[rounds/2], ourss[rounds/2]
	t.Logf("rounds: Postfix %v, smtpqueue %v", pfs, ourss)
	t.Logf("median of %d interleaved rounds, %d messages of 4 KB to %d domains, %d sessions: Postfix %v (%.0f msgs/s), smtpqueue %v (%.0f msgs/s)",
		rounds, n, domains, sessions, pf.Round(time.Millisecond), float64(n)/pf.Seconds(), ours.Round(time.Millisecond), float64(n)/ours.Seconds())
}
