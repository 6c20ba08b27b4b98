package bench

import (
	"context"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	goimapclient "github.com/emersion/go-imap/v2/imapclient"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/imapclient"
)

// BenchmarkIMAPClientServer runs the three whole-mailbox FETCHes of issue 8
// against a real server, by posthorn's client and go-imap v2's, both on the
// same mailbox. It needs a server loaded by mailbench:
//
//	/work/shared/bench/dovecot.sh start DIR      # or any IMAP server
//	mailbench imap-load -addr 127.0.0.1:20143 -n 10000 -seed 1
//	IMAP_BENCH_ADDR=127.0.0.1:20143 go test -run '^$' -bench IMAPClientServer -count 6
//
// IMAP_BENCH_USER and IMAP_BENCH_PASS default to bench/bench. The server's
// work is common to both clients, so besides wall time each op reports the
// benchmark process's own CPU time (user+sys from getrusage) as cpu-ns/op:
// that is the client's cost, steady when other work shares the machine.
func BenchmarkIMAPClientServer(b *testing.B) {
	addr := os.Getenv("IMAP_BENCH_ADDR")
	if addr == "" {
		b.Skip("IMAP_BENCH_ADDR not set (see the comment on BenchmarkIMAPClientServer)")
	}
	user, pass := os.Getenv("IMAP_BENCH_USER"), os.Getenv("IMAP_BENCH_PASS")
	if user == "" {
		user, pass = "bench", "bench"
	}
	for _, tc := range imapServerFetchCases() {
		b.Run(tc.name+"/posthorn", func(b *testing.B) {
			ctx := context.Background()
			c, err := imapclient.Dial(ctx, addr, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if err := c.Login(ctx, user, pass); err != nil {
				b.Fatal(err)
			}
			sel, err := c.Select(ctx, "INBOX", &imapclient.SelectOptions{ReadOnly: true})
			if err != nil {
				b.Fatal(err)
			}
			all := imap.NumSet{Ranges: []imap.Range{{Start: 1, Stop: imap.Star}}}
			buf := make([]byte, 32<<10)
			var bytes int64
			run := func() int {
				n := 0
				bytes = 0
				fc := c.UIDFetch(ctx, all, tc.ph, nil)
				for m := fc.Next(); m != nil; m = fc.Next() {
					n++
					for it := m.Next(); it != nil; it = m.Next() {
						if s, ok := it.(imapclient.FetchItemBodySection); ok {
							k, _ := io.CopyBuffer(io.Discard, struct{ io.Reader }{s.Literal}, buf)
							bytes += k
						}
					}
				}
				if err := fc.Close(); err != nil {
					b.Fatal(err)
				}
				return n
			}
			if n := run(); n != int(sel.NumMessages) { // warm the server's cache
				b.Fatalf("%d messages fetched, %d in the mailbox", n, sel.NumMessages)
			}
			measure(b, bytes, int(sel.NumMessages), run)
		})
		b.Run(tc.name+"/go-imap", func(b *testing.B) {
			c, err := goimapclient.DialInsecure(addr, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if err := c.Login(user, pass).Wait(); err != nil {
				b.Fatal(err)
			}
			sel, err := c.Select("INBOX", &goimap.SelectOptions{ReadOnly: true}).Wait()
			if err != nil {
				b.Fatal(err)
			}
			all := goimap.UIDSet{goimap.UIDRange{Start: 1, Stop: 0}}
			buf := make([]byte, 32<<10)
			var bytes int64
			run := func() int {
				n := 0
				bytes = 0
				fc := c.Fetch(all, tc.gi)
				for m := fc.Next(); m != nil; m = fc.Next() {
					n++
					for it := m.Next(); it != nil; it = m.Next() {
						if s, ok := it.(goimapclient.FetchItemDataBodySection); ok {
							k, _ := io.CopyBuffer(io.Discard, struct{ io.Reader }{s.Literal}, buf)
							bytes += k
						}
					}
				}
				if err := fc.Close(); err != nil {
					b.Fatal(err)
				}
				return n
			}
			if n := run(); n != int(sel.NumMessages) {
				b.Fatalf("%d messages fetched, %d in the mailbox", n, sel.NumMessages)
			}
			measure(b, bytes, int(sel.NumMessages), run)
		})
	}
}

// imapServerFetchCases are the commands of issue 8's Performance section.
func imapServerFetchCases() []imapFetchCase {
	return []imapFetchCase{
		{name: "Envelope",
			ph: []imap.FetchAtt{{Item: imap.FetchUID}, {Item: imap.FetchFlags}, {Item: imap.FetchRFC822Size}, {Item: imap.FetchInternalDate}, {Item: imap.FetchEnvelope}},
			gi: &goimap.FetchOptions{UID: true, Flags: true, RFC822Size: true, InternalDate: true, Envelope: true}},
		{name: "BodyStructure",
			ph: []imap.FetchAtt{{Item: imap.FetchBodyStructure}},
			gi: &goimap.FetchOptions{BodyStructure: &goimap.FetchItemBodyStructure{Extended: true}}},
		{name: "Body",
			ph: []imap.FetchAtt{{Item: imap.FetchBodySection, Section: &imap.FetchSection{Peek: true}}},
			gi: &goimap.FetchOptions{BodySection: []*goimap.FetchItemBodySection{{Peek: true}}}},
	}
}

// measure times b.N runs and reports the process's CPU time per op and
// messages per second besides ns/op.
func measure(b *testing.B, bytes int64, msgs int, run func() int) {
	b.SetBytes(bytes)
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		run()
	}
	wall := time.Since(start)
	b.StopTimer()
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(msgs)*float64(b.N)/wall.Seconds(), "msgs/s")
}

// cpuTime is the process's user+sys CPU time so far.
func cpuTime() time.Duration {
	u, s := cpuTimes()
	return u + s
}

// cpuTimes returns this process's user and system CPU time.
func cpuTimes() (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}
