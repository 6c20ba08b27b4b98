package smtpclient

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/tlsutil"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/smtpserver"
	"github.com/stretchr/testify/require"
)

type gotMsg struct {
	From     string
	Opts     smtp.MailOptions
	To       []string
	RcptOpts []smtp.RcptOptions
	Data     string
	User     string
}

// recorder is a server backend that keeps what it receives.
type recorder struct {
	mu       sync.Mutex
	msgs     []gotMsg
	rcptErr  map[string]error
	lmtpErr  map[string]error
	sessions int
}

func (r *recorder) NewSession(ctx context.Context, c *smtpserver.ConnInfo) (smtpserver.Session, error) {
	r.mu.Lock()
	r.sessions++
	r.mu.Unlock()
	return &recSession{r: r, info: c}, nil
}

func (r *recorder) all() []gotMsg {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]gotMsg(nil), r.msgs...)
}

type recSession struct {
	r    *recorder
	info *smtpserver.ConnInfo
	cur  gotMsg
}

func (s *recSession) Mail(ctx context.Context, from smtp.Mailbox, o *smtp.MailOptions) error {
	s.cur = gotMsg{From: from.String(), Opts: *o}
	if s.info.Identity != nil {
		s.cur.User = s.info.Identity.Username
	}
	return nil
}

func (s *recSession) Rcpt(ctx context.Context, to smtp.Mailbox, o *smtp.RcptOptions) error {
	s.r.mu.Lock()
	err := s.r.rcptErr[to.String()]
	s.r.mu.Unlock()
	if err != nil {
		return err
	}
	s.cur.To = append(s.cur.To, to.String())
	s.cur.RcptOpts = append(s.cur.RcptOpts, *o)
	return nil
}

func (s *recSession) Data(ctx context.Context, rd io.Reader) error {
	b, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	s.cur.Data = string(b)
	s.r.mu.Lock()
	s.r.msgs = append(s.r.msgs, s.cur)
	s.r.mu.Unlock()
	return nil
}

func (s *recSession) LMTPData(ctx context.Context, rd io.Reader) []error {
	if err := s.Data(ctx, rd); err != nil {
		return []error{err}
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	out := make([]error, len(s.cur.To))
	for i, to := range s.cur.To {
		out[i] = s.r.lmtpErr[to]
	}
	return out
}

func (s *recSession) Reset(ctx context.Context)       { s.cur = gotMsg{} }
func (s *recSession) Close(ctx context.Context) error { return nil }

type creds map[string]string

func (c creds) VerifyPassword(ctx context.Context, user, pass string) error {
	if p, ok := c[user]; ok && p == pass {
		return nil
	}
	return sasl.ErrAuthFailed
}

func (c creds) LookupSecret(ctx context.Context, user string) (string, error) {
	if p, ok := c[user]; ok {
		return p, nil
	}
	return "", sasl.ErrUnknownUser
}

func (c creds) LookupSCRAM(ctx context.Context, user string, h sasl.SCRAMHash) (sasl.SCRAMKeys, error) {
	p, ok := c[user]
	if !ok {
		return sasl.SCRAMKeys{}, sasl.ErrUnknownUser
	}
	return sasl.NewSCRAMKeys(h, p, []byte("saltsaltsalt"), 4096)
}

func testCert(t testing.TB) *tlsutil.TestCert {
	t.Helper()
	tc, err := tlsutil.NewTestCert()
	require.NoError(t, err)
	return tc
}

// serve starts s on 127.0.0.1:0 (implicit TLS when tlsImplicit).
func serve(t testing.TB, s *smtpserver.Server, tlsImplicit bool) string {
	t.Helper()
	if s.Hostname == "" {
		s.Hostname = "mx.test"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() {
		if tlsImplicit {
			_ = s.ServeTLS(ln)
		} else {
			_ = s.Serve(ln)
		}
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return ln.Addr().String()
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (c creds) VerifyToken(ctx context.Context, authzid, token string) (string, error) {
	if _, ok := c[authzid]; ok && token == "token-"+authzid {
		return authzid, nil
	}
	return "", sasl.ErrAuthFailed
}
