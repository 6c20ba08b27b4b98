package smtptest

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

const msg = "From: Shop <orders@shop.example>\r\nTo: bob@example.org\r\nSubject: =?utf-8?q?Quittung_f=C3=BCr_Bob?=\r\n" +
	"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
	"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello Bob\r\n" +
	"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hello Bob</p>\r\n" +
	"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename*=utf-8''Rechnung%20M%C3%A4rz.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n" +
	"--b--\r\n"

func send(t *testing.T, s *Server, from string, to ...string) error {
	t.Helper()
	ctx := ctxT(t)
	c, err := s.Client(ctx)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Send(ctx, &smtpclient.Envelope{From: from, To: to}, strings.NewReader(msg), int64(len(msg)))
	return err
}

func TestCaptureAndParse(t *testing.T) {
	t.Parallel()
	s := NewServer(t)
	require.NoError(t, send(t, s, "orders@shop.example", "bob@example.org", "carol@example.org"))
	// Visible without waiting: captured before the 250 was written.
	got := s.Messages()
	require.Len(t, got, 1)
	m := got[0]
	assert.Equal(t, "orders@shop.example", m.From)
	assert.Equal(t, []string{"bob@example.org", "carol@example.org"}, m.To)
	assert.True(t, m.TLS, "the ready client uses STARTTLS")
	assert.Equal(t, "Quittung für Bob", m.Subject)
	assert.Equal(t, "Hello Bob", m.Text)
	assert.Equal(t, "<p>Hello Bob</p>", m.HTML)
	require.Len(t, m.Attachments, 1)
	a := m.Attachment("Rechnung März.pdf")
	require.NotNil(t, a)
	assert.Equal(t, "%PDF-", string(a.Data))
	assert.Equal(t, "application/pdf", a.ContentType)
	require.Len(t, m.HeaderFrom, 1)
	assert.Equal(t, "orders@shop.example", m.HeaderFrom[0].Addr())
	assert.True(t, strings.HasPrefix(string(m.Raw), "Received: "))
	assert.Empty(t, m.Defects)
	assert.Equal(t, int64(len(msg)), m.MailOptions.Size, "SIZE is captured")

	s.Reset()
	assert.Empty(t, s.Messages())
}

func TestWaitForMessages(t *testing.T) {
	t.Parallel()
	s := NewServer(t)
	ctx := ctxT(t)
	done := make(chan []*Message)
	go func() {
		ms, err := s.WaitForMessages(ctx, 2, To("bob@example.org"))
		assert.NoError(t, err)
		done <- ms
	}()
	require.NoError(t, send(t, s, "a@example.org", "carol@example.org"))
	require.NoError(t, send(t, s, "a@example.org", "bob@example.org"))
	require.NoError(t, send(t, s, "a@example.org", "BOB@example.org"))
	ms := <-done
	assert.Len(t, ms, 2)

	// Matchers combine; a timeout reports what did arrive.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	ms, err := s.WaitForMessages(short, 1, To("bob@example.org"), SubjectContains("nothing like this"))
	var we *WaitError
	require.ErrorAs(t, err, &we)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Empty(t, ms)
	assert.Equal(t, 3, we.Arrived)
	assert.Contains(t, err.Error(), "carol@example.org")

	ms, err = s.WaitForMessages(ctx, 3, HeaderEquals("To", "bob@example.org"), From("A@example.org"))
	require.NoError(t, err)
	assert.Len(t, ms, 3)
	ms, err = s.WaitForMessages(ctx, 1, func(m *Message) bool { return len(m.To) == 1 && m.To[0] == "carol@example.org" })
	require.NoError(t, err)
	assert.Len(t, ms, 1)
}

func TestWaitForNoMessages(t *testing.T) {
	t.Parallel()
	s := NewServer(t)
	ctx := ctxT(t)
	require.NoError(t, s.WaitForNoMessages(ctx, 30*time.Millisecond))
	go func() {
		time.Sleep(20 * time.Millisecond)
		_ = send(t, s, "a@example.org", "b@example.org")
	}()
	start := time.Now()
	err := s.WaitForNoMessages(ctx, 5*time.Second)
	require.Error(t, err)
	assert.Less(t, time.Since(start), 4*time.Second, "reports as soon as mail arrives")
}

