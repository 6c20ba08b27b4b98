package imapserver_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
)

// benchResyncServer returns a server whose INBOX holds n messages, the
// UIDVALIDITY, the HIGHESTMODSEQ a client saw before 1% of the mailbox
// changed (n/100 flag changes, each its own STORE, of which one in five
// expunges the message), and the final HIGHESTMODSEQ.
func benchResyncServer(b *testing.B, n int) (store *imapmem.Store, addr string, uidValidity uint32, modSeq, last uint64) {
	b.Helper()
	ctx := context.Background()
	store = imapmem.New()
	if err := store.AddUser("alice", "secret"); err != nil {
		b.Fatal(err)
	}
	for range n {
		if _, err := store.Deliver(ctx, "alice", strings.NewReader(msg1)); err != nil {
			b.Fatal(err)
		}
	}
	u, _ := store.User(ctx, "alice", nil)
	mb, err := u.OpenMailbox(ctx, "INBOX", false)
	if err != nil {
		b.Fatal(err)
	}
	snap := mb.Snapshot()
	uidValidity, modSeq = snap.UIDValidity, snap.HighestModSeq
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	for i := range n / 100 {
		uid := snap.UIDs[rng.IntN(len(snap.UIDs))]
		if i%5 == 4 {
			mb.SetFlags(ctx, []uint32{uid}, imapserver.FlagsAdd, []string{`\Deleted`}, 0)
			mb.Expunge(ctx, []uint32{uid})
		} else {
			mb.SetFlags(ctx, []uint32{uid}, imapserver.FlagsAdd, []string{`\Seen`, fmt.Sprintf("$k%d", i%7)}, 0)
		}
		mb.Poll()
	}
	st, _ := u.Status(ctx, "INBOX")
	last = st.HighestModSeq
	mb.Close()

	srv := &imapserver.Server{Backend: store, AllowInsecureAuth: true}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return store, ln.Addr().String(), uidValidity, modSeq, last
}

// benchConn is a logged-in connection with QRESYNC enabled.
type benchConn struct {
	conn net.Conn
	br   *bufio.Reader
}

func dialBench(b *testing.B, addr string) *benchConn {
	b.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	bc := &benchConn{conn: c, br: bufio.NewReaderSize(c, 64<<10)}
	bc.cmd(b, "a LOGIN alice secret")
	bc.cmd(b, "b ENABLE QRESYNC")
	return bc
}

