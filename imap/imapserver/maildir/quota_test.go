package maildir

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// readLog is a file system that records which paths were read.
type readLog struct {
	fileSystem
	mu    sync.Mutex
	paths []string
}

func (r *readLog) note(p string) {
	r.mu.Lock()
	r.paths = append(r.paths, p)
	r.mu.Unlock()
}

func (r *readLog) ReadFile(name string) ([]byte, error) {
	r.note(name)
	return r.fileSystem.ReadFile(name)
}

func (r *readLog) ReadDir(name string) ([]fs.DirEntry, error) {
	r.note(name)
	return r.fileSystem.ReadDir(name)
}

func (r *readLog) OpenFile(name string, flag int, perm fs.FileMode) (file, error) {
	r.note(name)
	return r.fileSystem.OpenFile(name, flag, perm)
}

// under returns the recorded paths below dir.
func (r *readLog) under(dir string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, p := range r.paths {
		if strings.HasPrefix(p, dir+string(filepath.Separator)) {
			out = append(out, p)
		}
	}
	return out
}

// usage returns GETQUOTA's figures for alice: storage, messages.
func usage(t *testing.T, s *Store) (int64, int64) {
	t.Helper()
	u, err := s.User(context.Background(), "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := u.(imapserver.Quotaer).Quota(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var st, n int64 = -1, -1
	for _, r := range res {
		switch r.Name {
		case "STORAGE":
			st = r.Usage
		case "MESSAGE":
			n = r.Usage
		}
	}
	return st, n
}

// trueUsage counts every mailbox of alice by opening it.
func trueUsage(t *testing.T, s *Store) (int64, int64) {
	t.Helper()
	ctx := context.Background()
	u, err := s.User(ctx, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	infos, err := u.ListMailboxes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var st, n int64
	for _, info := range infos {
		mb, err := u.OpenMailbox(ctx, info.Name, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range messages(t, mb) {
			st += m.Size()
			n++
		}
		mb.Close()
	}
	return st, n
}

// TestQuotaUsagePersisted: after a restart, a delivery checks the quota
// without reading any other mailbox (posthorn-quota has their usage);
// a file another program put into a folder is counted; a lost or
// damaged posthorn-quota means a recount, not a wrong figure.
func TestQuotaUsagePersisted(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s := openStore(t, root, nil)
	for i := range 3 {
		if _, err := s.Deliver(ctx, "alice", strings.NewReader(body(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		if _, err := s.DeliverTo(ctx, "alice", "Archive", strings.NewReader(body(10+i)), []string{`\Seen`}, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetQuota("alice", 1<<20, 100); err != nil {
		t.Fatal(err)
	}
	wantSt, wantN := trueUsage(t, s)
	if st, n := usage(t, s); st != wantSt || n != wantN || n != 5 {
		t.Fatalf("usage %d/%d, counted %d/%d", st, n, wantSt, wantN)
	}
	s.Close()
	time.Sleep(10 * time.Millisecond)

	rl := &readLog{fileSystem: osFS{}}
	s, err := Open(root, &Options{fs: rl})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AddUser("alice", "secret"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Deliver(ctx, "alice", strings.NewReader(body(20))); err != nil {
		t.Fatal(err)
	}
	wantSt += int64(len(body(20)))
	wantN++
	if st, n := usage(t, s); st != wantSt || n != wantN {
		t.Errorf("usage after restart %d/%d, want %d/%d", st, n, wantSt, wantN)
	}
	for _, d := range []string{".Archive", ".Trash", ".Sent", ".Junk", ".Drafts"} {
		if got := rl.under(filepath.Join(root, "alice", d)); len(got) > 0 {
			t.Errorf("a delivery to INBOX after a restart read %s: %v", d, got)
		}
	}

	// Another program adds a message to a folder we have not loaded.
	other := "Subject: from elsewhere\n\nhi\n"
	os.WriteFile(filepath.Join(root, "alice", ".Archive", "new", "1700000000.other.host"), []byte(other), 0o600)
	wantSt += int64(len(toCRLF([]byte(other))))
	wantN++
	if st, n := usage(t, s); st != wantSt || n != wantN {
		t.Errorf("usage with another program's message %d/%d, want %d/%d", st, n, wantSt, wantN)
	}
	// ... and removes one from a folder we have loaded.
	ents, _ := os.ReadDir(filepath.Join(root, "alice", "new"))
	for _, e := range ents {
		fi, _ := e.Info()
		os.Remove(filepath.Join(root, "alice", "new", e.Name()))
		wantSt -= fi.Size() + int64(strings.Count(body(0), "\n")) // LF on disk, CRLF served
		wantN--
		break
	}
	if st, n := usage(t, s); n != wantN {
		t.Errorf("usage after another program's removal %d/%d, want %d messages", st, n, wantN)
	}
	if st, n := trueUsage(t, s); fmt.Sprint(usage(t, s)) != fmt.Sprint(st, n) {
		t.Errorf("usage %v, counted %d/%d", fmt.Sprint(usage(t, s)), st, n)
	}
	s.Close()

	// A damaged posthorn-quota: counted again.
	os.WriteFile(filepath.Join(root, "alice", quotaName), []byte(`{"Archive":{"size":1,"count":1,"cur":1,`), 0o600)
	s = openStore(t, root, nil)
	defer s.Close()
	st, n := usage(t, s)
	if wst, wn := trueUsage(t, s); st != wst || n != wn {
		t.Errorf("usage with a damaged posthorn-quota %d/%d, counted %d/%d", st, n, wst, wn)
	}
}

// TestQuotaUsagePowerCut: whatever a power cut keeps of deliveries,
// expunges and posthorn-quota, the usage after the reboot is what the
// mailboxes hold.
func TestQuotaUsagePowerCut(t *testing.T) {
	for seed := range 16 {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			ctx := context.Background()
			fsys := newPCFS(uint64(seed))
			opts := &Options{fs: fsys, Logger: slog.New(slog.DiscardHandler)}
			s, err := Open("/mail", opts)
			if err != nil {
				t.Fatal(err)
			}
			s.AddUser("alice", "pw")
			s.SetQuota("alice", 1<<20, 1000)
			for i := range 4 {
				s.Deliver(ctx, "alice", strings.NewReader(body(i)))
				s.DeliverTo(ctx, "alice", "Archive", strings.NewReader(body(100+i)), nil, time.Time{})
			}
			usage(t, s)
			s.Close()
			s, err = Open("/mail", opts)
			if err != nil {
				t.Fatal(err)
			}
			s.AddUser("alice", "pw")
			// Changes after the last clean close: a delivery (synced),
			// an expunge and a flag change (lazily synced).
			s.DeliverTo(ctx, "alice", "Archive", strings.NewReader(body(200)), nil, time.Time{})
			mb := mustOpen(t, s, "Archive")
			uids := mb.Snapshot().UIDs
			mb.SetFlags(ctx, uids[:1], imapserver.FlagsAdd, []string{`\Deleted`}, 0)
			mb.Expunge(ctx, uids[:1])
			s.Deliver(ctx, "alice", strings.NewReader(body(300)))
			usage(t, s)
			rebooted := fsys.Crash()
			s.Close()

			s, err = Open("/mail", &Options{fs: rebooted, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			s.AddUser("alice", "pw")
			st, n := usage(t, s)
			if wst, wn := trueUsage(t, s); st != wst || n != wn {
				t.Errorf("usage after the power cut %d/%d, the mailboxes hold %d/%d", st, n, wst, wn)
			}
		})
	}
}
