package smtpclient

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posthorn/posthorn/mime"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/smtpserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func plainEnv() *Envelope { return &Envelope{From: "a@example.org", To: []string{"b@example.org"}} }

// A server that drops idle connections sooner than the sender sends again:
// every send must still succeed, on a new connection when the pooled one
// is gone (issue 15: with a 500 ms server timeout every other send failed).
func TestSubmitterServerIdleTimeout(t *testing.T) {
	rec := &recorder{}
	addr := serve(t, &smtpserver.Server{Backend: rec, Limits: smtpserver.Limits{CommandTimeout: 300 * time.Millisecond}}, false)
	ctx := ctxT(t)
	s := &Submitter{Addr: addr, TLS: TLSNone, NoopAfter: -1}
	defer s.Close(ctx)
	for i := 0; i < 4; i++ {
		_, err := s.Submit(ctx, plainEnv(), strings.NewReader(plainMsg))
		require.NoError(t, err, "send %d", i)
		time.Sleep(500 * time.Millisecond)
	}
	assert.Len(t, rec.all(), 4)
}

// The server restarts between two sends on the same port: the pooled
// connection is dead and the next send goes on a new one.
func TestSubmitterServerRestart(t *testing.T) {
	rec := &recorder{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	srv := &smtpserver.Server{Hostname: "mx.test", Backend: rec}
	go srv.Serve(ln)
	ctx := ctxT(t)
	s := &Submitter{Addr: addr, TLS: TLSNone}
	defer s.Close(ctx)
	_, err = s.Submit(ctx, plainEnv(), strings.NewReader(plainMsg))
	require.NoError(t, err)

	sctx, cancel := context.WithTimeout(ctx, time.Second)
	require.NoError(t, srv.Shutdown(sctx))
	cancel()
	ln2, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	srv2 := &smtpserver.Server{Hostname: "mx.test", Backend: rec}
	go srv2.Serve(ln2)
	t.Cleanup(func() { _ = srv2.Shutdown(context.Background()) })

	_, err = s.Submit(ctx, plainEnv(), strings.NewReader(plainMsg))
	require.NoError(t, err)
	assert.Len(t, rec.all(), 2)
}

// fakeServer runs handle for each connection accepted on 127.0.0.1.
func fakeServer(t *testing.T, handle func(n int, c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				handle(n, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// script answers a plain SMTP client line by line until stop says to
// stop; it returns the commands it read.
func script(c net.Conn, stop func(line string) bool) []string {
	br := bufio.NewReader(c)
	_, _ = c.Write([]byte("220 fake ESMTP\r\n"))
	var got []string
	inData := false
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return got
		}
		line = strings.TrimRight(line, "\r\n")
		if inData {
			if line == "." {
				inData = false
				got = append(got, ".")
				if stop(".") {
					return got
				}
				_, _ = c.Write([]byte("250 2.0.0 queued\r\n"))
			}
			continue
		}
		got = append(got, line)
		if stop(line) {
			return got
		}
		switch cmd := strings.ToUpper(strings.Fields(line + " x")[0]); cmd {
		case "EHLO":
			_, _ = c.Write([]byte("250-fake\r\n250 8BITMIME\r\n"))
		case "DATA":
			inData = true
			_, _ = c.Write([]byte("354 go on\r\n"))
		case "QUIT":
			_, _ = c.Write([]byte("221 bye\r\n"))
			return got
		default:
			_, _ = c.Write([]byte("250 ok\r\n"))
		}
	}
}

// A connection that fails before the server answered MAIL is replaced
// once, transparently: nothing can have been accepted.
func TestSubmitterRetriesWhenNothingAccepted(t *testing.T) {
	var conns, ends atomic.Int32
	addr := fakeServer(t, func(n int, c net.Conn) {
		conns.Add(1)
		script(c, func(line string) bool {
			// Counted before the reply goes out: once Close returned,
			// this handler may not have finished yet.
			if line == "." {
				ends.Add(1)
			}
			// The first connection vanishes when MAIL arrives.
			return n == 0 && strings.HasPrefix(line, "MAIL")
		})
	})
	ctx := ctxT(t)
	s := &Submitter{Addr: addr, TLS: TLSNone}
	_, err := s.Submit(ctx, plainEnv(), strings.NewReader(plainMsg))
	require.NoError(t, err)
	require.NoError(t, s.Close(ctx))
	assert.Equal(t, int32(2), conns.Load())
	assert.Equal(t, int32(1), ends.Load())
}

// A connection lost after the end of data went out is never retried, and
// the error says the outcome is unknown (RFC 5321 §6.1).
func TestSubmitterOutcomeUnknown(t *testing.T) {
	var ends atomic.Int32
	addr := fakeServer(t, func(n int, c net.Conn) {
		script(c, func(line string) bool {
			if line == "." {
				ends.Add(1)
				return true // the reply is lost
			}
			return false
		})
	})
	ctx := ctxT(t)
	s := &Submitter{Addr: addr, TLS: TLSNone}
	defer s.Close(ctx)
	_, err := s.Submit(ctx, plainEnv(), strings.NewReader(plainMsg))
	require.ErrorIs(t, err, ErrOutcomeUnknown)
	var oe *OpError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, PhaseData, oe.Phase)
	assert.Equal(t, int32(1), ends.Load(), "the message must not be sent twice")
}

// At most MaxConns connections are open; more callers wait for one, so
// the server's per-address limit is never hit (issue 15: 50 concurrent
// Submits got 30 "421 too many connections").
func TestSubmitterMaxConns(t *testing.T) {
	var open, peak atomic.Int32
	addr := fakeServer(t, func(n int, c net.Conn) {
		now := open.Add(1)
		for {
			p := peak.Load()
			if now <= p || peak.CompareAndSwap(p, now) {
				break
			}
		}
		defer open.Add(-1)
		script(c, func(string) bool { return false })
	})
	ctx := ctxT(t)
	s := &Submitter{Addr: addr, TLS: TLSNone, MaxConns: 4, MaxIdle: 4}
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Submit(ctx, plainEnv(), strings.NewReader(plainMsg))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, s.Close(ctx))
	assert.LessOrEqual(t, peak.Load(), int32(4))
	assert.Positive(t, peak.Load())

	// A caller waiting for a connection gives up with its context.
	s2 := &Submitter{Addr: addr, TLS: TLSNone, MaxConns: 1}
	c, err := s2.get(ctx)
	require.NoError(t, err)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = s2.Submit(short, plainEnv(), strings.NewReader(plainMsg))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	s2.put(ctx, c)
	require.NoError(t, s2.Close(ctx))
}

