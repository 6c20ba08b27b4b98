package pop3server_test

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
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
	"github.com/posthorn/posthorn/pop3/pop3server"
)

// TestServePOP3ForMailbench runs the POP3 server over an imapmem store
// (through NewStoreBackend) as a stand-alone process for mailbench
// (/work/shared/bench/README.md) when POSTHORN_BENCH_POP3_ADDR is set,
// until POSTHORN_BENCH_FOR elapses (default 60m) or SIGTERM/SIGINT. The
// store holds user bench/bench with an empty INBOX and plaintext login
// is allowed, as in Dovecot's dovecot.sh configuration. The mailbox is
// loaded as Dovecot's is, with mailbench imap-load, through an IMAP
// server over the same store on POSTHORN_BENCH_IMAP_ADDR (default
// 127.0.0.1:11143). With POSTHORN_BENCH_CPUPROFILE=FILE the whole run is
// profiled. The process's CPU time includes the IMAP server's, which is
// idle during mailbench pop3.
//
//	go test -c -o /tmp/phpop3.test ./pop3/pop3server
//	POSTHORN_BENCH_POP3_ADDR=127.0.0.1:11110 taskset -c 0 /tmp/phpop3.test -test.run ServePOP3ForMailbench -test.timeout 0 &
//	taskset -c 1 mailbench imap-load -addr 127.0.0.1:11143 -n 10000 -seed 1
//	taskset -c 1 mailbench pop3 -addr 127.0.0.1:11110 -user bench -pass bench -repeat 3 -pid $!
func TestServePOP3ForMailbench(t *testing.T) {
	addr := os.Getenv("POSTHORN_BENCH_POP3_ADDR")
	if addr == "" {
		t.Skip("POSTHORN_BENCH_POP3_ADDR not set")
	}
	imapAddr := os.Getenv("POSTHORN_BENCH_IMAP_ADDR")
	if imapAddr == "" {
		imapAddr = "127.0.0.1:11143"
	}
	d := 60 * time.Minute
	if v := os.Getenv("POSTHORN_BENCH_FOR"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatal(err)
		}
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
	store := imapmem.New()
	if err := store.AddUser("bench", "bench"); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	iln, err := net.Listen("tcp", imapAddr)
	if err != nil {
		t.Fatal(err)
	}
	ps := &pop3server.Server{
		Backend:           pop3server.NewStoreBackend(store),
		AllowInsecureAuth: true,
		Limits:            pop3server.Limits{MaxConnectionsPerIP: -1, MaxConnections: -1},
	}
	is := &imapserver.Server{
		Backend:           store,
		AllowInsecureAuth: true,
		Limits:            imapserver.Limits{MaxConnectionsPerIP: -1, MaxConnections: -1},
	}
	go func() { _ = ps.Serve(ln) }()
	go func() { _ = is.Serve(iln) }()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = ps.Shutdown(sctx)
	_ = is.Shutdown(sctx)
}
