package imaptest_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/imapclient"
	"github.com/posthorn/posthorn/imap/imaptest"
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

func subjects(t *testing.T, ctx context.Context, c *imapclient.Client) []string {
	t.Helper()
	sel, err := c.Select(ctx, "INBOX", nil)
	require.NoError(t, err)
	if sel.NumMessages == 0 {
		return nil
	}
	var all imap.NumSet
	all.AddRange(1, sel.NumMessages)
	msgs, err := c.Fetch(ctx, all, []imap.FetchAtt{{Item: imap.FetchEnvelope}}, nil).Collect()
	require.NoError(t, err)
	var out []string
	for _, m := range msgs {
		out = append(out, m.Envelope.Subject)
	}
	return out
}

func TestDeliverAndRead(t *testing.T) {
	t.Parallel()
	for _, tls := range []bool{false, true} {
		var s *imaptest.Server
		if tls {
			s = imaptest.NewTLSServer(t)
		} else {
			s = imaptest.NewServer(t)
		}
		s.AddUser("bob", "pw")
		ctx := ctxT(t)
		_, err := s.Deliver(ctx, "bob", []byte("Subject: first\r\n\r\nhi\r\n"))
		require.NoError(t, err)
		_, err = s.DeliverTo(ctx, "bob", "Archive", []byte("Subject: old\r\n\r\nhi\r\n"), `\Seen`)
		require.NoError(t, err)
		c, err := s.Client(ctx)
		require.NoError(t, err)
		require.NoError(t, c.Login(ctx, "bob", "pw"))
		assert.Equal(t, []string{"first"}, subjects(t, ctx, c))
		require.NoError(t, c.Logout(ctx))
	}
}

// Mail sent over SMTP to an smtptest server sharing the store is read
// back over IMAP: the whole flow of an application test.
func TestSharedWithSMTP(t *testing.T) {
	t.Parallel()
	im := imaptest.NewServer(t)
	im.AddUser("bob", "pw")
	sm := smtptest.NewUnstartedServer(t)
	sm.Store = im.Store
	sm.Start()
	ctx := ctxT(t)
	_, err := smtpclient.Submit(ctx, sm.Addr, nil, "shop@example.org", []string{"bob@example.org"},
		strings.NewReader("Subject: receipt\r\n\r\nthanks\r\n"), &smtpclient.SubmitOptions{Options: *sm.ClientOptions()})
	require.NoError(t, err)
	_, err = sm.WaitForMessages(ctx, 1)
	require.NoError(t, err)
	c, err := im.Client(ctx)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Login(ctx, "bob", "pw"))
	assert.Equal(t, []string{"receipt"}, subjects(t, ctx, c))
}

func TestLoginError(t *testing.T) {
	t.Parallel()
	s := imaptest.NewUnstartedServer(t)
	s.LoginError = sasl.ErrAuthFailed
	s.FailUsers = []string{"bob"}
	s.Start()
	s.AddUser("bob", "pw")
	s.AddUser("carol", "pw")
	ctx := ctxT(t)
	c, err := s.Client(ctx)
	require.NoError(t, err)
	defer c.Close()
	err = c.Login(ctx, "bob", "pw")
	require.Error(t, err)
	assert.True(t, errors.Is(err, sasl.ErrAuthFailed), "%v", err)
	require.NoError(t, c.Login(ctx, "carol", "pw"))
}

// Close leaves no goroutine behind, with a client left connected.
func TestNoGoroutinesLeft(t *testing.T) {
	before := runtime.NumGoroutine()
	for i := 0; i < 3; i++ {
		s := imaptest.NewServer(nil)
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

// Command faults refuse a command with the chosen reply (the first k
// times, for one user), and withheld capabilities are not advertised.
func TestCommandFaultsAndWithhold(t *testing.T) {
	t.Parallel()
	s := imaptest.NewUnstartedServer(t)
	s.Withhold = []string{"IDLE", "MOVE"}
	s.Start()
	s.AddUser("bob", "pw")
	s.AddUser("carol", "pw")
	s.SetCommandFaults(
		imaptest.CommandFault{Command: "SELECT", User: "bob", Times: 1, Reply: imap.NoError(imap.CodeUnavailable, "try later")},
		imaptest.CommandFault{Command: "UID FETCH"},
	)
	ctx := ctxT(t)
	_, err := s.Deliver(ctx, "bob", []byte("Subject: x\r\n\r\nx\r\n"))
	require.NoError(t, err)
	c, err := s.Client(ctx)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Login(ctx, "bob", "pw"))
	assert.False(t, c.Has(ctx, "IDLE"))
	assert.False(t, c.Has(ctx, "MOVE"))
	assert.True(t, c.Has(ctx, "UIDPLUS"))
	_, err = c.Select(ctx, "INBOX", nil)
	var ie *imap.Error
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, imap.CodeUnavailable, ie.Code)
	_, err = c.Select(ctx, "INBOX", nil)
	require.NoError(t, err, "only the first SELECT fails")
	_, err = c.UIDFetch(ctx, imap.NumSetOf(1), []imap.FetchAtt{{Item: imap.FetchFlags}}, nil).Collect()
	require.Error(t, err)
	_, err = c.Fetch(ctx, imap.NumSetOf(1), []imap.FetchAtt{{Item: imap.FetchFlags}}, nil).Collect()
	require.NoError(t, err, "FETCH is not UID FETCH")

	// The fault is bob's: carol selects at once.
	c2, err := s.Client(ctx)
	require.NoError(t, err)
	defer c2.Close()
	require.NoError(t, c2.Login(ctx, "carol", "pw"))
	_, err = c2.Select(ctx, "INBOX", nil)
	require.NoError(t, err)
}