// "421 too many connections" at the greeting is retried with backoff.
func TestSubmitterRetries421(t *testing.T) {
	addr := fakeServer(t, func(n int, c net.Conn) {
		if n < 2 {
			_, _ = c.Write([]byte("421 4.7.0 too many connections\r\n"))
			return
		}
		script(c, func(string) bool { return false })
	})
	ctx := ctxT(t)
	s := &Submitter{Addr: addr, TLS: TLSNone}
	defer s.Close(ctx)
	_, err := s.Submit(ctx, plainEnv(), strings.NewReader(plainMsg))
	require.NoError(t, err)

	// Refused every time: the 421 is reported, as a greeting failure.
	addr = fakeServer(t, func(n int, c net.Conn) {
		_, _ = c.Write([]byte("421 4.7.0 too many connections\r\n"))
	})
	s = &Submitter{Addr: addr, TLS: TLSNone}
	_, err = s.Submit(ctx, plainEnv(), strings.NewReader(plainMsg))
	var oe *OpError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, PhaseGreeting, oe.Phase)
	assert.Contains(t, err.Error(), "421")
}

// A TLS mode that does not fit the port fails fast and says so.
func TestSubmitterTLSMismatch(t *testing.T) {
	tc := testCert(t)
	ctx := ctxT(t)
	implicit := serve(t, &smtpserver.Server{Backend: &recorder{}, TLSConfig: tc.ServerConfig()}, true)
	plain := serve(t, &smtpserver.Server{Backend: &recorder{}, TLSConfig: tc.ServerConfig()}, false)

	// STARTTLS expected, the port speaks implicit TLS: no greeting comes.
	start := time.Now()
	s := &Submitter{Addr: implicit, TLS: TLSRequired, GreetingTimeout: 300 * time.Millisecond, Options: Options{TLSConfig: tc.ClientConfig()}}
	_, err := s.Submit(ctx, plainEnv(), strings.NewReader(plainMsg))
	require.ErrorIs(t, err, ErrTLSMismatch)
	assert.Contains(t, err.Error(), "implicit TLS")
	assert.Less(t, time.Since(start), 5*time.Second)

	// Implicit TLS aimed at a plaintext port.
	s = &Submitter{Addr: plain, TLS: TLSImplicit, Options: Options{TLSConfig: tc.ClientConfig()}}
	_, err = s.Submit(ctx, plainEnv(), strings.NewReader(plainMsg))
	require.ErrorIs(t, err, ErrTLSMismatch)
	assert.Contains(t, err.Error(), "STARTTLS")
	var oe *OpError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, PhaseTLS, oe.Phase)

	// The right modes work.
	for _, s := range []*Submitter{
		{Addr: implicit, TLS: TLSImplicit, Options: Options{TLSConfig: tc.ClientConfig()}},
		{Addr: plain, Options: Options{TLSConfig: tc.ClientConfig()}},
	} {
		_, err = s.Submit(ctx, plainEnv(), strings.NewReader(plainMsg))
		require.NoError(t, err)
		require.NoError(t, s.Close(ctx))
	}
}

