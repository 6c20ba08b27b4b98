package smtpserver

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posthorn/posthorn/smtp"
)

// panicCatcher is a slog handler that records "panic in session" logs.
type panicCatcher struct{ n *atomic.Int32 }

func (h panicCatcher) Enabled(context.Context, slog.Level) bool { return true }
func (h panicCatcher) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "panic") {
		h.n.Add(1)
	}
	return nil
}
func (h panicCatcher) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h panicCatcher) WithGroup(string) slog.Handler      { return h }

// FuzzSession feeds arbitrary client input to a session: the server must
// not panic, must end when the input ends, must answer only with well-formed
// replies, and must never deliver a message for a MAIL it did not see as a
// command.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n",
		"EHLO x\r\nMAIL FROM:<a@b.c> BODY=BINARYMIME\r\nRCPT TO:<d@e.f>\r\nBDAT 3 LAST\r\nabcQUIT\r\n",
		"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\nx\n.\nMAIL FROM:<e@v.il>\r\n.\r\n",
		"LHLO x\r\nAUTH PLAIN\r\n*\r\nSTARTTLS\r\nXCLIENT ADDR=1.2.3.4\r\n",
		"HELO x\r\nRSET\r\nVRFY x\r\nBDAT 5\r\n12345BDAT 0 LAST\r\n",
	} {
		f.Add([]byte(s), uint8(0))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	defer ln.Close()
	f.Fuzz(func(t *testing.T, input []byte, mode uint8) {
		var panics atomic.Int32
		b := &testBackend{}
		s := &Server{
			Backend:  b,
			Hostname: "fuzz.test",
			Mode:     Mode(mode % 3),
			BareEOL:  BareEOLPolicy(mode / 3 % 2),
			Logger:   slog.New(panicCatcher{&panics}),
			Limits:   Limits{CommandTimeout: 2 * time.Second, DataIdleTimeout: 2 * time.Second, AuthFailureDelay: -1},
		}
		cli, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		srv, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		s.shell() // the server's state, as Serve makes it
		c := newConn(s, srv, remoteIP(srv.RemoteAddr()), s.Limits.withDefaults())
		done := make(chan struct{})
		go func() { c.Serve(); close(done) }()
		out := make(chan []byte, 1)
		go func() { data, _ := io.ReadAll(cli); out <- data }()
		go func() {
			_, _ = cli.Write(input)
			_ = cli.(*net.TCPConn).CloseWrite()
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("session did not end")
		}
		_ = cli.Close()
		replies := <-out
		if panics.Load() > 0 {
			t.Fatal("server panicked")
		}
		br := bufio.NewReader(strings.NewReader(string(replies)))
		for {
			_, err := smtp.ReadReply(br, smtp.ReplyLimits{})
			if err == io.EOF {
				break
			}
			if err == io.ErrUnexpectedEOF {
				// A server that closes with unread input resets the
				// connection, which may cut off its last reply.
				break
			}
			if err != nil {
				t.Fatalf("malformed reply stream %q: %v", replies, err)
			}
		}
		if n := len(b.messages()); n > strings.Count(strings.ToUpper(string(input)), "MAIL") {
			t.Fatalf("%d messages from input with fewer MAIL commands", n)
		}
	})
}
