package pop3test_test

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/pop3"
	"github.com/posthorn/posthorn/pop3/pop3test"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/posthorn/posthorn/smtp/smtptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestDeliverAndRetr(t *testing.T) {
	t.Parallel()
	for _, tls := range []bool{false, true} {
		var s *pop3test.Server
		if tls {
			s = pop3test.NewTLSServer(t)
		} else {
			s = pop3test.NewServer(t)
		}
		s.AddUser("bob", "pw")
		ctx := ctxT(t)
		require.NoError(t, s.Deliver(ctx, "bob", []byte("Subject: one\r\n\r\nhello\r\n")))
		c, err := s.Client(ctx)
		require.NoError(t, err)
		require.NoError(t, c.Login(ctx, "bob", "pw"))
		n, _, err := c.Stat(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		r, err := c.Retr(ctx, 1)
		require.NoError(t, err)
		b, _ := io.ReadAll(r)
		r.Close()
		assert.Contains(t, string(b), "hello")
		require.NoError(t, c.Quit(ctx))
	}
}

// Mail sent over SMTP to an smtptest server sharing the store is read over
// POP3.
func TestSharedWithSMTP(t *testing.T) {
	t.Parallel()
	p := pop3test.NewServer(t)
	p.AddUser("bob", "pw")
	sm := smtptest.NewUnstartedServer(t)
	sm.Store = p.Store
	sm.Start()
	ctx := ctxT(t)
	_, err := smtpclient.Submit(ctx, sm.Addr, nil, "shop@example.org", []string{"bob@example.org"},
		strings.NewReader("Subject: receipt\r\n\r\nthanks\r\n"), &smtpclient.SubmitOptions{Options: *sm.ClientOptions()})
	require.NoError(t, err)
	c, err := p.Client(ctx)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Login(ctx, "bob", "pw"))
	n, _, err := c.Stat(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

func TestLoginError(t *testing.T) {
	t.Parallel()
	s := pop3test.NewUnstartedServer(t)
	s.LoginError = &pop3.Error{Code: pop3.CodeSysTemp, Text: "try later"}
	s.Start()
	s.AddUser("bob", "pw")
	ctx := ctxT(t)
	c, err := s.Client(ctx)
	require.NoError(t, err)
	defer c.Close()
	err = c.Login(ctx, "bob", "pw")
	require.Error(t, err)
	assert.False(t, errors.Is(err, sasl.ErrAuthFailed), "a temporary failure is not a wrong password: %v", err)
}

// Close leaves no goroutine behind, with a client left connected.
func TestNoGoroutinesLeft(t *testing.T) {
	before := runtime.NumGoroutine()
	for i := 0; i < 3; i++ {
		s := pop3test.NewServer(nil)
		s.AddUser("bob", "pw")
		c, err := s.Client(ctxT(t))
		require.NoError(t, err)
		require.NoError(t, c.Login(ctxT(t), "bob", "pw"))
		s.Close()
		c.Close()
	}
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before)
}

// Command faults refuse a command with the chosen reply, and withheld
// capabilities are left out of CAPA.
func TestCommandFaultsAndWithhold(t *testing.T) {
	t.Parallel()
	s := pop3test.NewUnstartedServer(t)
	s.Withhold = []string{"TOP", "PIPELINING"}
	s.Start()
	s.AddUser("bob", "pw")
	s.SetCommandFaults(pop3test.CommandFault{Command: "RETR", Times: 1, Reply: &pop3.Error{Code: pop3.CodeSysTemp, Text: "disk busy"}})
	ctx := ctxT(t)
	require.NoError(t, s.Deliver(ctx, "bob", []byte("Subject: one\r\n\r\nhello\r\n")))
	c, err := s.Client(ctx)
	require.NoError(t, err)
	defer c.Close()
	caps, err := c.Capa(ctx)
	require.NoError(t, err)
	_, hasTop := caps["TOP"]
	_, hasUIDL := caps["UIDL"]
	assert.False(t, hasTop)
	assert.True(t, hasUIDL)
	require.NoError(t, c.Login(ctx, "bob", "pw"))
	_, err = c.Retr(ctx, 1)
	require.ErrorIs(t, err, pop3.ErrSysTemp)
	r, err := c.Retr(ctx, 1)
	require.NoError(t, err, "only the first RETR fails")
	r.Close()
}
