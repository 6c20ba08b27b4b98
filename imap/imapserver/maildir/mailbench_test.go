package maildir_test

import (
	"net"
	"os"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver/maildir"
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
func TestServeLMTPForMailbench(t *testing.T) {
	addr := os.Getenv("POSTHORN_BENCH_LMTP_ADDR")
	if addr == "" {
		t.Skip("POSTHORN_BENCH_LMTP_ADDR not set")
	}
	d := 10 * time.Minute
	if v := os.Getenv("POSTHORN_BENCH_FOR"); v != "" {
		d, _ = time.ParseDuration(v)
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
	srv := &smtpserver.Server{Mode: smtpserver.ModeLMTP, Hostname: "localhost", Backend: smtpserver.NewStoreBackend(s, smtpserver.StoreOptions{}),
		Limits: smtpserver.Limits{MaxMessages: 1 << 30}}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	time.Sleep(d)
	srv.Close()
}
