package smtpqueue

import (
	"context"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

var msg4k = "From: a@sender.test\r\nTo: b@one.test\r\nSubject: bench\r\n\r\n" + strings.Repeat(strings.Repeat("x", 76)+"\r\n", 52)

func quietOptions() *Options {
	return &Options{Hostname: "queue.test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// BenchmarkEnqueue measures durable enqueues of 4 KB messages (fsync of
// each file, group commit of the directory fsync) from 1 and 32
// goroutines.
func BenchmarkEnqueue(b *testing.B) {
	for _, par := range []int{1, 32} {
		b.Run("goroutines="+itoa(par*runtime.GOMAXPROCS(0)), func(b *testing.B) {
			q, err := Open(b.TempDir(), quietOptions())
			if err != nil {
				b.Fatal(err)
			}
			env := &Envelope{From: "a@sender.test", To: []string{"b@one.test"}}
			b.ReportAllocs()
			b.SetBytes(int64(len(msg4k)))
			b.SetParallelism(par)
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := q.Enqueue(context.Background(), env, strings.NewReader(msg4k)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			b.ReportMetric(float64(q.st.msgSync.started)/float64(b.N), "dirsyncs/op")
			q.Close()
		})
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// TestLargeQueue (SMTPQUEUE_LARGE=100000) measures a queue of many
// messages: memory per queued message after Open, and the time to open,
// list and find the next due message.
func TestLargeQueue(t *testing.T) {
	n := 0
	if v := os.Getenv("SMTPQUEUE_LARGE"); v != "" {
		for _, c := range v {
			n = n*10 + int(c-'0')
		}
	}
	if n == 0 {
		t.Skip("set SMTPQUEUE_LARGE=100000")
	}
	dir := t.TempDir()
	q, err := Open(dir, quietOptions())
	if err != nil {
		t.Fatal(err)
	}
	q.st.noSync = true
	env := &Envelope{From: "a@sender.test", To: []string{"b@one.test"}}
	for i := 0; i < n; i++ {
		if _, err := q.Enqueue(context.Background(), env, strings.NewReader(msg4k)); err != nil {
			t.Fatal(err)
		}
	}
	q.Close()
	q = nil
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	start := time.Now()
	q, err = Open(dir, quietOptions())
	if err != nil {
		t.Fatal(err)
	}
	openTime := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	if q.Stats().Queued != n {
		t.Fatalf("recovered %d of %d", q.Stats().Queued, n)
	}
	// After a crash there is no index (Open consumed it): every file is
	// read.
	q.lock.Close()
	start = time.Now()
	q, err = Open(dir, quietOptions())
	if err != nil {
		t.Fatal(err)
	}
	scanTime := time.Since(start)
	if q.Stats().Queued != n {
		t.Fatalf("recovered %d of %d", q.Stats().Queued, n)
	}
	start = time.Now()
	l := q.List()
	listTime := time.Since(start)
	start = time.Now()
	const pops = 1000
	for i := 0; i < pops; i++ {
		q.mu.Lock()
		e := q.due[0]
		e.st.NextAttempt = e.st.NextAttempt.Add(time.Hour)
		q.due.fix(0)
		q.mu.Unlock()
	}
	nextTime := time.Since(start) / pops
	t.Logf("%d messages: %.0f bytes/message in memory after Open; Open %v (from the index of a clean Close; %v after a crash), List %v (%d), next due + reschedule %v",
		n, float64(m1.HeapAlloc-m0.HeapAlloc)/float64(n), openTime.Round(time.Millisecond), scanTime.Round(time.Millisecond), listTime.Round(time.Millisecond), len(l), nextTime)
	runtime.KeepAlive(q)
}
