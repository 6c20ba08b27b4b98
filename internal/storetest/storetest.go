// Package storetest checks a mail store against the delivery and
// maildrop contracts that smtpserver.DeliveryStore and
// pop3server.MaildropStore document, so that imapmem, maildir and any
// other store behave the same through smtpserver.NewStoreBackend and
// pop3server.NewStoreBackend. A store's tests call Run.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/iotest"
)

// Store is the union of smtpserver.DeliveryStore and
// pop3server.MaildropStore, spelt out with the same standard types so
// that this package imports neither server.
type Store interface {
	CheckQuota(ctx context.Context, username string, size int64) error
	DeliverMessage(ctx context.Context, usernames []string, body io.Reader, header func() []byte) (perRecipient []error, err error)
	LockMaildrop(ctx context.Context, username string) (uidls []string, sizes []int64, unlock func(), err error)
	OpenMaildropMessage(ctx context.Context, username, uidl string) (io.Reader, error)
	DeleteMaildropMessages(ctx context.Context, username string, uidls []string) error
}

// Env tells Run how to make and prepare the store under test.
type Env struct {
	// New returns an empty store, cleaned up by the test.
	New func(t *testing.T) Store
	// AddUser creates an account with an empty INBOX.
	AddUser func(t *testing.T, s Store, name string)
	// SetQuota limits the account's storage to octets.
	SetQuota func(t *testing.T, s Store, name string, octets int64)
	// Expunge removes a message of the account's maildrop, given by its
	// UIDL, the way another protocol would (IMAP EXPUNGE, say). nil
	// skips the checks that need it.
	Expunge func(t *testing.T, s Store, name, uidl string)
}

// Run runs every check as a subtest.
func Run(t *testing.T, env Env) {
	t.Run("Deliver", func(t *testing.T) { testDeliver(t, env) })
	t.Run("DeliverFailingBody", func(t *testing.T) { testFailingBody(t, env) })
	t.Run("DeliverLarge", func(t *testing.T) { testLarge(t, env) })
	t.Run("CheckQuota", func(t *testing.T) { testCheckQuota(t, env) })
	t.Run("Maildrop", func(t *testing.T) { testMaildrop(t, env) })
	t.Run("MaildropGone", func(t *testing.T) {
		if env.Expunge == nil {
			t.Skip("no Env.Expunge")
		}
		testGone(t, env)
	})
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, env) })
}

// notNetError fails when err looks like a connection error to errors.As:
// a server would then drop the connection instead of answering.
func notNetError(t *testing.T, what string, err error) {
	t.Helper()
	var ne net.Error
	if errors.As(err, &ne) {
		t.Errorf("%s: %v is a net.Error to errors.As (wraps a syscall.Errno?)", what, err)
	}
}

// inbox reads every message of the account's maildrop.
func inbox(t *testing.T, s Store, name string) []string {
	t.Helper()
	ctx := context.Background()
	uidls, sizes, unlock, err := s.LockMaildrop(ctx, name)
	if err != nil {
		t.Fatalf("LockMaildrop(%s): %v", name, err)
	}
	defer unlock()
	var out []string
	for i, u := range uidls {
		r, err := s.OpenMaildropMessage(ctx, name, u)
		if err != nil {
			t.Fatalf("OpenMaildropMessage(%s, %s): %v", name, u, err)
		}
		b, err := io.ReadAll(r)
		if c, ok := r.(io.Closer); ok {
			c.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(b)) != sizes[i] {
			t.Errorf("message %s: listed size %d, RETR gives %d octets", u, sizes[i], len(b))
		}
		out = append(out, string(b))
	}
	return out
}

func deliver(t *testing.T, s Store, users []string, body, header string) []error {
	t.Helper()
	res, err := s.DeliverMessage(context.Background(), users, strings.NewReader(body), func() []byte { return []byte(header) })
	if err != nil {
		t.Fatalf("DeliverMessage: %v", err)
	}
	if len(res) != len(users) {
		t.Fatalf("DeliverMessage: %d results for %d users", len(res), len(users))
	}
	return res
}

// eofReader records whether its reader returned io.EOF.
type eofReader struct {
	r   io.Reader
	eof bool
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.eof = true
	}
	return n, err
}

