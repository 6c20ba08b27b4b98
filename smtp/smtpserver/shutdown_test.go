package smtpserver

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/wiretest"
)

// Shutdown is tested the same way in smtpserver, imapserver and
// pop3server (shutdown_test.go in each): an idle session gets the
// protocol's goodbye at once; a transaction in flight finishes and is
// answered first; at Shutdown's deadline the rest get the goodbye even in
// the middle of a transaction; Serve returns ErrServerClosed; Close drops
// every connection without a word.

// shutdownServer serves a Server on 127.0.0.1; served reports what Serve
// returned.
func shutdownServer(t *testing.T) (s *Server, b *testBackend, addr string, served chan error) {
	t.Helper()
	b = &testBackend{}
	s = &Server{Backend: b, Hostname: "mx.test"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served = make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() { s.Close() })
	return s, b, ln.Addr().String(), served
}

// inData opens a session and leaves it in the middle of DATA.
func inData(t *testing.T, addr string) *wiretest.Conn {
	c := wiretest.Dial(t, addr)
	c.Script(`
		S: 220 mx.test ESMTP ready
		C: HELO client.test
		S: 250 ...
		C: MAIL FROM:<a@example.org>
		S: 250 ...
		C: RCPT TO:<b@example.net>
		S: 250 ...
		C: DATA
		S: 354 ...
		C: Subject: half a message
		C:`)
	return c
}

func shutdownAsync(s *Server, d time.Duration) chan error {
	res := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		res <- s.Shutdown(ctx)
	}()
	return res
}

func TestShutdownIdle(t *testing.T) {
	s, _, addr, served := shutdownServer(t)
	c := wiretest.Dial(t, addr)
	c.Script(`
		S: 220 mx.test ESMTP ready
		C: HELO client.test
		S: 250 ...`)
	if err := <-shutdownAsync(s, 5*time.Second); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	// RFC 5321 §3.8.
	c.Script(`S: 421 4.3.2 mx.test shutting down`)
	c.ExpectClosed()
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve = %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("listener still open")
	}
}

// A message being received when Shutdown begins is received, delivered
// and answered before the 421.
func TestShutdownFinishesTransaction(t *testing.T) {
	s, b, addr, _ := shutdownServer(t)
	c := inData(t, addr)
	res := shutdownAsync(s, 10*time.Second)
	select {
	case err := <-res:
		t.Fatalf("Shutdown returned %v in the middle of DATA", err)
	case <-time.After(200 * time.Millisecond):
	}
	c.Script(`
		C: the rest of it
		C: .
		S: 250 ...
		S: 421 4.3.2 mx.test shutting down`)
	c.ExpectClosed()
	if err := <-res; err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	if n := len(b.messages()); n != 1 {
		t.Fatalf("%d messages delivered, want 1", n)
	}
}

// At Shutdown's deadline a session in the middle of DATA is told 421
// all the same (RFC 5321 §3.8), and nothing is delivered.
func TestShutdownDeadline(t *testing.T) {
	s, b, addr, _ := shutdownServer(t)
	c := inData(t, addr)
	start := time.Now()
	if err := <-shutdownAsync(s, 200*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Shutdown took %v", d)
	}
	c.Script(`S: 421 4.3.2 mx.test shutting down`)
	c.ExpectClosed()
	if n := len(b.messages()); n != 0 {
		t.Fatalf("%d messages delivered, want 0", n)
	}
}

func TestClose(t *testing.T) {
	s, _, addr, served := shutdownServer(t)
	c := inData(t, addr)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	c.ExpectClosed()
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve = %v", err)
	}
}