// Credentials are asked for on every new connection, so a token that
// expires is fresh on a redial.
func TestSubmitterCredentialsCallback(t *testing.T) {
	tc := testCert(t)
	reg := &sasl.Registry{Credentials: creds{"alice": "secret"}, Mechanisms: []string{"PLAIN"}}
	rec := &recorder{}
	addr := serve(t, &smtpserver.Server{Backend: rec, Mode: smtpserver.ModeSubmission, TLSConfig: tc.ServerConfig(), Auth: reg}, false)
	ctx := ctxT(t)
	var calls atomic.Int32
	s := &Submitter{Addr: addr, Options: Options{TLSConfig: tc.ClientConfig()}, MaxIdle: -1,
		Credentials: func(ctx context.Context) (sasl.ClientOptions, error) {
			calls.Add(1)
			return sasl.ClientOptions{Username: "alice", Password: "secret"}, nil
		}}
	for i := 0; i < 3; i++ {
		_, err := s.Submit(ctx, &Envelope{From: "alice@example.org", To: []string{"b@example.org"}}, strings.NewReader(plainMsg))
		require.NoError(t, err)
	}
	assert.Equal(t, int32(3), calls.Load())
	bad := errors.New("token service down")
	s.Credentials = func(context.Context) (sasl.ClientOptions, error) { return sasl.ClientOptions{}, bad }
	_, err := s.Submit(ctx, plainEnv(), strings.NewReader(plainMsg))
	require.ErrorIs(t, err, bad)
	var oe *OpError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, PhaseAuth, oe.Phase)
}

// SubmitBuilder takes the envelope from the message: Sender (else From)
// and every recipient, Bcc included, which the header never shows.
func TestSubmitBuilder(t *testing.T) {
	rec := &recorder{}
	addr := serve(t, &smtpserver.Server{Backend: rec}, false)
	ctx := ctxT(t)
	s := &Submitter{Addr: addr, TLS: TLSNone}
	defer s.Close(ctx)
	b := &mime.Builder{
		From:    &mime.Address{Mailbox: "news", Host: "shop.example"},
		Sender:  &mime.Address{Mailbox: "bounces", Host: "shop.example"},
		To:      []*mime.Address{{Mailbox: "a", Host: "example.org"}},
		Bcc:     []*mime.Address{{Mailbox: "hidden", Host: "example.org"}},
		Subject: "hi",
		Text:    strings.NewReader("hello"),
	}
	_, err := s.SubmitBuilder(ctx, b)
	require.NoError(t, err)
	got := rec.all()
	require.Len(t, got, 1)
	assert.Equal(t, "bounces@shop.example", got[0].From)
	assert.Equal(t, []string{"a@example.org", "hidden@example.org"}, got[0].To)
	assert.NotContains(t, got[0].Data, "hidden")

	_, err = s.SubmitBuilder(ctx, &mime.Builder{To: b.To, Text: strings.NewReader("x")})
	var be *mime.BuildError
	require.ErrorAs(t, err, &be)
}

