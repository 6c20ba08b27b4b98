package pop3server_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/pop3/internal/pop3fake"
	"github.com/posthorn/posthorn/pop3/pop3server"
)

// Connections over the per-address limit get [SYS/TEMP] (RFC 2449 §8).
func TestConnLimit(t *testing.T) {
	env := start(t, &pop3server.Server{Limits: pop3server.Limits{MaxConnectionsPerIP: 1}})
	c1 := pop3fake.Dial(t, env.Addr)
	c1.Script(`S: +OK*`)
	c2 := pop3fake.Dial(t, env.Addr)
	c2.Script(`S: -ERR [SYS/TEMP] too many connections`)
	c2.ExpectClosed()
	c1.Script(`
		C: QUIT
		S: +OK bye`)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Logs carry user and command, never passwords, AUTH data or bodies.
func TestLogsHoldNoSecrets(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	env := start(t, &pop3server.Server{AllowInsecureAuth: true, Logger: log})
	c := pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK*
		C: USER alice
		S: +OK*
		C: PASS wrongsecret
		S: -ERR [AUTH]*
		C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
		S: +OK*
		C: RETR 1
		S: +OK*
		S: From: a@example.org
		S: Subject: one
		S:
		S: line 1
		S: ..dot line
		S: ..
		S: line 4
		S: .
		C: QUIT
		S: +OK bye`)
	c.ExpectClosed()
	time.Sleep(50 * time.Millisecond)
	out := buf.String()
	for _, secret := range []string{"wrongsecret", "AGFsaWNlAHNlY3JldA", "dot line"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "user=alice") || !strings.Contains(out, "cmd=RETR") {
		t.Errorf("log lacks user or command:\n%s", out)
	}
}
