package maildir

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testpeer"
)

// TestPOPDotlock: LockMaildrop holds Dovecot's session dotlock in the
// user's directory while the session lasts; a lock another live process
// holds is refused after the wait, a lock left by a dead process or
// untouched for five minutes is taken over.
func TestPOPDotlock(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s, err := Open(root, &Options{MaildropLockWait: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AddUser("alice", "pw"); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(root, "alice", popLockName)

	_, _, unlock, err := s.LockMaildrop(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(lock)
	if want := strconv.Itoa(os.Getpid()) + ":" + s.lockHost; err != nil || string(data) != want {
		t.Fatalf("lock file %q (%v), want %q", data, err, want)
	}
	unlock()
	unlock()
	if _, err := os.Stat(lock); !os.IsNotExist(err) {
		t.Fatalf("lock file after unlock: %v", err)
	}

	// Held by a live process of this host (pid 1 always runs).
	os.WriteFile(lock, []byte("1:"+s.lockHost), 0o600)
	start := time.Now()
	if _, _, _, err := s.LockMaildrop(ctx, "alice"); !errors.Is(err, syscall.EBUSY) {
		t.Fatalf("lock held by pid 1: %v", err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("gave up after %v without waiting", d)
	}
	// The in-process lock is free again after the refusal.
	if data, _ := os.ReadFile(lock); string(data) != "1:"+s.lockHost {
		t.Fatalf("someone else's lock was touched: %q", data)
	}
	// Held by a process on another host: not ours to judge, refused.
	os.WriteFile(lock, []byte("1234567:elsewhere"), 0o600)
	if _, _, _, err := s.LockMaildrop(ctx, "alice"); !errors.Is(err, syscall.EBUSY) {
		t.Fatalf("lock of another host: %v", err)
	}
	// ... unless untouched for longer than the stale timeout.
	old := time.Now().Add(-popLockStale - time.Minute)
	os.Chtimes(lock, old, old)
	_, _, unlock, err = s.LockMaildrop(ctx, "alice")
	if err != nil {
		t.Fatalf("stale lock not taken over: %v", err)
	}
	unlock()
	// Left by a process that is gone.
	dead := deadPID(t)
	os.WriteFile(lock, []byte(strconv.Itoa(dead)+":"+s.lockHost), 0o600)
	_, _, unlock, err = s.LockMaildrop(ctx, "alice")
	if err != nil {
		t.Fatalf("lock of dead pid %d not taken over: %v", dead, err)
	}
	unlock()
	// A lock taken over by someone else meanwhile is left alone.
	_, _, unlock, err = s.LockMaildrop(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(lock+".new", []byte("1:"+s.lockHost), 0o600)
	os.Rename(lock+".new", lock)
	unlock()
	if data, _ := os.ReadFile(lock); string(data) != "1:"+s.lockHost {
		t.Fatalf("unlock removed another session's lock (%q)", data)
	}
}

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Skip("cannot run /bin/true:", err)
	}
	p.Wait()
	return p.Pid
}

// compatDovecot starts a Dovecot configured as the store's layout
// expects from another server on the same tree: IMAP separator "/" with
// the listescape plugin, and the POP3 session lock on.
func compatDovecot(t *testing.T) *testpeer.Dovecot {
	return testpeer.StartDovecot(t, testpeer.DovecotOptions{ExtraConfig: `pop3_lock_session = yes
protocol imap {
  mail_plugins = $mail_plugins listescape
}
protocol pop3 {
  mail_plugins = $mail_plugins listescape
}
protocol lmtp {
  mail_plugins = $mail_plugins listescape
}
namespace inbox {
  separator = /
}
`})
}

// sharedTree opens a store on Dovecot's Maildir for alice.
func sharedTree(t *testing.T, d *testpeer.Dovecot, opts *Options) (*Store, string) {
	dovecotLogOnFailure(t, d)
	root := t.TempDir()
	maildir := filepath.Join(d.Dir, "mail", "alice", "Maildir")
	os.MkdirAll(filepath.Join(maildir, "cur"), 0o700)
	os.MkdirAll(filepath.Join(maildir, "new"), 0o700)
	os.MkdirAll(filepath.Join(maildir, "tmp"), 0o700)
	if err := os.Symlink(maildir, filepath.Join(root, "alice")); err != nil {
		t.Fatal(err)
	}
	s, err := Open(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.AddUser("alice", "alicepw"); err != nil {
		t.Fatal(err)
	}
	giveToDovecot(t, d, maildir)
	return s, maildir
}

// giveToDovecot hands what we wrote to the user Dovecot's mail processes
// run as (nobody when the tests run as root): the Maildir and the home
// above it, which sharedTree creates when no Dovecot login made it
// (dovecot.sh's start check logs in one user only).
func giveToDovecot(t *testing.T, d *testpeer.Dovecot, maildir string) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(d.Dir, "mail"), &st); err != nil {
		t.Fatal(err)
	}
	home := filepath.Dir(maildir)
	err := filepath.Walk(home, func(p string, _ os.FileInfo, err error) error {
		if err == nil {
			err = os.Lchown(p, int(st.Uid), int(st.Gid))
		}
		if errors.Is(err, fs.ErrNotExist) && p != home {
			return nil // a temporary file, gone meanwhile
		}
		return err
	})
	if err != nil {
		t.Fatalf("handing %s to Dovecot's user: %v", home, err)
	}
}

// dovecotLogOnFailure logs Dovecot's log and who owns what under its
// mail folder when the test fails: a refusal by Dovecot's mail process
// is explained there, not in the protocol reply.
func dovecotLogOnFailure(t *testing.T, d *testpeer.Dovecot) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		log, _ := os.ReadFile(d.LogFile)
		t.Logf("Dovecot's log:\n%s", log)
		filepath.Walk(filepath.Join(d.Dir, "mail"), func(p string, fi os.FileInfo, err error) error {
			if err == nil {
				st := fi.Sys().(*syscall.Stat_t)
				t.Logf("%v %d:%d %s", fi.Mode(), st.Uid, st.Gid, p)
			}
			return nil
		})
	})
}

