package smtpqueue

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
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
// N 4 KB messages fed by Postfix's smtp-source over SMTP (16 sessions)
// into Postfix's queue and into ours (through our SMTP server), each
// delivering to an smtptest sink: the time from the first connection to
// the sink's last accepted message. Both fsync their queue files.
func TestThroughputVsPostfix(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SMTPQUEUE_VS_POSTFIX"))
	if n == 0 {
		t.Skip("set SMTPQUEUE_VS_POSTFIX=2000")
	}
	source := testpeer.Need(t, "smtp-source", "postfix")
	feed := func(addr string) {
		out, err := exec.Command(source, "-s", "16", "-m", strconv.Itoa(n), "-l", "4096", "-f", "a@sender.test", "-t", "bob@localhost", addr).CombinedOutput()
		if err != nil {
			t.Fatalf("smtp-source: %v\n%s", err, out)
		}
	}
	wait := func(sink *smtptest.Server) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if _, err := sink.WaitForMessages(ctx, n); err != nil {
			t.Fatalf("sink: %v", err)
		}
	}

	// Postfix: smtpd → its queue → LMTP to the sink.
	pfSink := smtptest.NewUnstartedServer(t)
	pfSink.Server.Mode = smtpserver.ModeLMTP
	pfSink.Start()
	p := testpeer.StartPostfix(t, testpeer.PostfixOptions{LMTP: pfSink.Addr})

	// Ours: smtpserver → Enqueue → MX delivery to the sink.
	sink := smtptest.NewServer(t)
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
		wait(pfSink)
		pfs = append(pfs, time.Since(start))

		sink.Reset()
		start = time.Now()
		feed(ln.Addr().String())
		wait(sink)
		ourss = append(ourss, time.Since(start))
	}
	slices.Sort(pfs)
	slices.Sort(ourss)
	pf, ours := pfs[rounds/2], ourss[rounds/2]
	t.Logf("rounds: Postfix %v, smtpqueue %v", pfs, ourss)
	t.Logf("median of %d interleaved rounds, %d messages of 4 KB, 16 sessions: Postfix %v (%.0f msgs/s), smtpqueue %v (%.0f msgs/s)",
		rounds, n, pf.Round(time.Millisecond), float64(n)/pf.Seconds(), ours.Round(time.Millisecond), float64(n)/ours.Seconds())
}
