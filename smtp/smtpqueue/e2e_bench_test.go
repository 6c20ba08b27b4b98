package smtpqueue

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testpeer"
)

// BenchmarkEndToEnd measures throughput from Enqueue to the sink's 250:
// 4 KB messages to 100 destination domains (all resolved to one Postfix
// smtp-sink on 127.0.0.1), enqueued by 16 goroutines while Run delivers,
// fsync on. Connections to each MX host are kept and reused
// (MX.MaxIdlePerHost).
func BenchmarkEndToEnd(b *testing.B) {
	sinkPath := testpeer.Need(b, "smtp-sink", "postfix")
	port := testpeer.FreePort(b)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	sink := exec.Command(sinkPath, "-u", "nobody", addr, "256")
	if err := sink.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sink.Process.Kill(); sink.Wait() })
	time.Sleep(200 * time.Millisecond)

	o := quietOptions()
	o.Transport = crashTransport(addr)
	o.MaxDeliveries = 64
	q, err := Open(b.TempDir(), o)
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	defer func() { cancel(); <-done }()

	b.SetBytes(int64(len(msg4k)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				env := &Envelope{From: "a@sender.test", To: []string{fmt.Sprintf("u%d@d%d.test", n, n%100)}}
				if _, err := q.Enqueue(context.Background(), env, strings.NewReader(msg4k)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for {
		s := q.Stats()
		if s.Queued == 0 {
			break
		}
		if s.Deferred > 0 {
			b.Fatalf("deferred: %+v %v", s, q.List()[0].LastReply)
		}
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	if s := q.Stats(); s.Delivered != uint64(b.N) {
		b.Fatalf("delivered %d of %d", s.Delivered, b.N)
	}
}