// dovecotPOPLogin logs in to Dovecot's POP3 as alice and returns the
// answer to PASS and the connection (still open on success).
func dovecotPOPLogin(t *testing.T, d *testpeer.Dovecot) (string, *line) {
	l := dialLine(t, d.POP3)
	l.c.SetDeadline(time.Now().Add(30 * time.Second))
	l.send("USER alice")
	if s := l.read(); !strings.HasPrefix(s, "+OK") {
		t.Fatalf("USER: %s", s)
	}
	l.send("PASS alicepw")
	return l.read(), l
}

// TestPOPLockDovecot: while our POP3 session holds alice's maildrop,
// Dovecot's POP3 (pop3_lock_session = yes) refuses her login with
// [IN-USE], as it refuses a second session of its own; while Dovecot's
// session holds it, LockMaildrop is refused; each gets it once the
// other lets go (RFC 1939 §8).
func TestPOPLockDovecot(t *testing.T) {
	d := compatDovecot(t)
	ctx := context.Background()
	s, maildir := sharedTree(t, d, &Options{MaildropLockWait: 300 * time.Millisecond})

	_, _, unlock, err := s.LockMaildrop(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	// Dovecot's mail process (nobody when run as root) reads the lock.
	giveToDovecot(t, d, maildir)
	reply, _ := dovecotPOPLogin(t, d) // Dovecot waits 10 s for the lock
	if !strings.HasPrefix(reply, "-ERR [IN-USE]") {
		t.Errorf("Dovecot's POP3 login while we hold the maildrop: %q", reply)
	}
	unlock()
	reply, l := dovecotPOPLogin(t, d)
	if !strings.HasPrefix(reply, "+OK") {
		t.Fatalf("Dovecot's POP3 login after our unlock: %q", reply)
	}
	if _, _, _, err := s.LockMaildrop(ctx, "alice"); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("LockMaildrop while Dovecot's session holds the maildrop: %v", err)
	}
	l.send("QUIT")
	l.read()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, unlock, err = s.LockMaildrop(ctx, "alice")
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("LockMaildrop after Dovecot's QUIT: %v", err)
	}
	unlock()
}
