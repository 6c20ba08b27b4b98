package imapserver_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
)

// BenchmarkMailbenchFetch drives, in-process over loopback, the commands
// of mailbench imap-fetch (/work/shared/bench/imapfetch.go) on the
// mailbox imap-load makes: the messages of `mailbench mime-corpus` in
// the directory POSTHORN_BENCH_CORPUS, with imap-load's flags and dates
// for seed 1. It skips without that variable. The mailbox is loaded and
// every command run twice (as perfcheck.sh warms the server) before the
// sub-benchmarks, which share the connection; ns/msg is per message of
// the mailbox, and -benchmem's allocations are per command. A STORE's
// inverse, untimed, follows it, so every STORE changes every message.
//
//	/tmp/mailbench mime-corpus -out /tmp/corpus -n 2000 -seed 1
//	POSTHORN_BENCH_CORPUS=/tmp/corpus go test -run '^$' -bench MailbenchFetch -benchmem ./imap/imapserver
//
// For instruction counts, testdata/callgrind/run.sh runs the server of
// TestServeMailbenchCorpus under callgrind in a process of its own, so
// that the counts are the server's alone. Here under callgrind the
// client's instructions count too; with
// --dump-before='*callgrindMark' each sub-benchmark's run gets a dump.
func BenchmarkMailbenchFetch(b *testing.B) {
	dir := os.Getenv("POSTHORN_BENCH_CORPUS")
	if dir == "" {
		b.Skip("POSTHORN_BENCH_CORPUS not set (mailbench mime-corpus -n 2000 -seed 1)")
	}
	store, n := mailbenchStore(b, dir)
	srv := &imapserver.Server{Backend: store, AllowInsecureAuth: true}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReaderSize(c, 64<<10)
	br.ReadString('\n')
	fmt.Fprintf(c, "a LOGIN bench bench\r\n")
	readUntil(b, br, "a ")
	ops := []struct{ name, cmd string }{
		{"select", "SELECT INBOX"},
		{"fetch_flags", "UID FETCH 1:* (UID FLAGS)"},
		{"fetch_envelope", "UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)"},
		{"fetch_bodystructure", "UID FETCH 1:* (BODYSTRUCTURE)"},
		{"fetch_header_fields", "UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (From To Subject Date)])"},
		{"fetch_body", "UID FETCH 1:* (BODY.PEEK[])"},
		{"search_subject", `UID SEARCH SUBJECT "kumquatvex"`},
		{"search_body", `UID SEARCH BODY "marzipanlode"`},
		{"store_add_seen", `UID STORE 1:* +FLAGS.SILENT (\Seen)`},
		{"store_del_seen", `UID STORE 1:* -FLAGS.SILENT (\Seen)`},
	}
	// Warm up as perfcheck.sh does (imap-fetch -repeat 2): the parse
	// cache is full and every buffer grown.
	for range 2 {
		for _, op := range ops {
			fmt.Fprintf(c, "zzw %s\r\n", op.cmd)
			readUntil(b, br, "zzw ")
		}
	}
	for _, op := range ops {
		b.Run(op.name, func(b *testing.B) {
			b.ReportAllocs()
			callgrindMark()
			defer callgrindMark()
			for range b.N {
				fmt.Fprintf(c, "zzt %s\r\n", op.cmd)
				readUntil(b, br, "zzt ")
				if op.name == "store_add_seen" {
					// Leave the mailbox as it was, untimed: imap-fetch
					// alternates the two STOREs.
					b.StopTimer()
					fmt.Fprintf(c, "zzu UID STORE 1:* -FLAGS.SILENT (\\Seen)\r\n")
					readUntil(b, br, "zzu ")
					b.StartTimer()
				}
				if op.name == "store_del_seen" {
					b.StopTimer()
					fmt.Fprintf(c, "zzu UID STORE 1:* +FLAGS.SILENT (\\Seen)\r\n")
					readUntil(b, br, "zzu ")
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/msg")
		})
	}
	// A garbage collection of the warm server: its cost lands on
	// whichever command runs when it happens (the parse cache's entries,
	// for one, are held weakly).
	b.Run("gc", func(b *testing.B) {
		callgrindMark()
		defer callgrindMark()
		for range b.N {
			runtime.GC()
		}
	})
}

// mailbenchStore returns an imapmem store holding user bench/bench with
// the mailbox imap-load makes from the corpus in dir, and its size.
func mailbenchStore(tb testing.TB, dir string) (*imapmem.Store, int) {
	paths, err := filepath.Glob(filepath.Join(dir, "msg-*.eml"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no msg-*.eml in %s: %v", dir, err)
	}
	store := imapmem.New()
	store.AddUser("bench", "bench")
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		flags, date := mailbenchPlan(1, i)
		if _, err := store.DeliverTo(context.Background(), "bench", "INBOX", bytes.NewReader(data), flags, date); err != nil {
			tb.Fatal(err)
		}
	}
	return store, len(paths)
}

// TestServeMailbenchCorpus serves, on POSTHORN_BENCH_IMAP_ADDR, the
// mailbox of BenchmarkMailbenchFetch (POSTHORN_BENCH_CORPUS) until the
// process is stopped or POSTHORN_BENCH_FOR (default 10m) elapses: a
// server process whose instructions are the server's alone, for
// callgrind with callgrind_control dumps between commands sent by
// another process (testdata/callgrind/run.sh).
func TestServeMailbenchCorpus(t *testing.T) {
	dir, addr := os.Getenv("POSTHORN_BENCH_CORPUS"), os.Getenv("POSTHORN_BENCH_IMAP_ADDR")
	if dir == "" || addr == "" {
		t.Skip("POSTHORN_BENCH_CORPUS or POSTHORN_BENCH_IMAP_ADDR not set")
	}
	d := 10 * time.Minute
	if v := os.Getenv("POSTHORN_BENCH_FOR"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatal(err)
		}
	}
	store, _ := mailbenchStore(t, dir)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &imapserver.Server{Backend: store, AllowInsecureAuth: true}
	go srv.Serve(ln)
	time.Sleep(d)
	srv.Close()
}

// callgrindMark marks the start and the end of each sub-benchmark's
// run for callgrind --dump-before='*callgrindMark': the dump taken at
// the end of the second run of a sub-benchmark holds its b.N commands.
//
//go:noinline
func callgrindMark() { callgrindMarks++ }

var callgrindMarks int

// mailbenchPlan returns the flags and date imap-load gives message i for
// seed (mailbench's planMessage: the same draws from the same PCG stream).
func mailbenchPlan(seed uint64, i int) ([]string, time.Time) {
	r := rand.New(rand.NewPCG(seed, uint64(i)*0x9E3779B97F4A7C15+0x632BE59BD9B4E019))
	r.IntN(100) // kind
	r.IntN(100) // subject hit
	r.IntN(100) // body hit
	secs := r.Int64N(366 * 24 * 3600)
	zones := []int{0, 1 * 3600, 2 * 3600, -5 * 3600, -8 * 3600, 5*3600 + 1800, 9 * 3600, -3 * 3600}
	date := time.Unix(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Unix()+secs, 0).In(time.FixedZone("", zones[r.IntN(len(zones))]))
	var flags []string
	if r.IntN(100) < 30 {
		flags = append(flags, `\Answered`)
	}
	if r.IntN(100) < 8 {
		flags = append(flags, `\Flagged`)
	}
	return flags, date
}
