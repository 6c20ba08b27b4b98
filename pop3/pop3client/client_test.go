package pop3client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/pop3"
	"github.com/posthorn/posthorn/pop3/internal/pop3fake"
	"github.com/posthorn/posthorn/pop3/pop3client"
	"github.com/posthorn/posthorn/pop3/pop3server"
	"github.com/posthorn/posthorn/sasl"
)

// Messages whose lines start with dots, hold a lone "." or ".." line, or
// look like the terminator: they must come back byte for byte.
var dotty = []string{
	"Subject: dots\r\n\r\n.\r\n..\r\n...\r\n.x\r\nend\r\n",
	"Subject: terminator inside\r\n\r\nline\r\n.\r\nafter\r\n",
	".starts with a dot: header\r\n\r\n.\r\n",
	"Subject: empty body\r\n\r\n",
	"Subject: big\r\n\r\n" + strings.Repeat(".line of text that is long enough to matter\r\n", 5000),
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func env(t *testing.T, srv *pop3server.Server) *pop3fake.Env {
	if srv == nil {
		srv = &pop3server.Server{}
	}
	e := pop3fake.Start(t, srv)
	for _, m := range dotty {
		e.Backend.Deliver("alice", []byte(m))
	}
	return e
}

func dialSTLS(t *testing.T, e *pop3fake.Env) *pop3client.Client {
	ctx := ctxT(t)
	c, err := pop3client.Dial(ctx, e.Addr, &pop3client.Options{TLSConfig: e.Cert.ClientConfig()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.StartTLS(ctx, nil); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientAgainstServer(t *testing.T) {
	e := env(t, nil)
	ctx := ctxT(t)
	c := dialSTLS(t, e)
	caps, err := c.Capa(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !caps.Has("PIPELINING") || !caps.Has("USER") || caps.Has("STLS") {
		t.Fatalf("CAPA after STLS = %v", caps)
	}
	if err := c.Login(ctx, "alice", "secret"); err != nil {
		t.Fatal(err)
	}
	n, size, err := c.Stat(ctx)
	if err != nil || n != len(dotty) {
		t.Fatalf("STAT = %d %d %v", n, size, err)
	}
	list, err := c.List(ctx)
	if err != nil || len(list) != len(dotty) {
		t.Fatalf("LIST = %v %v", list, err)
	}
	uidl, err := c.Uidl(ctx)
	if err != nil || len(uidl) != len(dotty) || uidl[0].UID != "uid-1" {
		t.Fatalf("UIDL = %v %v", uidl, err)
	}
	for i, want := range dotty {
		r, err := c.Retr(ctx, i+1)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		if string(got) != want {
			t.Errorf("RETR %d = %q, want %q", i+1, got, want)
		}
		if list[i].Size != int64(len(want)) {
			t.Errorf("LIST %d = %d, want %d", i+1, list[i].Size, len(want))
		}
	}
	if s, err := c.ListOne(ctx, 2); err != nil || s != int64(len(dotty[1])) {
		t.Errorf("LIST 2 = %d %v", s, err)
	}
	if u, err := c.UidlOne(ctx, 2); err != nil || u != "uid-2" {
		t.Errorf("UIDL 2 = %q %v", u, err)
	}
	// TOP, and a reader closed half-way keeps the session in step.
	r, err := c.Top(ctx, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Stat(ctx); !errors.Is(err, pop3client.ErrBusy) {
		t.Fatalf("command during open reader: %v", err)
	}
	got, _ := io.ReadAll(r)
	if string(got) != "Subject: dots\r\n\r\n.\r\n..\r\n" {
		t.Errorf("TOP 1 2 = %q", got)
	}
	r, err = c.Retr(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	io.CopyN(io.Discard, r, 100)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = c.Retr(ctx, 99)
	var pe *pop3.Error
	if !errors.As(err, &pe) || pe.Text != "no such message" {
		t.Fatalf("RETR 99 = %v", err)
	}
	if err := c.Dele(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := c.Rset(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleMany(ctx, []int{1, 2, 99}); err == nil {
		t.Fatal("DELE 99 succeeded")
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.Backend.UIDs("alice"); !slices.Equal(got, []string{"uid-3", "uid-4", "uid-5"}) {
		t.Fatalf("after QUIT: %v", got)
	}
}

// Every TLS mode with every way to log in.
func TestTLSAuthCombinations(t *testing.T) {
	// CRAM-MD5 is offered only when listed (and the store has secrets).
	mechs := append(slices.Clone(sasl.DefaultMechanisms), sasl.CRAMMD5)
	be := pop3fake.SecretBackend{Backend: pop3fake.NewBackend()}
	e := pop3fake.Start(t, &pop3server.Server{Backend: be, EnableAPOP: true,
		Auth: &sasl.Registry{Credentials: be, Mechanisms: mechs}})
	bePlain := pop3fake.SecretBackend{Backend: pop3fake.NewBackend()}
	ePlain := pop3fake.Start(t, &pop3server.Server{Backend: bePlain, EnableAPOP: true, AllowInsecureAuth: true,
		Auth: &sasl.Registry{Credentials: bePlain, Mechanisms: mechs, AllowPlaintext: true}})
	type login func(ctx context.Context, c *pop3client.Client) error
	logins := map[string]login{
		"SCRAM-SHA-256": func(ctx context.Context, c *pop3client.Client) error {
			m, err := sasl.NewSCRAMClient(sasl.SCRAMOptions{Hash: sasl.SHA256, Username: "alice", Password: "secret"})
			if err != nil {
				return err
			}
			return c.Auth(ctx, m)
		},
		"USER":  func(ctx context.Context, c *pop3client.Client) error { return c.User(ctx, "alice", "secret") },
		"Login": func(ctx context.Context, c *pop3client.Client) error { return c.Login(ctx, "alice", "secret") },
		"APOP":  func(ctx context.Context, c *pop3client.Client) error { return c.APOP(ctx, "alice", "secret") },
		"PLAIN": func(ctx context.Context, c *pop3client.Client) error {
			return c.Auth(ctx, sasl.NewPlainClient("", "alice", "secret"))
		},
		"LOGIN": func(ctx context.Context, c *pop3client.Client) error {
			return c.Auth(ctx, sasl.NewLoginClient("alice", "secret"))
		},
		"CRAM-MD5": func(ctx context.Context, c *pop3client.Client) error {
			return c.Auth(ctx, sasl.NewCRAMMD5Client("alice", "secret"))
		},
	}
	modes := map[string]func(t *testing.T) *pop3client.Client{
		"implicit": func(t *testing.T) *pop3client.Client {
			c, err := pop3client.DialTLS(ctxT(t), e.TLSAddr, &pop3client.Options{TLSConfig: e.Cert.ClientConfig()})
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		"STLS": func(t *testing.T) *pop3client.Client { return dialSTLS(t, e) },
		"plaintext-allowed": func(t *testing.T) *pop3client.Client {
			c, err := pop3client.Dial(ctxT(t), ePlain.Addr, &pop3client.Options{AllowInsecureAuth: true})
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
	}
	for mode, dial := range modes {
		for name, login := range logins {
			t.Run(mode+"/"+name, func(t *testing.T) {
				ctx := ctxT(t)
				c := dial(t)
				defer c.Close()
				if err := login(ctx, c); err != nil {
					t.Fatalf("login: %v", err)
				}
				if _, _, err := c.Stat(ctx); err != nil {
					t.Fatal(err)
				}
				mech := be.LastMechanism()
				if mode == "plaintext-allowed" {
					mech = bePlain.LastMechanism()
				}
				want := map[string]string{"USER": "USER", "APOP": "APOP", "Login": "SCRAM-SHA-256-PLUS"}[name]
				if name == "Login" && mode == "plaintext-allowed" {
					want = "SCRAM-SHA-256"
				}
				if want == "" {
					want = name
				}
				if mech != want {
					t.Errorf("server saw mechanism %q, want %q", mech, want)
				}
				if err := c.Quit(ctx); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
	// Plaintext without permission: the server offers no password
	// login, and the client refuses to send one.
	c, err := pop3client.Dial(ctxT(t), e.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.User(ctxT(t), "alice", "secret"); !errors.Is(err, sasl.ErrInsecureAuth) {
		t.Fatalf("USER without TLS: %v", err)
	}
	c2, err := pop3client.Dial(ctxT(t), e.Addr, &pop3client.Options{AllowInsecureAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.User(ctxT(t), "alice", "secret"); !errors.Is(err, pop3.ErrAuth) {
		t.Fatalf("USER refused by server: %v", err)
	}
	// Wrong password: [AUTH] as a typed error.
	c3 := dialSTLS(t, e)
	if err := c3.Login(ctxT(t), "alice", "wrong"); !errors.Is(err, pop3.ErrAuth) || !errors.Is(err, sasl.ErrAuthFailed) {
		t.Fatalf("wrong password: %v", err)
	}
}

// RFC 2449 §8.1.2 [IN-USE] surfaces as a typed, temporary error.
func TestInUseTyped(t *testing.T) {
	e := env(t, nil)
	ctx := ctxT(t)
	c1 := dialSTLS(t, e)
	if err := c1.Login(ctx, "alice", "secret"); err != nil {
		t.Fatal(err)
	}
	c2 := dialSTLS(t, e)
	err := c2.Login(ctx, "alice", "secret")
	var pe *pop3.Error
	if !errors.Is(err, pop3.ErrInUse) || !errors.As(err, &pe) || !pe.Temporary() {
		t.Fatalf("second login: %v", err)
	}
	// The first session dies without QUIT: nothing is deleted.
	if err := c1.Dele(ctx, 1); err != nil {
		t.Fatal(err)
	}
	c1.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c3 := dialSTLS(t, e)
		err := c3.Login(ctx, "alice", "secret")
		if err == nil {
			n, _, _ := c3.Stat(ctx)
			if n != len(dotty) {
				t.Fatalf("after a dropped session STAT = %d", n)
			}
			c3.Quit(ctx)
			break
		}
		if !errors.Is(err, pop3.ErrInUse) || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Cancelling the context interrupts a RETR stalled on the socket.
func TestCancelReachesSocket(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		nc.Write([]byte("+OK hi\r\n"))
		buf := make([]byte, 100)
		nc.Read(buf) // RETR 1
		nc.Write([]byte("+OK 100 octets\r\npartial line"))
		time.Sleep(10 * time.Second)
	}()
	c, err := pop3client.Dial(ctxT(t), l.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	r, err := c.Retr(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(50*time.Millisecond, cancel)
	t0 := time.Now()
	_, err = io.ReadAll(r)
	if err == nil || time.Since(t0) > 5*time.Second {
		t.Fatalf("ReadAll = %v after %v", err, time.Since(t0))
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if err := c.Noop(context.Background()); !errors.Is(err, pop3client.ErrClosed) {
		t.Fatalf("after cancel: %v", err)
	}
}

// Pipelined commands from the client when PIPELINING is offered.
func TestDeleManyPipelined(t *testing.T) {
	e := env(t, nil)
	ctx := ctxT(t)
	c := dialSTLS(t, e)
	if err := c.Login(ctx, "alice", "secret"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleMany(ctx, []int{1, 3, 5}); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.Backend.UIDs("alice"); !slices.Equal(got, []string{"uid-2", "uid-4"}) {
		t.Fatalf("after QUIT: %v", got)
	}
}

func TestDownload(t *testing.T) {
	e := env(t, nil)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	seen := map[string]time.Time{}
	saved := map[string][]byte{}
	failUID := "uid-2"
	run := func(opts pop3client.DownloadOptions) *pop3client.DownloadReport {
		t.Helper()
		ctx := ctxT(t)
		c := dialSTLS(t, e)
		if err := c.Login(ctx, "alice", "secret"); err != nil {
			t.Fatal(err)
		}
		opts.Seen = seen
		opts.Now = func() time.Time { return now }
		opts.Save = func(ctx context.Context, uid string, r io.Reader) error {
			if uid == failUID {
				return errors.New("disk full")
			}
			b, err := io.ReadAll(r)
			saved[uid] = b
			return err
		}
		rep, err := c.Download(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Quit(ctx); err != nil {
			t.Fatal(err)
		}
		return rep
	}
	rep := run(pop3client.DownloadOptions{DeleteAfter: 7 * 24 * time.Hour})
	if len(rep.Downloaded) != 4 || rep.Skipped != 0 || len(rep.Failed) != 1 || len(rep.Deleted) != 0 {
		t.Fatalf("first run: %+v", rep)
	}
	if !bytes.Equal(saved["uid-1"], []byte(dotty[0])) {
		t.Fatalf("saved %q", saved["uid-1"])
	}
	// Second run: only the failed one and a new message are fetched.
	failUID = ""
	e.Backend.Deliver("alice", []byte("Subject: new\r\n\r\nnew\r\n"))
	now = now.Add(24 * time.Hour)
	rep = run(pop3client.DownloadOptions{DeleteAfter: 7 * 24 * time.Hour})
	if !slices.Equal(rep.Downloaded, []string{"uid-2", "uid-6"}) || rep.Skipped != 4 || len(rep.Deleted) != 0 {
		t.Fatalf("second run: %+v", rep)
	}
	// A week after the first run its messages are deleted.
	now = now.Add(6*24*time.Hour + 12*time.Hour)
	rep = run(pop3client.DownloadOptions{DeleteAfter: 7 * 24 * time.Hour})
	if len(rep.Downloaded) != 0 || !slices.Equal(rep.Deleted, []string{"uid-1", "uid-3", "uid-4", "uid-5"}) {
		t.Fatalf("third run: %+v", rep)
	}
	if got := e.Backend.UIDs("alice"); !slices.Equal(got, []string{"uid-2", "uid-6"}) {
		t.Fatalf("server holds %v", got)
	}
	// Delete after save; forgotten UIDs leave the state.
	e.Backend.Deliver("alice", []byte("Subject: seven\r\n\r\n7\r\n"))
	rep = run(pop3client.DownloadOptions{DeleteAfterSave: true})
	if !slices.Equal(rep.Downloaded, []string{"uid-7"}) || !slices.Equal(rep.Deleted, []string{"uid-7"}) || len(rep.Forgotten) != 4 {
		t.Fatalf("fourth run: %+v", rep)
	}
	if got := e.Backend.UIDs("alice"); !slices.Equal(got, []string{"uid-2", "uid-6"}) {
		t.Fatalf("server holds %v", got)
	}
}

// A server that answers CAPA with -ERR (RFC 1939 only) still works.
func TestNoCapaServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		c := pop3fake.Wrap(t, nc)
		c.Send("+OK old server\r\n")
		for _, pair := range [][2]string{{"CAPA", "-ERR what?"}, {"USER bob", "+OK"}, {"PASS pw", "+OK"}, {"QUIT", "+OK"}} {
			if got := c.ReadLine(); got != pair[0] {
				c.Send("-ERR unexpected\r\n")
				return
			}
			c.Send(pair[1] + "\r\n")
		}
	}()
	ctx := ctxT(t)
	c, err := pop3client.Dial(ctx, l.Addr().String(), &pop3client.Options{AllowInsecureAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(ctx, "bob", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
}

func dialPlain(ctx context.Context, addr string) (*pop3client.Client, error) {
	return pop3client.Dial(ctx, addr, &pop3client.Options{AllowInsecureAuth: true})
}

// RFC 6856: a message with UTF-8 headers needs UTF8 mode; the refusal is
// typed.
func TestUTF8Mode(t *testing.T) {
	e := env(t, nil)
	utf := "Subject: Grüße\r\n\r\nHallo\r\n"
	e.Backend.Deliver("alice", []byte(utf))
	ctx := ctxT(t)
	c := dialSTLS(t, e)
	if err := c.Login(ctx, "alice", "secret"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Retr(ctx, len(dotty)+1); !errors.Is(err, pop3.ErrUTF8) {
		t.Fatalf("RETR without UTF8: %v", err)
	}
	c.Quit(ctx)
	c = dialSTLS(t, e)
	if err := c.UTF8(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Login(ctx, "alice", "secret"); err != nil {
		t.Fatal(err)
	}
	r, err := c.Retr(ctx, len(dotty)+1)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(r); string(got) != utf {
		t.Fatalf("RETR = %q", got)
	}
	c.Quit(ctx)
}

// A server that offers USER and PLAIN in the clear (or a man in the middle
// who stripped STLS) gets no password unless the caller opts in; loopback
// is not exempt (RFC 2595 §2.2, RFC 8314 §3).
func TestNoPasswordWithoutTLS(t *testing.T) {
	e := env(t, &pop3server.Server{AllowInsecureAuth: true})
	for name, try := range map[string]func(ctx context.Context, c *pop3client.Client) error{
		"Login": func(ctx context.Context, c *pop3client.Client) error { return c.Login(ctx, "alice", "secret") },
		"User":  func(ctx context.Context, c *pop3client.Client) error { return c.User(ctx, "alice", "secret") },
		"Auth PLAIN": func(ctx context.Context, c *pop3client.Client) error {
			return c.Auth(ctx, sasl.NewPlainClient("", "alice", "secret"))
		},
		"Auth LOGIN": func(ctx context.Context, c *pop3client.Client) error {
			return c.Auth(ctx, sasl.NewLoginClient("alice", "secret"))
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := ctxT(t)
			c, err := pop3client.Dial(ctx, e.Addr, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := try(ctx, c); !errors.Is(err, sasl.ErrInsecureAuth) {
				t.Fatalf("without TLS: %v, want sasl.ErrInsecureAuth", err)
			}
			c2, err := pop3client.Dial(ctx, e.Addr, &pop3client.Options{AllowInsecureAuth: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c2.Close()
			if err := try(ctx, c2); err != nil {
				t.Fatalf("opted in: %v", err)
			}
			if err := c2.Quit(ctx); err != nil { // releases the maildrop lock
				t.Fatal(err)
			}
		})
	}
}
