package imapserver_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
)

// benchServer serves n messages (msg1 and msg2 alternately) and returns
// a logged-in connection with INBOX selected.
func benchServer(b *testing.B, n int, configure ...func(*imapserver.Server)) (net.Conn, *bufio.Reader) {
	store := imapmem.New()
	store.AddUser("alice", "secret")
	for i := range n {
		m := msg1
		if i%2 == 1 {
			m = msg2
		}
		store.Deliver(context.Background(), "alice", strings.NewReader(m))
	}
	srv := &imapserver.Server{Backend: store, AllowInsecureAuth: true}
	for _, f := range configure {
		f(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	br := bufio.NewReaderSize(c, 64<<10)
	br.ReadString('\n')
	fmt.Fprintf(c, "a LOGIN alice secret\r\nb SELECT INBOX\r\n")
	readUntil(b, br, "b ")
	return c, br
}

func readUntil(b *testing.B, br *bufio.Reader, prefix string) int {
	n := 0
	for {
		l, err := br.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			b.Fatal(err)
		}
		n += len(l)
		if len(l) > len(prefix) && string(l[:len(prefix)]) == prefix {
			if string(l[len(prefix):len(prefix)+2]) != "OK" {
				b.Fatalf("%s", l)
			}
			return n
		}
	}
}

// BenchmarkFetch measures whole-mailbox FETCH commands over loopback,
// per message (-benchmem allocations are per command of 1,000 messages).
func BenchmarkFetch(b *testing.B) {
	const n = 1000
	for _, items := range []string{"(UID FLAGS)", "ENVELOPE", "BODYSTRUCTURE", "BODY.PEEK[HEADER.FIELDS (From Subject)]", "BODY.PEEK[]"} {
		b.Run(strings.Fields(strings.Trim(items, "()"))[0], func(b *testing.B) {
			c, br := benchServer(b, n)
			fmt.Fprintf(c, "w UID FETCH 1:* %s\r\n", items) // warm the parse cache
			readUntil(b, br, "w ")
			b.ReportAllocs()
			b.ResetTimer()
			var bytes int
			for range b.N {
				fmt.Fprintf(c, "f UID FETCH 1:* %s\r\n", items)
				bytes += readUntil(b, br, "f ")
			}
			b.SetBytes(int64(bytes / b.N))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/msg")
		})
	}
}

// BenchmarkFetchBounded measures a warm FETCH ENVELOPE of a working set
// of 1,000 messages in a mailbox of 20,000 whose parses do not all fit in
// the parse cache (4 MiB, about 2,000 of these parses): the whole
// mailbox was fetched once (so the cache is full and evicting), then the
// working set once. "unbounded" is the same with a cache that holds the
// whole mailbox; "scan" fetches the whole mailbox each time through the
// 4 MiB cache, so that most messages are parsed again (the cold figure).
func BenchmarkFetchBounded(b *testing.B) {
	const n, ws = 20000, 1000
	for _, bc := range []struct {
		name  string
		bound int64
		set   string
	}{
		{"unbounded", 1 << 40, fmt.Sprintf("%d:*", n-ws+1)},
		{"bounded", 4 << 20, fmt.Sprintf("%d:*", n-ws+1)},
		{"scan", 4 << 20, "1:*"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, br := benchServer(b, n, func(s *imapserver.Server) { s.Limits.ParseCacheBytes = bc.bound })
			fmt.Fprintf(c, "w FETCH 1:* ENVELOPE\r\n")
			readUntil(b, br, "w ")
			fmt.Fprintf(c, "w FETCH %s ENVELOPE\r\n", bc.set)
			readUntil(b, br, "w ")
			per := ws
			if bc.set == "1:*" {
				per = n
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				fmt.Fprintf(c, "f FETCH %s ENVELOPE\r\n", bc.set)
				readUntil(b, br, "f ")
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*per), "ns/msg")
		})
	}
}

