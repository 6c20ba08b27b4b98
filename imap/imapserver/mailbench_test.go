package imapserver_test

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
)

// TestServeIMAPForMailbench runs the server over an imapmem store as a
// stand-alone process for mailbench (/work/shared/bench/README.md) when
// POSTHORN_BENCH_IMAP_ADDR is set, until POSTHORN_BENCH_FOR elapses
// (default 60m) or SIGTERM/SIGINT. The store holds user bench/bench with
// an empty INBOX and plaintext LOGIN is allowed, as in mailbench's go-imap
// peer. With POSTHORN_BENCH_CPUPROFILE=FILE the whole run is profiled.
//
//	go test -c -o /tmp/phimap.test ./imap/imapserver
//	POSTHORN_BENCH_IMAP_ADDR=127.0.0.1:11143 taskset -c 0 /tmp/phimap.test -test.run ServeIMAPForMailbench -test.timeout 0 &
//	taskset -c 1 mailbench imap-fetch -addr 127.0.0.1:11143 -pid $!
func TestServeIMAPForMailbench(t *testing.T) {
	addr := os.Getenv("POSTHORN_BENCH_IMAP_ADDR")
	if addr == "" {
		t.Skip("POSTHORN_BENCH_IMAP_ADDR not set")
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
	s := &imapserver.Server{
		Backend:           store,
		AllowInsecureAuth: true,
		// mailbench imap-idle opens thousands of connections from one address.
		Limits: imapserver.Limits{MaxConnectionsPerIP: -1, MaxConnections: -1},
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
