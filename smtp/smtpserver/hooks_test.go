package smtpserver

import (
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/sasl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hookLog records what Hooks report.
type hookLog struct {
	mu       sync.Mutex
	connects []ConnEvent
	closes   []ConnEvent
	auths    []AuthEvent
	messages []MessageEvent
}

func (h *hookLog) hooks() Hooks {
	return Hooks{
		Connect:    func(e ConnEvent) { h.mu.Lock(); h.connects = append(h.connects, e); h.mu.Unlock() },
		Disconnect: func(e ConnEvent) { h.mu.Lock(); h.closes = append(h.closes, e); h.mu.Unlock() },
		Auth:       func(e AuthEvent) { h.mu.Lock(); h.auths = append(h.auths, e); h.mu.Unlock() },
		Message:    func(e MessageEvent) { h.mu.Lock(); h.messages = append(h.messages, e); h.mu.Unlock() },
	}
}

func (h *hookLog) snapshot() hookLog {
	h.mu.Lock()
	defer h.mu.Unlock()
	return hookLog{
		connects: append([]ConnEvent(nil), h.connects...),
		closes:   append([]ConnEvent(nil), h.closes...),
		auths:    append([]AuthEvent(nil), h.auths...),
		messages: append([]MessageEvent(nil), h.messages...),
	}
}

func TestHooks(t *testing.T) {
	var h hookLog
	b := &testBackend{}
	reg := &sasl.Registry{Credentials: testCreds{"alice": "secret"}, AllowPlaintext: true}
	addr := startServer(t, &Server{Backend: b, Auth: reg, DisableReceived: true, Hooks: h.hooks(),
		Limits: Limits{AuthFailureDelay: time.Millisecond, MaxConnections: 1}})
	local := netip.MustParseAddr("127.0.0.1")

	w := dialWire(t, addr)
	w.cmd("EHLO client.test", 250)
	w.cmd("AUTH PLAIN AGFsaWNlAHdyb25n", 535)
	w.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==", 235)
	w.cmd("MAIL FROM:<alice@example.org>", 250)
	w.cmd("RCPT TO:<bob@example.org>", 250)
	w.cmd("RCPT TO:<carol@example.org>", 250)
	w.cmd("DATA", 354)
	w.cmd("Subject: hi\r\n\r\nhello\r\n.", 250) // 21 octets: the CRLF before the dot is the message's
	w.cmd("MAIL FROM:<>", 250)
	w.cmd("RCPT TO:<bob@example.org>", 250)
	w.send("BDAT 5 LAST\r\nabcde")
	w.expect(250)

	// The limit is one connection: a second one is refused and reported.
	c2, err := dialRaw(addr)
	require.NoError(t, err)
	defer c2.Close()
	_ = c2.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, _ := c2.Read(buf)
	require.Contains(t, string(buf[:n]), "421")

	w.cmd("QUIT", 221)
	require.Eventually(t, func() bool { return len(h.snapshot().closes) == 1 }, 5*time.Second, 5*time.Millisecond)

	got := h.snapshot()
	require.Len(t, got.connects, 2)
	assert.Equal(t, ConnEvent{Remote: local}, got.connects[0])
	assert.Equal(t, ConnEvent{Remote: local, Refused: "too many connections"}, got.connects[1])
	assert.Equal(t, local, got.closes[0].Remote)
	assert.Positive(t, got.closes[0].Duration)

	require.Len(t, got.auths, 2)
	assert.Equal(t, "PLAIN", got.auths[0].Mechanism)
	// The name tried is known after a failed PLAIN, for per-account counting.
	assert.Equal(t, "alice", got.auths[0].Username)
	assert.True(t, errors.Is(got.auths[0].Err, sasl.ErrAuthFailed), "%v", got.auths[0].Err)
	assert.Equal(t, AuthEvent{Remote: local, Mechanism: "PLAIN", Username: "alice"}, got.auths[1])

	require.Len(t, got.messages, 2)
	m := got.messages[0]
	assert.Equal(t, "alice@example.org", m.From.String())
	assert.Equal(t, 2, m.Recipients)
	assert.Equal(t, 2, m.Accepted)
	assert.Equal(t, int64(len("Subject: hi\r\n\r\nhello\r\n")), m.Size)
	m = got.messages[1]
	assert.True(t, m.From.IsNull(), "%v", m.From)
	assert.Equal(t, 1, m.Accepted)
	assert.Equal(t, int64(5), m.Size)
}

// In LMTP each recipient has its own result, and so Accepted counts them.
func TestHooksLMTPPartialDelivery(t *testing.T) {
	var h hookLog
	b := &testBackend{lmtpErrs: map[string]error{"carol@example.org": errTooBig}}
	addr := startServer(t, &Server{Backend: b, Mode: ModeLMTP, DisableReceived: true, Hooks: h.hooks()})
	w := dialWire(t, addr)
	w.cmd("LHLO client.test", 250)
	w.cmd("MAIL FROM:<alice@example.org>", 250)
	w.cmd("RCPT TO:<bob@example.org>", 250)
	w.cmd("RCPT TO:<carol@example.org>", 250)
	w.cmd("DATA", 354)
	w.cmd("Subject: hi\r\n\r\nhello\r\n.", 250)
	w.expect(552)
	got := h.snapshot()
	require.Len(t, got.messages, 1)
	assert.Equal(t, 2, got.messages[0].Recipients)
	assert.Equal(t, 1, got.messages[0].Accepted)
}
