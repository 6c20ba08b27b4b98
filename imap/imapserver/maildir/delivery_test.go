package maildir

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/pop3/pop3server"
	"github.com/posthorn/posthorn/smtp/smtpserver"
)

var (
	_ smtpserver.DeliveryStore  = (*Store)(nil)
	_ pop3server.MaildropStore  = (*Store)(nil)
	_ imapserver.ModSeqKeeper   = (*Store)(nil)
	_ imapserver.MultiAppender  = (*userSession)(nil)
	_ imapserver.ExpungeHistory = (*handle)(nil)
)

func inbox(t *testing.T, s *Store, user string) []string {
	t.Helper()
	u, err := s.User(context.Background(), user, nil)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := u.OpenMailbox(context.Background(), "INBOX", true)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	var out []string
	for _, m := range messages(t, mb) {
		out = append(out, readAll(t, m))
	}
	return out
}

// DeliverMessage: the header given at commit comes first, results are
// per recipient and classified by standard errors, the same file is
// linked for every recipient, and a failing body delivers nothing.
func TestDeliverMessage(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		if err := s.AddUser(u, "pw"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetQuota("carol", 10, 0); err != nil {
		t.Fatal(err)
	}
	res, err := s.DeliverMessage(ctx, []string{"alice", "nobody", "carol", "bob"}, strings.NewReader("Subject: hi\n\nbody\r\n"), func() []byte {
		return []byte("Received: by test\r\n")
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0] != nil || res[3] != nil {
		t.Errorf("alice, bob: %v, %v", res[0], res[3])
	}
	if !errors.Is(res[1], fs.ErrNotExist) {
		t.Errorf("nobody: %v", res[1])
	}
	if !errors.Is(res[2], syscall.EDQUOT) {
		t.Errorf("carol: %v", res[2])
	}
	var ne net.Error
	if errors.As(res[2], &ne) || errors.As(res[1], &ne) || errors.As(ErrMaildropLocked, &ne) {
		t.Error("a store error is a net.Error")
	}
	want := "Received: by test\r\nSubject: hi\r\n\r\nbody\r\n"
	for _, u := range []string{"alice", "bob"} {
		if got := inbox(t, s, u); len(got) != 1 || got[0] != want {
			t.Errorf("%s: %q", u, got)
		}
	}
	if got := inbox(t, s, "carol"); len(got) != 0 {
		t.Errorf("carol over quota got %q", got)
	}
	// A body that fails delivers nothing.
	boom := errors.New("client vanished")
	if _, err := s.DeliverMessage(ctx, []string{"alice"}, io.MultiReader(strings.NewReader("Subject: x\r\n"), errReader{boom}), nil); !errors.Is(err, boom) {
		t.Errorf("failing body: %v", err)
	}
	if got := inbox(t, s, "alice"); len(got) != 1 {
		t.Errorf("after a failed body: %d messages", len(got))
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestMaildropLock: one POP3 lock per user; deletes are expunges IMAP sees.
func TestMaildropLock(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), nil)
	s.Deliver(ctx, "alice", strings.NewReader(crlfMsg))
	s.Deliver(ctx, "alice", strings.NewReader("Subject: two\n\nlf only\n"))
	uidls, sizes, unlock, err := s.LockMaildrop(ctx, "alice")
	if err != nil || len(uidls) != 2 || sizes[1] != int64(len("Subject: two\r\n\r\nlf only\r\n")) {
		t.Fatal(uidls, sizes, err)
	}
	if _, _, _, err := s.LockMaildrop(ctx, "alice"); !errors.Is(err, syscall.EBUSY) {
		t.Fatalf("second lock: %v", err)
	}
	r, err := s.OpenMaildropMessage(ctx, "alice", uidls[1])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	if string(b) != "Subject: two\r\n\r\nlf only\r\n" {
		t.Fatalf("RETR %q", b)
	}
	if err := s.DeleteMaildropMessages(ctx, "alice", uidls[:1]); err != nil {
		t.Fatal(err)
	}
	unlock()
	if _, err := s.OpenMaildropMessage(ctx, "alice", uidls[0]); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("deleted message: %v", err)
	}
	if got := inbox(t, s, "alice"); len(got) != 1 {
		t.Fatalf("INBOX after DELE: %d", len(got))
	}
}

// TestConcurrentDeliveries: many deliveries at once all land, with
// distinct UIDs, sharing fsyncs.
func TestConcurrentDeliveries(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir, nil)
	var wg sync.WaitGroup
	uids := make(chan uint32, 64)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			uid, err := s.Deliver(ctx, "alice", strings.NewReader(crlfMsg))
			if err != nil {
				t.Error(err)
			}
			uids <- uid
		}()
	}
	wg.Wait()
	close(uids)
	seen := map[uint32]bool{}
	for u := range uids {
		if seen[u] {
			t.Fatalf("UID %d twice", u)
		}
		seen[u] = true
	}
	s.Close()
	s2 := openStore(t, dir, nil)
	if got := inbox(t, s2, "alice"); len(got) != 64 {
		t.Fatalf("after reopen: %d messages", len(got))
	}
}

// countFS counts directory and file syncs on the real file system.
type countFS struct {
	osFS
	dirSyncs atomic.Int64
}

func (c *countFS) SyncDir(name string) error {
	c.dirSyncs.Add(1)
	return c.osFS.SyncDir(name)
}

// TestGroupCommit: concurrent deliveries share their directory (and
// index) fsyncs: 64 deliveries at once cost far fewer than 64.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	fsys := &countFS{}
	s := openStore(t, t.TempDir(), fsys)
	before := fsys.dirSyncs.Load()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if _, err := s.Deliver(ctx, "alice", strings.NewReader(crlfMsg)); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	n := fsys.dirSyncs.Load() - before
	t.Logf("64 concurrent deliveries: %d directory syncs", n)
	if n >= 64 {
		t.Fatalf("64 concurrent deliveries made %d directory syncs: no group commit", n)
	}
}