// BenchmarkFetchCold measures the first FETCH of ENVELOPE or
// BODYSTRUCTURE over a mailbox of 1,000 messages (imapserver.ColdCorpus)
// on a server that has parsed none of them: each round a fresh store,
// server and connection (their setup not timed). cpu-ns/msg is the
// process's CPU time per message, client side included.
func BenchmarkFetchCold(b *testing.B) {
	const n = 1000
	corpus := imapserver.ColdCorpus(n)
	for _, item := range []string{"ENVELOPE", "BODYSTRUCTURE"} {
		b.Run(item, func(b *testing.B) {
			b.ReportAllocs()
			var cpu time.Duration
			for range b.N {
				b.StopTimer()
				store := imapmem.New()
				store.AddUser("alice", "secret")
				for _, m := range corpus {
					store.Deliver(context.Background(), "alice", strings.NewReader(m))
				}
				srv := &imapserver.Server{Backend: store, AllowInsecureAuth: true}
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				go srv.Serve(ln)
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				br := bufio.NewReaderSize(c, 64<<10)
				br.ReadString('\n')
				fmt.Fprintf(c, "a LOGIN alice secret\r\nb SELECT INBOX\r\n")
				readUntil(b, br, "b ")
				runtime.GC()
				start := imapserver.CPUNow()
				b.StartTimer()
				fmt.Fprintf(c, "f FETCH 1:* %s\r\n", item)
				readUntil(b, br, "f ")
				b.StopTimer()
				cpu += imapserver.CPUNow() - start
				c.Close()
				srv.Close()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/msg")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/msg")
		})
	}
}

// BenchmarkStore measures a silent STORE of \Seen on a whole mailbox,
// alternately set and cleared so that every run changes every message,
// and the SELECT that follows (which starts from the store's cached view).
func BenchmarkStore(b *testing.B) {
	const n = 1000
	c, br := benchServer(b, n)
	b.Run("STORE", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			op := "+"
			if i%2 == 1 {
				op = "-"
			}
			fmt.Fprintf(c, "s UID STORE 1:* %sFLAGS.SILENT (\\Seen)\r\n", op)
			readUntil(b, br, "s ")
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/msg")
	})
	b.Run("SELECT", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			fmt.Fprintf(c, "s SELECT INBOX\r\n")
			readUntil(b, br, "s ")
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/msg")
	})
}

func BenchmarkSearch(b *testing.B) {
	c, br := benchServer(b, 1000)
	for _, q := range []string{"UNSEEN", "SUBJECT report", "BODY marzipan"} {
		b.Run(strings.Fields(q)[0], func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				fmt.Fprintf(c, "s UID SEARCH %s\r\n", q)
				readUntil(b, br, "s ")
			}
		})
	}
}

// BenchmarkIdleConnections reports the server's memory per connection
// in IDLE (heap and goroutine stacks, measured in-process; the client
// side holds only its sockets).
// The mailbox holds 10,000 messages, as in mailbench imap-idle after
// imap-load: sessions share the mailbox's UID array (imapmem's view), so
// the figure does not grow with the mailbox.
func BenchmarkIdleConnections(b *testing.B) {
	const conns = 500
	store := imapmem.New()
	store.AddUser("alice", "secret")
	for range 10000 {
		store.Deliver(context.Background(), "alice", strings.NewReader(msg1))
	}
	srv := &imapserver.Server{Backend: store, AllowInsecureAuth: true, Limits: imapserver.Limits{MaxConnectionsPerIP: -1}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	for range b.N {
		before := memInUse()
		cs := make([]net.Conn, 0, conns)
		buf := make([]byte, 4096)
		for range conns {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			cs = append(cs, c)
			fmt.Fprintf(c, "a LOGIN alice secret\r\nb SELECT INBOX\r\nc IDLE\r\n")
			got := ""
			for !strings.Contains(got, "+ idling") {
				n, err := c.Read(buf)
				if err != nil {
					b.Fatal(err)
				}
				got += string(buf[:n])
			}
		}
		after := memInUse()
		b.ReportMetric(float64(after-before)/conns/1024, "KiB/conn")
		for _, c := range cs {
			c.Close()
		}
	}
}

func memInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}
