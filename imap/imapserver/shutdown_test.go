package imapserver_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
)

// Shutdown is tested the same way in smtpserver, imapserver and
// pop3server (shutdown_test.go in each): an idle session gets the
// protocol's goodbye at once; a transaction in flight finishes and is
// answered first; at Shutdown's deadline the rest get the goodbye even in
// the middle of a transaction; Serve returns ErrServerClosed; Close drops
// every connection without a word.

// shutdownServer serves a Server on 127.0.0.1; served reports what Serve
// returned.
func shutdownServer(t *testing.T) (ts *testServer, served chan error) {
	t.Helper()
	store := imapmem.New()
	if err := store.AddUser("alice", "secret"); err != nil {
		t.Fatal(err)
	}
	srv := &imapserver.Server{Backend: store, AllowInsecureAuth: true}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served = make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return &testServer{t: t, srv: srv, store: store, addr: ln.Addr().String()}, served
}

// inAppend logs in and leaves the session in the middle of an APPEND
// literal of 27 octets, 13 of them sent.
func inAppend(ts *testServer) *testConn {
	c := ts.login()
	c.run(`
C: a1 APPEND INBOX {27}
S: + Ready for literal data`)
	c.send("Subject: hi") // and CRLF
	return c
}

func shutdownAsync(srv *imapserver.Server, d time.Duration) chan error {
	res := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		res <- srv.Shutdown(ctx)
	}()
	return res
}

func inboxMessages(t *testing.T, ts *testServer) uint32 {
	u, err := ts.store.User(context.Background(), "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	st, err := u.Status(context.Background(), "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	return st.Messages
}

func TestShutdownIdle(t *testing.T) {
	ts, served := shutdownServer(t)
	c := ts.login()
	if err := <-shutdownAsync(ts.srv, 5*time.Second); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	// RFC 9051 §7.1.5.
	c.run(`S: * BYE Server shutting down`)
	c.expectClosed()
	if err := <-served; !errors.Is(err, imapserver.ErrServerClosed) {
		t.Fatalf("Serve = %v", err)
	}
	if _, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		t.Fatal("listener still open")
	}
}

// An APPEND being received when Shutdown begins is completed and answered
// before the BYE.
func TestShutdownFinishesTransaction(t *testing.T) {
	ts, _ := shutdownServer(t)
	c := inAppend(ts)
	res := shutdownAsync(ts.srv, 10*time.Second)
	select {
	case err := <-res:
		t.Fatalf("Shutdown returned %v in the middle of APPEND", err)
	case <-time.After(200 * time.Millisecond):
	}
	c.run(`
C:
C: hello, world
S: a1 OK [APPENDUID ...
S: * BYE Server shutting down`)
	c.expectClosed()
	if err := <-res; err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	if n := inboxMessages(t, ts); n != 1 {
		t.Fatalf("INBOX holds %d messages, want 1", n)
	}
}

// At Shutdown's deadline a session in the middle of an APPEND is told
// BYE all the same, and nothing is appended.
func TestShutdownDeadline(t *testing.T) {
	ts, _ := shutdownServer(t)
	c := inAppend(ts)
	start := time.Now()
	if err := <-shutdownAsync(ts.srv, 200*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Shutdown took %v", d)
	}
	c.run(`S: * BYE Server shutting down`)
	c.expectClosed()
	if n := inboxMessages(t, ts); n != 0 {
		t.Fatalf("INBOX holds %d messages, want 0", n)
	}
}

func TestClose(t *testing.T) {
	ts, served := shutdownServer(t)
	c := inAppend(ts)
	if err := ts.srv.Close(); err != nil {
		t.Fatal(err)
	}
	c.expectClosed()
	if err := <-served; !errors.Is(err, imapserver.ErrServerClosed) {
		t.Fatalf("Serve = %v", err)
	}
}