func testDeliver(t *testing.T, env Env) {
	s := env.New(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		env.AddUser(t, s, u)
	}
	env.SetQuota(t, s, "carol", 20)
	const body = "Subject: hello\r\n\r\nfirst line\r\n.dot line\r\n"
	const header = "Authentication-Results: mx.test; none\r\nReceived: from client.test\r\n\tby mx.test; Mon, 7 Dec 2026 21:00:00 +0000\r\n"
	er := &eofReader{r: iotest.HalfReader(strings.NewReader(body))}
	calls := 0
	res, err := s.DeliverMessage(context.Background(), []string{"alice", "nobody", "carol", "bob"}, er, func() []byte {
		calls++
		if !er.eof {
			t.Error("header called before the body was read to io.EOF")
		}
		return []byte(header)
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("header called %d times, want once", calls)
	}
	if res[0] != nil || res[3] != nil {
		t.Errorf("alice: %v, bob: %v", res[0], res[3])
	}
	if !errors.Is(res[1], fs.ErrNotExist) {
		t.Errorf("unknown user: %v, want an error that is fs.ErrNotExist", res[1])
	}
	if !errors.Is(res[2], syscall.EDQUOT) {
		t.Errorf("over quota: %v, want an error that is syscall.EDQUOT", res[2])
	}
	notNetError(t, "unknown user", res[1])
	notNetError(t, "over quota", res[2])
	for _, u := range []string{"alice", "bob"} {
		if got := inbox(t, s, u); len(got) != 1 || got[0] != header+body {
			t.Errorf("%s's maildrop: %q, want the header lines, then the body", u, got)
		}
	}
	if got := inbox(t, s, "carol"); len(got) != 0 {
		t.Errorf("carol, over quota, got %d messages", len(got))
	}
	// A nil header func is allowed.
	if res, err := s.DeliverMessage(context.Background(), []string{"alice"}, strings.NewReader(body), nil); err != nil || res[0] != nil {
		t.Fatalf("without header: %v %v", res, err)
	}
	if got := inbox(t, s, "alice"); len(got) != 2 || got[1] != body {
		t.Errorf("without header: %q", got)
	}
}

func testFailingBody(t *testing.T, env Env) {
	s := env.New(t)
	env.AddUser(t, s, "alice")
	boom := errors.New("client vanished")
	for _, size := range []int{10, 200 << 10} {
		body := io.MultiReader(bytes.NewReader(bytes.Repeat([]byte("x\r\n"), size/3)), iotest.ErrReader(boom))
		called := false
		_, err := s.DeliverMessage(context.Background(), []string{"alice"}, body, func() []byte { called = true; return nil })
		if !errors.Is(err, boom) {
			t.Errorf("%d octets then an error: DeliverMessage = %v, want it to wrap the body's error", size, err)
		}
		if called {
			t.Errorf("%d octets then an error: header called", size)
		}
	}
	if got := inbox(t, s, "alice"); len(got) != 0 {
		t.Errorf("a failed body left %d messages", len(got))
	}
}

func testLarge(t *testing.T, env Env) {
	s := env.New(t)
	env.AddUser(t, s, "alice")
	body := "Subject: large\r\n\r\n" + strings.Repeat("0123456789 abcdefghijklmnopqrstuvwxyz\r\n", 100_000)
	deliver(t, s, []string{"alice"}, body, "X-Test: 1\r\n")
	if got := inbox(t, s, "alice"); len(got) != 1 || got[0] != "X-Test: 1\r\n"+body {
		t.Errorf("a 4 MB message did not come back intact")
	}
}

func testCheckQuota(t *testing.T, env Env) {
	s := env.New(t)
	env.AddUser(t, s, "alice")
	env.AddUser(t, s, "bob")
	env.SetQuota(t, s, "bob", 100)
	ctx := context.Background()
	if err := s.CheckQuota(ctx, "alice", 1<<20); err != nil {
		t.Errorf("alice, no quota: %v", err)
	}
	if err := s.CheckQuota(ctx, "bob", 50); err != nil {
		t.Errorf("bob, 50 of 100 octets: %v", err)
	}
	err := s.CheckQuota(ctx, "bob", 500)
	if !errors.Is(err, syscall.EDQUOT) {
		t.Errorf("bob, 500 of 100 octets: %v, want syscall.EDQUOT", err)
	}
	notNetError(t, "over quota", err)
	err = s.CheckQuota(ctx, "nobody", 0)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("unknown user: %v, want fs.ErrNotExist", err)
	}
	notNetError(t, "unknown user", err)
}

// validUIDL reports whether u is a UIDL as RFC 1939 §7 defines it.
func validUIDL(u string) bool {
	if len(u) < 1 || len(u) > 70 {
		return false
	}
	for i := 0; i < len(u); i++ {
		if u[i] < 0x21 || u[i] > 0x7e {
			return false
		}
	}
	return true
}

