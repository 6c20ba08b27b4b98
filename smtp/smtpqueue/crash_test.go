package smtpqueue

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/posthorn/posthorn/smtp/smtptest"
)

// The crash test: a child process enqueues a flood of messages from 8
// goroutines while delivering them, printing the sequence number of each
// message once Enqueue returned; the parent kills it with SIGKILL in the
// middle, opens the queue again and delivers the rest. Every acknowledged
// message must reach the server (duplicates are allowed: RFC 5321 §6.1).
func TestCrashLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	srv := smtptest.NewServer(t)
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), "SMTPQUEUE_CRASH_DIR="+dir, "SMTPQUEUE_CRASH_ADDR="+srv.Addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[int]bool{}
	sc := bufio.NewScanner(out)
	killAt := 400
	for sc.Scan() {
		line := sc.Text()
		n, err := strconv.Atoi(strings.TrimPrefix(line, "ok "))
		if err != nil {
			continue
		}
		acked[n] = true
		if len(acked) == killAt {
			cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	cmd.Wait()
	if len(acked) < killAt {
		t.Fatalf("child acknowledged only %d messages", len(acked))
	}
	delivered := len(srv.Messages())

	q, err := Open(dir, &Options{Hostname: "queue.test", Transport: crashTransport(srv.Addr), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	queued := q.Stats().Queued
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	deadline := time.Now().Add(60 * time.Second)
	for q.Stats().Queued > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	seen := map[int]int{}
	for _, m := range srv.Messages() {
		n, _ := strconv.Atoi(m.Header.Get("X-Seq"))
		seen[n]++
	}
	lost, dup := 0, 0
	for n := range acked {
		if seen[n] == 0 {
			lost++
		}
	}
	for _, c := range seen {
		if c > 1 {
			dup += c - 1
		}
	}
	t.Logf("acknowledged %d; delivered before the kill %d, queued at restart %d; duplicates %d", len(acked), delivered, queued, dup)
	if lost > 0 {
		t.Fatalf("%d acknowledged messages lost", lost)
	}
	if s := q.Stats(); s.Queued != 0 {
		t.Fatalf("%d messages left", s.Queued)
	}
}

func crashTransport(addr string) Transport {
	return &MX{Options: smtpclient.DeliverOptions{
		Resolver: staticMX{},
		TLS:      smtpclient.TLSNone,
		Options: smtpclient.Options{LocalName: "queue.test", Dialer: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}},
	}}
}

type staticMX struct{}

func (staticMX) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return []*net.MX{{Host: "mx." + name + ".", Pref: 10}}, nil
}

// TestCrashChild is the child of TestCrashLosesNothing.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("SMTPQUEUE_CRASH_DIR")
	if dir == "" {
		t.Skip("run by TestCrashLosesNothing")
	}
	q, err := Open(dir, &Options{Hostname: "queue.test", Transport: crashTransport(os.Getenv("SMTPQUEUE_CRASH_ADDR")), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	go q.Run(context.Background())
	var mu sync.Mutex
	var next int
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				mu.Lock()
				next++
				n := next
				mu.Unlock()
				msg := fmt.Sprintf("From: a@sender.test\r\nTo: b@one.test\r\nX-Seq: %d\r\nSubject: crash %d\r\n\r\n%s\r\n", n, n, strings.Repeat("x", 4000))
				if _, err := q.Enqueue(context.Background(), &Envelope{From: "a@sender.test", To: []string{"b@one.test"}}, strings.NewReader(msg)); err != nil {
					fmt.Fprintln(os.Stderr, "enqueue:", err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "ok %d\n", n)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