func TestFaults(t *testing.T) {
	t.Parallel()
	s := NewServer(t)
	s.SetFaults(
		Fault{At: AtRcpt, When: func(a *Attempt) bool { return a.To == "nobody@example.org" }, Reply: Reply(550, "5.1.1 no such user")},
		Fault{At: AtMail, Times: 2, Reply: Reply(451, "4.3.0 try again")},
	)
	ctx := ctxT(t)
	// The first two transactions fail at MAIL, then mail flows.
	for i := 0; i < 2; i++ {
		err := send(t, s, "a@example.org", "b@example.org")
		var se *smtp.Error
		require.ErrorAs(t, err, &se)
		assert.Equal(t, 451, se.Code)
		assert.Equal(t, smtp.EnhancedCode{4, 3, 0}, se.Enhanced)
	}
	err := send(t, s, "a@example.org", "b@example.org", "nobody@example.org")
	var pe *smtpclient.PartialError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, []string{"b@example.org"}, pe.Accepted)
	ms, err := s.WaitForMessages(ctx, 1)
	require.NoError(t, err)
	assert.Equal(t, []string{"b@example.org"}, ms[0].To)

	// The n-th message is refused after it was read.
	s.Reset()
	s.SetFaults(Fault{At: AtData, Nth: 2, Reply: Reply(554, "5.6.0 content rejected")})
	require.NoError(t, send(t, s, "a@example.org", "b@example.org"))
	var se *smtp.Error
	require.ErrorAs(t, send(t, s, "a@example.org", "b@example.org"), &se)
	assert.Equal(t, 554, se.Code)
	require.NoError(t, send(t, s, "a@example.org", "b@example.org"))
	assert.Len(t, s.Messages(), 2)
}

// A connection dropped in the middle of DATA: the client sees an I/O
// error, no message is captured.
func TestDropDuringData(t *testing.T) {
	t.Parallel()
	s := NewServer(t)
	s.SetFaults(Fault{At: AtData, Drop: true})
	big := "Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("x", 70)+"\r\n", 5000)
	ctx := ctxT(t)
	c, err := s.Client(ctx)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Send(ctx, &smtpclient.Envelope{From: "a@example.org", To: []string{"b@example.org"}}, strings.NewReader(big), int64(len(big)))
	require.Error(t, err)
	var se *smtp.Error
	assert.False(t, errors.As(err, &se), "no reply, the connection is gone: %v", err)
	assert.Empty(t, s.Messages())
}

// Connections refused with 421 twice, then served: a Submitter retries.
func TestConnectFaultAndDelay(t *testing.T) {
	t.Parallel()
	s := NewServer(t)
	s.SetFaults(Fault{At: AtConnect, Times: 2, Reply: Reply(421, "4.7.0 too many connections")},
		Fault{At: AtMail, Delay: 100 * time.Millisecond})
	ctx := ctxT(t)
	sub := &smtpclient.Submitter{Addr: s.Addr, Options: *s.ClientOptions()}
	defer sub.Close(ctx)
	start := time.Now()
	_, err := sub.Submit(ctx, &smtpclient.Envelope{From: "a@example.org", To: []string{"b@example.org"}}, strings.NewReader(msg))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
	assert.Len(t, s.Messages(), 1)
}

func TestRequireAuthAndTLS(t *testing.T) {
	t.Parallel()
	s := NewUnstartedServer(t)
	s.RequireAuth, s.RequireTLS = true, true
	s.AddUser("shop", "s3cret")
	s.Start()
	ctx := ctxT(t)

	// Plaintext: refused before TLS.
	c, err := smtpclient.Dial(ctx, s.Addr, nil)
	require.NoError(t, err)
	_, err = c.Send(ctx, &smtpclient.Envelope{From: "a@example.org", To: []string{"b@example.org"}}, strings.NewReader(msg), int64(len(msg)))
	var se *smtp.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 530, se.Code)
	c.Close()

	// TLS but no AUTH: refused; with AUTH: accepted, and recorded.
	c, err = s.Client(ctx)
	require.NoError(t, err)
	_, err = c.Send(ctx, &smtpclient.Envelope{From: "a@example.org", To: []string{"b@example.org"}}, strings.NewReader(msg), int64(len(msg)))
	require.ErrorAs(t, err, &se)
	require.ErrorIs(t, c.Login(ctx, "shop", "wrong"), sasl.ErrAuthFailed)
	require.NoError(t, c.Login(ctx, "shop", "s3cret"))
	_, err = c.Send(ctx, &smtpclient.Envelope{From: "a@example.org", To: []string{"b@example.org"}}, strings.NewReader(msg), int64(len(msg)))
	require.NoError(t, err)
	c.Close()
	ms := s.Messages()
	require.Len(t, ms, 1)
	assert.Equal(t, "shop", ms[0].Auth)
	assert.NotEmpty(t, ms[0].AuthMechanism)
}

