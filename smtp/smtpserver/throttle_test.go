package smtpserver

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"

	"github.com/posthorn/posthorn/sasl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordingThrottle is an AuthThrottle that records what the server
// tells it and refuses attempts while blocked.
type recordingThrottle struct {
	mu        sync.Mutex
	blocked   bool
	waits     []string // user names waited for
	failures  []string
	successes []string
}

var errBlocked = errors.New("blocked")

func (r *recordingThrottle) Wait(ctx context.Context, _ netip.Addr, user string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waits = append(r.waits, user)
	if r.blocked {
		return errBlocked
	}
	return ctx.Err()
}

func (r *recordingThrottle) Failure(_ netip.Addr, user string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, user)
}

func (r *recordingThrottle) Success(_ netip.Addr, user string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.successes = append(r.successes, user)
}

// TestAuthThrottle: Server.AuthThrottle replaces the built-in limiter:
// it is asked before each AUTH, told the failure with the user name the
// exchange tried and the success; an attempt it refuses is answered 454
// 4.7.0 without a credential check, even with the right password, and
// the Auth hook sees the refusal.
func TestAuthThrottle(t *testing.T) {
	th := &recordingThrottle{}
	var hookErrs []error
	var mu sync.Mutex
	reg := &sasl.Registry{Credentials: testCreds{"alice": "secret"}, AllowPlaintext: true}
	addr := startServer(t, &Server{Backend: &testBackend{}, Auth: reg, AuthThrottle: th,
		Hooks: Hooks{Auth: func(ev AuthEvent) { mu.Lock(); hookErrs = append(hookErrs, ev.Err); mu.Unlock() }}})
	w := dialWire(t, addr)
	w.cmd("EHLO client.test", 250)
	w.cmd("AUTH PLAIN AGFsaWNlAHdyb25n", 535) // alice / wrong
	w.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==", 235)
	th.mu.Lock()
	assert.Equal(t, []string{"", ""}, th.waits)
	assert.Equal(t, []string{"alice"}, th.failures, "the name tried is passed on")
	assert.Equal(t, []string{"alice"}, th.successes)
	th.blocked = true
	th.mu.Unlock()

	w = dialWire(t, addr)
	w.cmd("EHLO client.test", 250)
	r := w.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==", 454)
	assert.Equal(t, "4.7.0", r.Enhanced.String())
	th.mu.Lock()
	assert.Len(t, th.successes, 1, "no credential check while blocked")
	th.mu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, hookErrs, 3)
	assert.ErrorIs(t, hookErrs[2], errBlocked)
}
