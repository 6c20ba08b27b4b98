package maildir_test

import (
	"context"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/maildir"
	"github.com/posthorn/posthorn/pop3/pop3server"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp/smtpserver"
)

// TestServeLMTPForMailbench serves LMTP into a Maildir store (user
// "bench", fsynced deliveries) for /work/shared/bench's mailbench, when
// POSTHORN_BENCH_LMTP_ADDR is set, until POSTHORN_BENCH_FOR elapses
// (default 10m). The store lives in POSTHORN_BENCH_MAILDIR (default a
// temporary directory):
//
//	go test -c -o /tmp/md.test ./imap/imapserver/maildir
//	POSTHORN_BENCH_LMTP_ADDR=127.0.0.1:10024 taskset -c 0 /tmp/md.test -test.run ServeLMTPForMailbench -test.timeout 0 &
//	mailbench smtp -addr 127.0.0.1:10024 -lmtp -rcpt-addr bench@localhost -conns 8 -msgs 2000 -size 4096 -pipeline
//
// With POSTHORN_BENCH_IMAP_ADDR (and/or POP3_ADDR) set as well, or alone,
// it serves IMAP (POP3) over the same store for imap-load, imap-fetch and
// pop3 (user bench, password bench, no TLS). It ends early on SIGTERM
// or SIGINT; with POSTHORN_BENCH_CPUPROFILE=FILE the run is profiled.
func TestServeLMTPForMailbench(t *testing.T) {
	addr := os.Getenv("POSTHORN_BENCH_LMTP_ADDR")
	imapAddr := os.Getenv("POSTHORN_BENCH_IMAP_ADDR")
	pop3Addr := os.Getenv("POSTHORN_BENCH_POP3_ADDR")
	if addr == "" && imapAddr == "" && pop3Addr == "" {
		t.Skip("POSTHORN_BENCH_LMTP_ADDR not set")
	}
	d := 10 * time.Minute
	if v := os.Getenv("POSTHORN_BENCH_FOR"); v != "" {
		d, _ = time.ParseDuration(v)
	}
	if p := os.Getenv("POSTHORN_BENCH_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	wait := func() {
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	}
	dir := os.Getenv("POSTHORN_BENCH_MAILDIR")
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := maildir.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AddUser("bench", "bench"); err != nil {
		t.Fatal(err)
	}
	if imapAddr != "" {
		isrv := &imapserver.Server{Backend: s, AllowInsecureAuth: true}
		iln, err := net.Listen("tcp", imapAddr)
		if err != nil {
			t.Fatal(err)
		}
		go isrv.Serve(iln)
		defer isrv.Close()
	}
	if pop3Addr != "" {
		psrv := &pop3server.Server{Backend: pop3server.NewStoreBackend(s), Auth: &sasl.Registry{Credentials: s}, AllowInsecureAuth: true}
		pln, err := net.Listen("tcp", pop3Addr)
		if err != nil {
			t.Fatal(err)
		}
		go psrv.Serve(pln)
		defer psrv.Close()
	}
	if addr == "" {
		wait()
		return
	}
	srv := &smtpserver.Server{Mode: smtpserver.ModeLMTP, Hostname: "localhost", Backend: smtpserver.NewStoreBackend(s, smtpserver.StoreOptions{}),
		Limits: smtpserver.Limits{MaxMessages: 1 << 30}}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	wait()
	srv.Close()
}
