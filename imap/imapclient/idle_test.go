package imapclient

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// RFC 2177: IdleLoop restarts IDLE periodically (here every 100 ms instead
// of 28 minutes) and updates still arrive after a restart.
func TestIdleRestart(t *testing.T) {
	s := startServer(t)
	var exists atomic.Uint32
	c := login(t, s.addr, "alice", "alicepw", &Options{Handler: &Handler{Exists: func(n uint32) { exists.Store(n) }}})
	ctx := testCtx(t)
	if _, err := c.Select(ctx, "INBOX", nil); err != nil {
		t.Fatal(err)
	}
	idleCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.IdleLoop(idleCtx, &IdleOptions{Restart: 100 * time.Millisecond}) }()
	time.Sleep(350 * time.Millisecond) // a few restarts
	s.store.Deliver(ctx, "alice", strings.NewReader("Subject: x\r\n\r\nx\r\n"))
	deadline := time.Now().Add(5 * time.Second)
	for exists.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if exists.Load() != 1 {
		t.Fatal("no EXISTS after IDLE restarts")
	}
}

// Without IDLE the loop polls with NOOP.
func TestIdlePollFallback(t *testing.T) {
	addr, errc := scripted(t, `
		S: * OK [CAPABILITY IMAP4rev1] no idle here
		C: T1 SELECT INBOX
		S: * 1 EXISTS
		S: T1 OK [READ-WRITE] done
		C: T2 NOOP
		S: * 2 EXISTS
		S: T2 OK done
	`)
	got := make(chan uint32, 4)
	ctx := testCtx(t)
	c, err := Dial(ctx, addr, &Options{Handler: &Handler{Exists: func(n uint32) { got <- n }}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Select(ctx, "INBOX", nil); err != nil {
		t.Fatal(err)
	}
	idleCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.IdleLoop(idleCtx, &IdleOptions{PollInterval: 50 * time.Millisecond}) }()
	select {
	case n := <-got:
		if n != 2 {
			t.Fatalf("EXISTS %d", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no poll")
	}
	stop()
	<-done
	checkScript(t, errc)
}

// RFC 7817 §3: the server certificate is verified; an unknown issuer fails
// DialTLS.
func TestDialTLSVerifies(t *testing.T) {
	d := sharedDovecot(t)
	ctx := testCtx(t)
	if _, err := DialTLS(ctx, d.IMAPS, nil); err == nil {
		t.Fatal("self-signed certificate accepted without its root")
	}
	c, err := DialTLS(ctx, d.IMAPS, &Options{TLSConfig: d.TLSConfig()})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}
