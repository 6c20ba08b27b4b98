package pop3server_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/wiretest"
	"github.com/posthorn/posthorn/pop3/internal/pop3fake"
	"github.com/posthorn/posthorn/pop3/pop3server"
)

// Shutdown is tested the same way in smtpserver, imapserver and
// pop3server (shutdown_test.go in each): an idle session gets the
// protocol's goodbye at once; a transaction in flight finishes and is
// answered first; at Shutdown's deadline the rest get the goodbye even in
// the middle of a transaction; Serve returns ErrServerClosed; Close drops
// every connection without a word. In POP3 a session ended by Shutdown
// never enters the UPDATE state (RFC 1939 §6): its DELEs are not
// committed, and its maildrop is released.

// bigMessage is larger than the socket buffers, so that a RETR of it
// blocks until the client reads.
var bigMessage = "Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("x", 70)+"\r\n", 150_000)

// shutdownServer serves a Server on 127.0.0.1 over a maildrop holding
// msg1 and bigMessage; served reports what Serve returned.
func shutdownServer(t *testing.T) (srv *pop3server.Server, be *pop3fake.Backend, addr string, served chan error) {
	t.Helper()
	be = pop3fake.NewBackend()
	be.AddUser("alice", "secret")
	be.Deliver("alice", []byte(msg1))
	be.Deliver("alice", []byte(bigMessage))
	srv = &pop3server.Server{Backend: be, AllowInsecureAuth: true, Hostname: "pop.test"}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served = make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return srv, be, l.Addr().String(), served
}

// inRetr logs in, marks message 1 deleted and leaves the session in the
// middle of sending message 2, which the client does not read yet.
func inRetr(t *testing.T, addr string) *wiretest.Conn {
	c := wiretest.Dial(t, addr)
	c.Script(`
		S: +OK*
		C: USER alice
		S: +OK*
		C: PASS secret
		S: +OK*
		C: DELE 1
		S: +OK*
		C: RETR 2
		S: +OK*`)
	return c
}

func shutdownAsync(srv *pop3server.Server, d time.Duration) chan error {
	res := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		res <- srv.Shutdown(ctx)
	}()
	return res
}

// released waits for the session to give its maildrop back.
func released(t *testing.T, be *pop3fake.Backend) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); be.OpenMaildrops() != 0; {
		if time.Now().After(deadline) {
			t.Fatal("maildrop still open")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestShutdownIdle(t *testing.T) {
	srv, be, addr, served := shutdownServer(t)
	c := wiretest.Dial(t, addr)
	c.Script(`
		S: +OK*
		C: USER alice
		S: +OK*
		C: PASS secret
		S: +OK*
		C: DELE 1
		S: +OK*`)
	if err := <-shutdownAsync(srv, 5*time.Second); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	// RFC 2449 §8.1.2: [SYS/TEMP], try again later.
	c.Script(`S: -ERR [SYS/TEMP] server shutting down`)
	c.ExpectClosed()
	if err := <-served; !errors.Is(err, pop3server.ErrServerClosed) {
		t.Fatalf("Serve = %v", err)
	}
	if got := be.UIDs("alice"); len(got) != 2 {
		t.Fatalf("maildrop holds %v: UPDATE ran", got)
	}
	released(t, be)
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("listener still open")
	}
}

// A RETR being sent when Shutdown begins is sent whole before the -ERR.
func TestShutdownFinishesTransaction(t *testing.T) {
	srv, be, addr, _ := shutdownServer(t)
	c := inRetr(t, addr)
	res := shutdownAsync(srv, 20*time.Second)
	select {
	case err := <-res:
		t.Fatalf("Shutdown returned %v in the middle of RETR", err)
	case <-time.After(200 * time.Millisecond):
	}
	c.Script(`
		S: Subject: big
		S:
		S: ~ xxxxxxxx`)
	for c.ReadLine() != "." {
	}
	c.Script(`S: -ERR [SYS/TEMP] server shutting down`)
	c.ExpectClosed()
	if err := <-res; err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	if got := be.UIDs("alice"); len(got) != 2 {
		t.Fatalf("maildrop holds %v: UPDATE ran", got)
	}
	released(t, be)
}

// At Shutdown's deadline a session in the middle of a RETR to a client
// that does not read is closed; it does not enter UPDATE, and its
// maildrop is released.
func TestShutdownDeadline(t *testing.T) {
	srv, be, addr, _ := shutdownServer(t)
	inRetr(t, addr)
	start := time.Now()
	if err := <-shutdownAsync(srv, 200*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Shutdown took %v", d)
	}
	released(t, be)
	if got := be.UIDs("alice"); len(got) != 2 {
		t.Fatalf("maildrop holds %v: UPDATE ran", got)
	}
}

func TestClose(t *testing.T) {
	srv, be, addr, served := shutdownServer(t)
	c := wiretest.Dial(t, addr)
	c.Script(`
		S: +OK*
		C: USER alice
		S: +OK*
		C: PASS secret
		S: +OK*
		C: DELE 1
		S: +OK*`)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	c.ExpectClosed()
	if err := <-served; !errors.Is(err, pop3server.ErrServerClosed) {
		t.Fatalf("Serve = %v", err)
	}
	released(t, be)
	if got := be.UIDs("alice"); len(got) != 2 {
		t.Fatalf("maildrop holds %v: UPDATE ran", got)
	}
}