// Extensions withheld through the underlying server.
func TestWithholdExtensions(t *testing.T) {
	t.Parallel()
	s := NewUnstartedServer(t)
	s.Server.DisableExtensions = []string{"CHUNKING", "PIPELINING", "STARTTLS"}
	s.Start()
	ctx := ctxT(t)
	c, err := s.Client(ctx)
	require.NoError(t, err)
	defer c.Close()
	for _, ext := range []string{"CHUNKING", "PIPELINING", "STARTTLS"} {
		_, ok := c.Extension(ext)
		assert.False(t, ok, ext)
	}
	_, ok := c.Extension("8BITMIME")
	assert.True(t, ok)
}

func TestTLSServer(t *testing.T) {
	t.Parallel()
	s := NewTLSServer(t)
	require.NoError(t, send(t, s, "a@example.org", "b@example.org"))
	ms := s.Messages()
	require.Len(t, ms, 1)
	assert.True(t, ms[0].TLS)
	assert.Equal(t, "localhost", s.Certificate().Subject.CommonName)
}

// Mail accepted over SMTP lands in a shared store, for IMAP or POP3 to
// read back; the store's users can log in.
func TestSharedStore(t *testing.T) {
	t.Parallel()
	st := imapmem.New()
	require.NoError(t, st.AddUser("bob", "bobpw"))
	s := NewUnstartedServer(t)
	s.Store = st
	s.Start()
	require.NoError(t, send(t, s, "a@example.org", "bob@example.org"))
	ctx := ctxT(t)
	c, err := s.Client(ctx)
	require.NoError(t, err)
	require.NoError(t, c.Login(ctx, "bob", "bobpw"))
	c.Close()
	uidls, _, unlock, err := st.LockMaildrop(ctx, "bob")
	require.NoError(t, err)
	defer unlock()
	assert.Len(t, uidls, 1)
}

// Close leaves no goroutine behind.
func TestNoGoroutinesLeft(t *testing.T) {
	before := runtime.NumGoroutine()
	for i := 0; i < 5; i++ {
		s := NewServer(nil)
		_ = send(t, s, "a@example.org", "b@example.org")
		c, err := s.Client(ctxT(t)) // an idle client left open
		require.NoError(t, err)
		s.Close()
		s.Close()
		c.Close()
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before)
}

// BenchmarkStartClose measures starting a server and tearing it down
// (target: under 5 ms; the certificate is made once per process).
func BenchmarkStartClose(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		s := NewServer(nil)
		s.Close()
	}
}

// BenchmarkWaitLatency measures the time from the client's DATA reply to
// WaitForMessages returning in another goroutine that was waiting: the
// message is captured before the 250 is written, so the waiter usually
// returns before the client has read it (reported as wake-µs).
func BenchmarkWaitLatency(b *testing.B) {
	s := NewServer(nil)
	defer s.Close()
	ctx := context.Background()
	// A Submitter, which opens a new connection when the server's
	// per-connection message limit ends one.
	c := &smtpclient.Submitter{Addr: s.Addr, TLS: smtpclient.TLSNone}
	defer c.Close(ctx)
	var total atomic.Int64
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		woke := make(chan time.Time, 1)
		want := n
		go func() {
			_, _ = s.WaitForMessages(ctx, want)
			woke <- time.Now()
		}()
		_, err := c.Submit(ctx, &smtpclient.Envelope{From: "a@example.org", To: []string{"b@example.org"}}, strings.NewReader(msg))
		replied := time.Now()
		if err != nil {
			b.Fatal(err)
		}
		w := <-woke
		total.Add(int64(w.Sub(replied)))
	}
	b.ReportMetric(float64(total.Load())/float64(n)/1e3, "wake-µs")
}
