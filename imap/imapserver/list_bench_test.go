package imapserver_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
)

// listServer serves alice with n mailboxes besides the defaults: n/10
// top-level folders with nine children each, every third subscribed. It
// returns a logged-in connection.
func listServer(tb testing.TB, n int) (net.Conn, *bufio.Reader) {
	tb.Helper()
	store := imapmem.New()
	store.AddUser("alice", "secret")
	ctx := context.Background()
	u, err := store.User(ctx, "alice", nil)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		name := fmt.Sprintf("folder%06d", i/10)
		if i%10 != 0 {
			name = fmt.Sprintf("%s/sub%d", name, i%10)
		}
		if err := u.CreateMailbox(ctx, name, imapserver.CreateOptions{}); err != nil {
			tb.Fatal(err)
		}
		if i%3 == 0 {
			if err := u.Subscribe(ctx, name); err != nil {
				tb.Fatal(err)
			}
		}
	}
	srv := &imapserver.Server{Backend: store, AllowInsecureAuth: true}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	br := bufio.NewReaderSize(c, 64<<10)
	br.ReadString('\n')
	fmt.Fprintf(c, "a LOGIN alice secret\r\n")
	listRead(tb, br, "a ")
	return c, br
}

// listRead reads responses up to the tagged OK and returns the number of
// untagged lines.
func listRead(tb testing.TB, br *bufio.Reader, tag string) int {
	n := 0
	for {
		l, err := br.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			tb.Fatal(err)
		}
		if len(l) > len(tag) && string(l[:len(tag)]) == tag {
			if string(l[len(tag):len(tag)+2]) != "OK" {
				tb.Fatalf("%s", l)
			}
			return n
		}
		n++
	}
}

// listCommands are the LIST shapes the benchmark and scaling check run:
// everything, one level, subscribed with RECURSIVEMATCH, LSUB.
var listCommands = []struct{ name, cmd string }{
	{"all", `LIST "" *`},
	{"top", `LIST "" %`},
	{"children", `LIST "" folder000001/%`},
	{"subscribed", `LIST (SUBSCRIBED RECURSIVEMATCH) "" * RETURN (CHILDREN)`},
	{"lsub", `LSUB "" %`},
}

// BenchmarkList measures LIST and LSUB over 10,000 mailboxes, over
// loopback, from the command to its tagged OK (issue 13).
func BenchmarkList(b *testing.B) {
	const n = 10000
	c, br := listServer(b, n)
	for _, lc := range listCommands {
		b.Run(lc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				fmt.Fprintf(c, "l %s\r\n", lc.cmd)
				listRead(b, br, "l ")
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/mailbox")
		})
	}
}

// listCPU returns the CPU time (user and system, of the whole test
// process: server and client) of runs LISTs of cmd on conn, after one
// warm-up. CPU time, unlike the wall clock, does not count the time the
// process waits for a core on a busy machine.
func listCPU(tb testing.TB, c net.Conn, br *bufio.Reader, cmd string, runs int) time.Duration {
	fmt.Fprintf(c, "l %s\r\n", cmd)
	listRead(tb, br, "l ")
	start := cpuTime()
	for range runs {
		fmt.Fprintf(c, "l %s\r\n", cmd)
		listRead(tb, br, "l ")
	}
	return (cpuTime() - start) / time.Duration(runs)
}

// LIST costs time linear in the number of mailboxes: over 100,000 at most
// 12 times its CPU cost over 10,000 (issue 13; the child scan it replaced
// was quadratic, about 100 times).
func TestListScaling(t *testing.T) {
	// The CPU clock is the whole process's: other tests running at the
	// same time would count. .ci/run runs this test alone, without -race
	// (whose costs do not scale like the code's).
	if os.Getenv("POSTHORN_SCALING_CHECKS") != "1" {
		t.Skip("set POSTHORN_SCALING_CHECKS=1 and run alone (-run TestListScaling)")
	}
	if raceEnabled {
		t.Skip("the race detector's costs do not scale like the code's")
	}
	small, sbr := listServer(t, 10000)
	large, lbr := listServer(t, 100000)
	for _, lc := range listCommands {
		// Rounds interleaved so that a busy moment hits both sizes, each
		// long enough for the CPU clock's resolution; the cheapest round.
		var ts, tl time.Duration
		for range 5 {
			s := listCPU(t, small, sbr, lc.cmd, 40)
			l := listCPU(t, large, lbr, lc.cmd, 4)
			if ts == 0 || s < ts {
				ts = s
			}
			if tl == 0 || l < tl {
				tl = l
			}
		}
		ratio := float64(tl) / float64(ts)
		t.Logf("%-10s 10k %v, 100k %v: %.1f×", lc.name, ts, tl, ratio)
		if ratio > 12 {
			t.Errorf("%s: LIST over 100,000 mailboxes costs %.1f× its CPU time over 10,000 (%v vs %v); want ≤ 12×", lc.cmd, ratio, tl, ts)
		}
	}
}
