package imapclient

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
	"github.com/posthorn/posthorn/internal/testpeer"
)

// testServer is our server over an in-memory store on 127.0.0.1.
type testServer struct {
	addr  string
	store *imapmem.Store
}

func startServer(t testing.TB) *testServer {
	t.Helper()
	store := imapmem.New()
	if err := store.AddUser("alice", "alicepw"); err != nil {
		t.Fatal(err)
	}
	srv := &imapserver.Server{Backend: store, AllowInsecureAuth: true}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return &testServer{addr: ln.Addr().String(), store: store}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// login dials addr and logs in as alice.
func login(t testing.TB, addr, user, pass string, opts *Options) *Client {
	t.Helper()
	ctx := testCtx(t)
	c, err := Dial(ctx, addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(ctx, user, pass); err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	dovecotOnce sync.Once
	dovecot     *testpeer.Dovecot
	dovecotStop func()
)

// sharedDovecot starts one Dovecot for the whole test binary (its start
// costs seconds); TestMain stops it.
func sharedDovecot(t *testing.T) *testpeer.Dovecot {
	t.Helper()
	dovecotOnce.Do(func() {
		tb := &onceTB{T: t}
		func() {
			defer func() { recover() }()
			dovecot = testpeer.StartDovecot(tb, testpeer.DovecotOptions{})
		}()
		dovecotStop = tb.cleanup
		if tb.skipped != "" {
			dovecot = nil
			skipReason = tb.skipped
		}
	})
	if dovecot == nil {
		t.Skip("dovecot not available: " + skipReason)
	}
	return dovecot
}

var skipReason string

func msg(subject, body string) string {
	return "From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: " + subject +
		"\r\nDate: Mon, 2 Jan 2006 15:04:05 +0000\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", ".") +
		"@example.org>\r\n\r\n" + body + "\r\n"
}

// onceTB lets a shared peer outlive the test that started it: its temp
// dir and cleanups belong to TestMain, and skips or failures are recorded
// instead of ending the calling test.
type onceTB struct {
	*testing.T
	dirs     []string
	cleanups []func()
	skipped  string
}

func (o *onceTB) TempDir() string {
	d, err := os.MkdirTemp("", "imapclient-test-")
	if err != nil {
		panic(err)
	}
	o.dirs = append(o.dirs, d)
	return d
}

func (o *onceTB) Cleanup(f func())         { o.cleanups = append(o.cleanups, f) }
func (o *onceTB) Logf(string, ...any)      {}
func (o *onceTB) Helper()                  {}
func (o *onceTB) Skipf(f string, a ...any) { o.skipped = fmt.Sprintf(f, a...); panic(o) }
func (o *onceTB) Fatalf(f string, a ...any) {
	o.skipped = "start failed: " + fmt.Sprintf(f, a...)
	panic(o)
}
func (o *onceTB) Errorf(f string, a ...any) { o.skipped = fmt.Sprintf(f, a...) }
func (o *onceTB) Fatal(a ...any)            { o.Fatalf("%s", fmt.Sprint(a...)) }
func (o *onceTB) Skip(a ...any)             { o.Skipf("%s", fmt.Sprint(a...)) }

func (o *onceTB) cleanup() {
	for i := len(o.cleanups) - 1; i >= 0; i-- {
		o.cleanups[i]()
	}
	for _, d := range o.dirs {
		os.RemoveAll(d)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if dovecotStop != nil {
		dovecotStop()
	}
	os.Exit(code)
}