// cmd sends a command and reads up to its tagged response, returning
// the number of untagged lines and bytes.
func (bc *benchConn) cmd(b *testing.B, line string) (lines, bytes int) {
	tag, _, _ := strings.Cut(line, " ")
	bc.conn.Write([]byte(line + "\r\n"))
	for {
		l, err := bc.br.ReadSlice('\n')
		if err != nil {
			b.Fatal(err)
		}
		if len(l) > len(tag) && string(l[:len(tag)]) == tag && l[len(tag)] == ' ' {
			if !strings.HasPrefix(string(l[len(tag)+1:]), "OK") {
				b.Fatalf("%s: %s", line, l)
			}
			return lines, bytes
		}
		lines++
		bytes += len(l)
	}
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSelectQresync measures SELECT with and without QRESYNC on
// mailboxes of 10,000 and 100,000 messages after 1% of them changed
// (RFC 7162 §3.2.5, issue 7). "plain" is the fixed cost of opening the
// mailbox; "qresync-1pct" resyncs across the 1% changed, and
// "qresync-last100" across the last 100 mod-sequences only (the same
// work at both sizes); the difference to "plain" is the QRESYNC part.
// The "-cold" variants change one message before each SELECT (outside
// the measurement), so the store rebuilds the mailbox's sequence view
// that SELECT starts from, as it must after the changes a resync is
// about: that part is proportional to the mailbox by nature. cpu-ns/op is the process's CPU during the command (the server
// and the small client that reads the responses); lines/op and
// resp-B/op are what was sent.
func BenchmarkSelectQresync(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{10_000, 100_000} {
		store, addr, uidValidity, modSeq, last := benchResyncServer(b, n)
		u, _ := store.User(ctx, "alice", nil)
		for _, mode := range []string{"plain", "qresync-1pct", "qresync-last100", "plain-cold", "qresync-1pct-cold"} {
			b.Run(fmt.Sprintf("n=%d/%s", n, mode), func(b *testing.B) {
				bc := dialBench(b, addr)
				since := uint64(0)
				switch mode {
				case "qresync-1pct", "qresync-1pct-cold":
					since = modSeq
				case "qresync-last100":
					since = last - 100
				}
				cmd := func() string {
					if since == 0 {
						return "s SELECT INBOX"
					}
					return fmt.Sprintf("s SELECT INBOX (QRESYNC (%d %d))", uidValidity, since)
				}
				cold := strings.HasSuffix(mode, "-cold")
				var mb imapserver.Mailbox
				if cold {
					var err error
					if mb, err = u.OpenMailbox(ctx, "INBOX", false); err != nil {
						b.Fatal(err)
					}
					defer mb.Close()
				}
				uids := []uint32{last1(b, u)}
				bc.cmd(b, cmd()) // warm: builds the store's mod-sequence index once
				b.ReportAllocs()
				var cpu time.Duration
				var lines, bytes int
				b.ResetTimer()
				for i := range b.N {
					if cold {
						b.StopTimer()
						op := imapserver.FlagsAdd
						if i%2 == 1 {
							op = imapserver.FlagsRemove
						}
						res, err := mb.SetFlags(ctx, uids, op, []string{"$cold"}, 0)
						if err != nil || len(res.Changed) != 1 {
							b.Fatal(err, res)
						}
						mb.Poll()
						b.StartTimer()
					}
					c := cmd()
					cpu0 := cpuTime()
					lines, bytes = bc.cmd(b, c)
					cpu += cpuTime() - cpu0
				}
				b.StopTimer()
				b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
				b.ReportMetric(float64(lines), "lines/op")
				b.ReportMetric(float64(bytes), "resp-B/op")
			})
		}
	}
}

// last1 returns the UID of INBOX's last message.
func last1(b *testing.B, u imapserver.User) uint32 {
	mb, err := u.OpenMailbox(context.Background(), "INBOX", true)
	if err != nil {
		b.Fatal(err)
	}
	defer mb.Close()
	uids := mb.Snapshot().UIDs
	return uids[len(uids)-1]
}

// BenchmarkChangedSince measures the store side of a resync alone: the
// messages changed and the UIDs expunged since a mod-sequence, at two
// mailbox sizes with the same 1% changed. The time follows the changes.
func BenchmarkChangedSince(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		ctx := context.Background()
		store := imapmem.New()
		store.AddUser("alice", "secret")
		for range n {
			store.Deliver(ctx, "alice", strings.NewReader(msg1))
		}
		u, _ := store.User(ctx, "alice", nil)
		mb, _ := u.OpenMailbox(ctx, "INBOX", false)
		snap := mb.Snapshot()
		for i := range 100 {
			uid := snap.UIDs[i*len(snap.UIDs)/100]
			mb.SetFlags(ctx, []uint32{uid}, imapserver.FlagsAdd, []string{`\Seen`}, 0)
		}
		ci := mb.(imapserver.ChangeIndex)
		eh := mb.(imapserver.ExpungeHistory)
		ci.ChangedSince(ctx, snap.HighestModSeq) // builds the index
		b.Run(fmt.Sprintf("n=%d/changes=100", n), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				c, _ := ci.ChangedSince(ctx, snap.HighestModSeq)
				e, _ := eh.ExpungedSince(ctx, snap.HighestModSeq)
				if len(c) != 100 || len(e) != 0 {
					b.Fatal(len(c), len(e))
				}
			}
		})
		mb.Close()
	}
}