func testMaildrop(t *testing.T, env Env) {
	s := env.New(t)
	env.AddUser(t, s, "alice")
	ctx := context.Background()
	for i := range 3 {
		deliver(t, s, []string{"alice"}, fmt.Sprintf("Subject: %d\r\n\r\nbody %d\r\n", i, i), "")
	}
	uidls, sizes, unlock, err := s.LockMaildrop(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(uidls) != 3 || len(sizes) != 3 {
		t.Fatalf("snapshot of 3 messages: %q %v", uidls, sizes)
	}
	seen := map[string]bool{}
	for _, u := range uidls {
		if !validUIDL(u) || seen[u] {
			t.Errorf("UIDL %q: not valid (RFC 1939 §7) or not unique", u)
		}
		seen[u] = true
	}
	// RFC 1939 §4: one session holds the maildrop.
	_, _, _, err = s.LockMaildrop(ctx, "alice")
	if !errors.Is(err, syscall.EBUSY) {
		t.Errorf("second lock: %v, want syscall.EBUSY", err)
	}
	notNetError(t, "second lock", err)
	// Delivery goes on under the lock; the snapshot does not change.
	deliver(t, s, []string{"alice"}, "Subject: 3\r\n\r\nlate\r\n", "")
	if _, err := s.OpenMaildropMessage(ctx, "alice", "no-such-uidl"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("unknown UIDL: %v, want fs.ErrNotExist", err)
	}
	r, err := s.OpenMaildropMessage(ctx, "alice", uidls[1])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	if c, ok := r.(io.Closer); ok {
		c.Close()
	}
	if string(b) != "Subject: 1\r\n\r\nbody 1\r\n" || int64(len(b)) != sizes[1] {
		t.Errorf("message 2: %q (listed %d octets)", b, sizes[1])
	}
	if err := s.DeleteMaildropMessages(ctx, "alice", uidls[:2]); err != nil {
		t.Fatal(err)
	}
	unlock()

	// The next session: the late message, the one not deleted, same UIDL.
	uidls2, _, unlock2, err := s.LockMaildrop(ctx, "alice")
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	defer unlock2()
	if len(uidls2) != 2 || uidls2[0] != uidls[2] || seen[uidls2[1]] {
		t.Errorf("after deleting 2 of 3 and one delivery: %q (before %q)", uidls2, uidls)
	}
	// UIDLs already gone are ignored.
	if err := s.DeleteMaildropMessages(ctx, "alice", uidls[:1]); err != nil {
		t.Errorf("deleting a gone message: %v", err)
	}
}

func testGone(t *testing.T, env Env) {
	s := env.New(t)
	env.AddUser(t, s, "alice")
	ctx := context.Background()
	deliver(t, s, []string{"alice"}, "Subject: a\r\n\r\na\r\n", "")
	deliver(t, s, []string{"alice"}, "Subject: b\r\n\r\nb\r\n", "")
	uidls, _, unlock, err := s.LockMaildrop(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	env.Expunge(t, s, "alice", uidls[0])
	if _, err := s.OpenMaildropMessage(ctx, "alice", uidls[0]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("expunged since the snapshot: %v, want fs.ErrNotExist", err)
	}
	if err := s.DeleteMaildropMessages(ctx, "alice", uidls); err != nil {
		t.Errorf("deleting a gone and a present message: %v", err)
	}
}

func testConcurrent(t *testing.T, env Env) {
	s := env.New(t)
	env.AddUser(t, s, "alice")
	env.AddUser(t, s, "bob")
	const workers, each = 8, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				body := fmt.Sprintf("Subject: %d.%d\r\n\r\nbody\r\n", w, i)
				res, err := s.DeliverMessage(context.Background(), []string{"alice", "bob"}, strings.NewReader(body), nil)
				if err != nil || res[0] != nil || res[1] != nil {
					t.Errorf("delivery %d.%d: %v %v", w, i, res, err)
				}
			}
		}()
	}
	wg.Wait()
	for _, u := range []string{"alice", "bob"} {
		got := inbox(t, s, u)
		if len(got) != workers*each {
			t.Errorf("%s has %d messages, want %d", u, len(got), workers*each)
		}
		distinct := map[string]bool{}
		for _, m := range got {
			distinct[m] = true
		}
		if len(distinct) != workers*each {
			t.Errorf("%s: %d distinct messages", u, len(distinct))
		}
	}
}