// A server that announces LIMITS MAILMAX (RFC 9422 §4.2) ends a
// connection after that many transactions with 421. The Submitter opens a
// new connection instead of sending past the limit, and a pipelined
// transaction the server refuses with 421 at MAIL is a refusal, retried on
// a new connection, never an unknown outcome.
func TestSubmitterMailMax(t *testing.T) {
	var conns atomic.Int32
	rec := &recorder{}
	srv := &smtpserver.Server{Backend: rec, Limits: smtpserver.Limits{MaxMessages: 3}}
	srv.Hooks.Connect = func(smtpserver.ConnEvent) { conns.Add(1) }
	addr := serve(t, srv, false)
	ctx := ctxT(t)
	s := &Submitter{Addr: addr, TLS: TLSNone}
	defer s.Close(ctx)
	for i := 0; i < 7; i++ {
		_, err := s.Submit(ctx, plainEnv(), strings.NewReader(plainMsg))
		require.NoError(t, err, "message %d", i)
	}
	assert.Len(t, rec.all(), 7)
	assert.Equal(t, int32(3), conns.Load())

	// A client that ignores the limit gets the 421 as the MAIL reply.
	c, err := Dial(ctx, addr, nil)
	require.NoError(t, err)
	defer c.Close()
	for i := 0; i < 3; i++ {
		_, err := c.Send(ctx, plainEnv(), strings.NewReader(plainMsg), int64(len(plainMsg)))
		require.NoError(t, err)
	}
	_, err = c.Send(ctx, plainEnv(), strings.NewReader(plainMsg), int64(len(plainMsg)))
	var se *smtp.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 421, se.Code)
	assert.NotErrorIs(t, err, ErrOutcomeUnknown)
}

// A failed -PLUS exchange consumes the connection's channel binding, so a
// second Login on the same connection picks a mechanism without it instead
// of -PLUS again, which RFC 9266 §4.1 forbids (the server refuses it).
func TestLoginAgainAfterFailedPlus(t *testing.T) {
	tc := testCert(t)
	reg := &sasl.Registry{Credentials: creds{"alice": "secret"}, Mechanisms: []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}}
	addr := serve(t, &smtpserver.Server{Backend: &recorder{}, Mode: smtpserver.ModeSubmission, TLSConfig: tc.ServerConfig(), Auth: reg}, false)
	ctx := ctxT(t)
	c, err := Dial(ctx, addr, &Options{TLSConfig: tc.ClientConfig()})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.StartTLS(ctx, nil))
	require.ErrorIs(t, c.Login(ctx, "alice", "wrong"), sasl.ErrAuthFailed)
	require.NoError(t, c.Login(ctx, "alice", "secret"))
}

// The server keeps one channel binding per TLS connection too: a client
// that runs SCRAM-SHA-256-PLUS a second time on the connection (with a
// binding of its own making) is refused, and -PLUS is no longer offered
// (RFC 9266 §4.1). Before the fix the second exchange succeeded.
func TestServerChannelBindingSingleUse(t *testing.T) {
	tc := testCert(t)
	reg := &sasl.Registry{Credentials: creds{"alice": "secret"}, Mechanisms: []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}}
	addr := serve(t, &smtpserver.Server{Backend: &recorder{}, Mode: smtpserver.ModeSubmission, TLSConfig: tc.ServerConfig(), Auth: reg}, false)
	ctx := ctxT(t)
	c, err := Dial(ctx, addr, &Options{TLSConfig: tc.ClientConfig()})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.StartTLS(ctx, nil))
	plus := func(pw string) error {
		st, _ := c.TLSConnectionState()
		sc, err := sasl.NewSCRAMClient(sasl.SCRAMOptions{Username: "alice", Password: pw, Plus: true, ChannelBinding: sasl.ChannelBindingFromTLS(&st)})
		require.NoError(t, err)
		return c.Auth(ctx, sc)
	}
	require.ErrorIs(t, plus("wrong"), sasl.ErrAuthFailed)
	require.Error(t, plus("secret"))
	require.NoError(t, c.Hello(ctx))
	offered, _ := c.Extension("AUTH")
	assert.NotContains(t, offered, "PLUS")
}
