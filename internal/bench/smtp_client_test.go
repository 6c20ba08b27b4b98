package bench

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/posthorn/posthorn/smtp/smtpclient"
)

// benchMsg is a 4 KB message with realistic lines, some needing
// dot-stuffing.
func benchMsg(size int) []byte {
	var b bytes.Buffer
	b.WriteString("From: Sender <sender@example.org>\r\nTo: rcpt@example.net\r\nSubject: benchmark message\r\nMessage-ID: <1@example.org>\r\n\r\n")
	line := 0
	for b.Len() < size-80 {
		if line%17 == 5 {
			b.WriteString(".a line that needs dot-stuffing\r\n")
		} else {
			b.WriteString(strings.Repeat("abcdefghij", 7) + "\r\n")
		}
		line++
	}
	for b.Len() < size-2 {
		b.WriteByte('z')
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// startBenchServer runs the posthorn discard server in a child process
// (this test binary, see TestServeSMTPForMailbench), so that the client
// benchmarks count only the client's allocations and CPU.
//
// With POSTHORN_BENCH_SMTP_SERVER=ADDR the benchmarks use the server
// already listening there instead (started by hand, with the same
// environment), so that tools that cannot follow a child process
// (valgrind --tool=callgrind, strace -c) see the client alone:
//
//	go test -c -o /tmp/cb.test . && POSTHORN_BENCH_SMTP_ADDR=127.0.0.1:33025 POSTHORN_BENCH_SMTP_PLAIN=1 /tmp/cb.test -test.run ServeSMTPForMailbench -test.timeout 0 &
//	POSTHORN_BENCH_SMTP_SERVER=127.0.0.1:33025 GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind /tmp/cb.test -test.run XXX -test.bench 'SMTPClientPlain/posthorn' -test.benchtime 2000x
func startBenchServer(b *testing.B, env ...string) string {
	b.Helper()
	if addr := os.Getenv("POSTHORN_BENCH_SMTP_SERVER"); addr != "" {
		return addr
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeSMTPForMailbench$", "-test.timeout=0")
	cmd.Env = append(os.Environ(), "POSTHORN_BENCH_SMTP_ADDR="+addr, "POSTHORN_BENCH_FOR=10m")
	cmd.Env = append(cmd.Env, env...)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			_ = c.Close()
			return addr
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatal("bench server did not start")
	return ""
}

// BenchmarkSMTPClient sends 4 KB messages one after the other on one
// connection to the same server, with posthorn's client (pipelined, BDAT)
// and go-smtp's (one command at a time, DATA).
func BenchmarkSMTPClient(b *testing.B) {
	msg := benchMsg(4096)
	b.Run("posthorn", func(b *testing.B) {
		addr := startBenchServer(b)
		ctx := context.Background()
		c, err := smtpclient.Dial(ctx, addr, &smtpclient.Options{LocalName: "bench.test"})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Quit(ctx)
		env := &smtpclient.Envelope{From: "sender@example.org", To: []string{"rcpt@example.net"}}
		r := bytes.NewReader(msg)
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := c.Send(ctx, env, r, int64(len(msg))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-smtp", func(b *testing.B) {
		addr := startBenchServer(b)
		c, err := gosmtp.Dial(addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Quit()
		if err := c.Hello("bench.test"); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := c.Mail("sender@example.org", nil); err != nil {
				b.Fatal(err)
			}
			if err := c.Rcpt("rcpt@example.net", nil); err != nil {
				b.Fatal(err)
			}
			w, err := c.Data()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := w.Write(msg); err != nil {
				b.Fatal(err)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSMTPClientLarge sends one 10 MB message per iteration and, for
// reference, copies 10 MB over a raw loopback connection (io.Copy into a
// reader that discards).
func BenchmarkSMTPClientLarge(b *testing.B) {
	msg := benchMsg(10 << 20)
	b.Run("posthorn", func(b *testing.B) {
		addr := startBenchServer(b)
		ctx := context.Background()
		c, err := smtpclient.Dial(ctx, addr, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Quit(ctx)
		env := &smtpclient.Envelope{From: "sender@example.org", To: []string{"rcpt@example.net"}}
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := c.Send(ctx, env, bytes.NewReader(msg), int64(len(msg))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-smtp", func(b *testing.B) {
		addr := startBenchServer(b)
		c, err := gosmtp.Dial(addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Quit()
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := c.SendMail("sender@example.org", []string{"rcpt@example.net"}, bytes.NewReader(msg)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-io.Copy", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		done := make(chan int64)
		go func() {
			sc, err := ln.Accept()
			if err != nil {
				return
			}
			defer sc.Close()
			for {
				n, err := io.CopyN(io.Discard, sc, int64(len(msg)))
				if err != nil {
					return
				}
				done <- n
			}
		}()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := io.Copy(c, bytes.NewReader(msg)); err != nil {
				b.Fatal(err)
			}
			<-done
		}
	})
}

// BenchmarkSMTPClientPlain sends 4 KB messages to a server that offers
// neither PIPELINING nor CHUNKING, as many smarthosts do: the throughput
// is the server's round trips, so what counts is the client's own CPU per
// message (cpu-µs/op, this process only; the server runs in a child) and
// its allocations (issue 20: ≤ 1/1.5 of go-smtp's CPU, ≤ ½ its allocs).
func BenchmarkSMTPClientPlain(b *testing.B) {
	msg := benchMsg(4096)
	b.Run("posthorn", func(b *testing.B) {
		addr := startBenchServer(b, "POSTHORN_BENCH_SMTP_PLAIN=1")
		ctx := context.Background()
		c, err := smtpclient.Dial(ctx, addr, &smtpclient.Options{LocalName: "bench.test"})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Quit(ctx)
		env := &smtpclient.Envelope{From: "sender@example.org", To: []string{"rcpt@example.net"}}
		r := bytes.NewReader(msg)
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		u0, s0 := cpuTimes()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := c.Send(ctx, env, r, int64(len(msg))); err != nil {
				b.Fatal(err)
			}
		}
		reportCPUSplit(b, u0, s0)
	})
	b.Run("go-smtp", func(b *testing.B) {
		addr := startBenchServer(b, "POSTHORN_BENCH_SMTP_PLAIN=1")
		c, err := gosmtp.Dial(addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Quit()
		if err := c.Hello("bench.test"); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		u0, s0 := cpuTimes()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := c.Mail("sender@example.org", nil); err != nil {
				b.Fatal(err)
			}
			if err := c.Rcpt("rcpt@example.net", nil); err != nil {
				b.Fatal(err)
			}
			w, err := c.Data()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := w.Write(msg); err != nil {
				b.Fatal(err)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
		reportCPUSplit(b, u0, s0)
	})
}

// reportCPUSplit reports this process's CPU time per op since user0, sys0
// (cpuTimes), in all and split into user and system time: on loopback
// the system part (one write(2) and one read(2) per command, the
// receiving side's TCP input) is much the same for every client.
func reportCPUSplit(b *testing.B, user0, sys0 time.Duration) {
	u, s := cpuTimes()
	n := float64(b.N)
	b.ReportMetric(float64((u-user0+s-sys0).Microseconds())/n, "cpu-µs/op")
	b.ReportMetric(float64((u-user0).Microseconds())/n, "user-µs/op")
	b.ReportMetric(float64((s-sys0).Microseconds())/n, "sys-µs/op")
}
