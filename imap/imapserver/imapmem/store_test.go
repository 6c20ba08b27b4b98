package imapmem

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/sasl"
)

const testMsg = "From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n"

func newUser(t *testing.T) (*Store, imapserver.User) {
	t.Helper()
	s := New()
	if err := s.AddUser("alice", "secret"); err != nil {
		t.Fatal(err)
	}
	u, err := s.User(context.Background(), "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, u
}

func appendMsg(t *testing.T, u imapserver.User, mbox, body string, flags ...string) imapserver.AppendResult {
	t.Helper()
	res, err := u.Append(context.Background(), mbox, strings.NewReader(body), int64(len(body)), imapserver.AppendOptions{Flags: flags})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestAuth(t *testing.T) {
	s, _ := newUser(t)
	ctx := context.Background()
	if err := s.VerifyPassword(ctx, "alice", "secret"); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]string{{"alice", "wrong"}, {"bob", "secret"}, {"alice", ""}} {
		err := s.VerifyPassword(ctx, c[0], c[1])
		if !errors.Is(err, imapserver.ErrAuthFailed) || !errors.Is(err, sasl.ErrAuthFailed) {
			t.Errorf("VerifyPassword(%q, %q) = %v", c[0], c[1], err)
		}
	}
	if err := s.AddUser("alice", "x"); !errors.Is(err, ErrUserExists) {
		t.Errorf("AddUser twice: %v", err)
	}
	k1, err := s.LookupSCRAM(ctx, "alice", sasl.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := s.LookupSCRAM(ctx, "alice", sasl.SHA256)
	if !bytes.Equal(k1.StoredKey, k2.StoredKey) || !bytes.Equal(k1.Salt, k2.Salt) {
		t.Error("SCRAM keys not stable")
	}
	want, _ := sasl.NewSCRAMKeys(sasl.SHA256, "secret", k1.Salt, k1.Iterations)
	if !bytes.Equal(want.StoredKey, k1.StoredKey) {
		t.Error("SCRAM keys do not match the password")
	}
	if err := s.AddUserSCRAM("carol", map[sasl.SCRAMHash]sasl.SCRAMKeys{sasl.SHA256: want}); err != nil {
		t.Fatal(err)
	}
	if err := s.VerifyPassword(ctx, "carol", ""); err == nil {
		t.Error("SCRAM-only user logged in with empty password")
	}
	if _, err := s.LookupSCRAM(ctx, "carol", sasl.SHA1); err == nil {
		t.Error("SCRAM-SHA-1 keys invented for a SCRAM-only user")
	}
}

func TestMailboxes(t *testing.T) {
	_, u := newUser(t)
	ctx := context.Background()
	list := func() string {
		infos, err := u.ListMailboxes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, i := range infos {
			fmt.Fprintf(&b, "%s%v", i.Name, i.SpecialUse)
			if i.NoSelect {
				b.WriteString("!")
			}
			if i.NonExistent {
				b.WriteString("?")
			}
			if i.Subscribed {
				b.WriteString("*")
			}
			b.WriteString(" ")
		}
		return b.String()
	}
	if got, want := list(), `Archive[\Archive]* Drafts[\Drafts]* INBOX[]* Junk[\Junk]* Sent[\Sent]* Trash[\Trash]* `; got != want {
		t.Fatalf("initial:\n got %s\nwant %s", got, want)
	}
	if err := u.CreateMailbox(ctx, "a/b/c", imapserver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := u.CreateMailbox(ctx, "a/b", imapserver.CreateOptions{}); !errors.Is(err, imapserver.ErrMailboxExists) {
		t.Errorf("create existing: %v", err)
	}
	if err := u.CreateMailbox(ctx, "x", imapserver.CreateOptions{SpecialUse: []string{`\Bogus`}}); !errors.Is(err, imapserver.ErrUnsupportedSpecialUse) {
		t.Errorf("create bogus use: %v", err)
	}
	appendMsg(t, u, "a/b", testMsg)
	if err := u.DeleteMailbox(ctx, "a/b"); err != nil { // has child: becomes \Noselect
		t.Fatal(err)
	}
	if err := u.DeleteMailbox(ctx, "a/b"); !errors.Is(err, imapserver.ErrMailboxHasChildren) {
		t.Errorf("delete noselect with children: %v", err)
	}
	if err := u.RenameMailbox(ctx, "a", "z/y"); err != nil {
		t.Fatal(err)
	}
	if err := u.Subscribe(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if got, want := list(), `Archive[\Archive]* Drafts[\Drafts]* INBOX[]* Junk[\Junk]* Sent[\Sent]* Trash[\Trash]* gone[]?* z[] z/y[] z/y/b[]! z/y/b/c[] `; got != want {
		t.Fatalf("after changes:\n got %s\nwant %s", got, want)
	}
	if err := u.DeleteMailbox(ctx, "inbox"); !errors.Is(err, imapserver.ErrCannotDelete) {
		t.Errorf("delete INBOX: %v", err)
	}
	// RFC 9051 §6.3.6: renaming INBOX moves its messages, INBOX stays.
	appendMsg(t, u, "INBOX", testMsg)
	if err := u.RenameMailbox(ctx, "Inbox", "old"); err != nil {
		t.Fatal(err)
	}
	st, _ := u.Status(ctx, "INBOX")
	st2, _ := u.Status(ctx, "old")
	if st.Messages != 0 || st2.Messages != 1 || st2.UIDNext != 2 {
		t.Errorf("after INBOX rename: INBOX %+v old %+v", st, st2)
	}
	if _, err := u.Status(ctx, "nope"); !errors.Is(err, imapserver.ErrNoSuchMailbox) {
		t.Errorf("status nope: %v", err)
	}
}

func TestHandleUpdates(t *testing.T) {
	_, u := newUser(t)
	ctx := context.Background()
	appendMsg(t, u, "INBOX", testMsg, `\seen`)
	appendMsg(t, u, "INBOX", "a\nb\n", "$Label")
	h1, err := u.OpenMailbox(ctx, "inbox", false)
	if err != nil {
		t.Fatal(err)
	}
	defer h1.Close()
	h2, _ := u.OpenMailbox(ctx, "INBOX", true)
	defer h2.Close()
	snap := h1.Snapshot()
	if fmt.Sprint(snap.UIDs, snap.UIDNext, snap.Unseen, snap.FirstUnseen, snap.Keywords, snap.HighestModSeq) != "[1 2] 3 1 2 [$Label] 3" {
		t.Fatalf("snapshot %+v", snap)
	}
	msgs, _ := h1.Messages(ctx, []uint32{1, 2, 7})
	if len(msgs) != 2 || msgs[1].Size() != 6 || fmt.Sprint(msgs[0].Flags()) != `[\Seen]` {
		t.Fatalf("messages %v", msgs)
	}
	r, _ := msgs[1].Open()
	b, _ := io.ReadAll(io.NewSectionReader(r, 0, msgs[1].Size()))
	if string(b) != "a\r\nb\r\n" {
		t.Errorf("stored %q, want CRLF", b)
	}

	res, err := h1.SetFlags(ctx, []uint32{1, 2}, imapserver.FlagsAdd, []string{`\Deleted`}, 0)
	if err != nil || len(res.Changed) != 2 || res.Changed[0].ModSeq != 4 {
		t.Fatalf("SetFlags %+v %v", res, err)
	}
	if _, err := h2.SetFlags(ctx, []uint32{1}, imapserver.FlagsAdd, []string{`\Seen`}, 0); !errors.Is(err, imapserver.ErrReadOnly) {
		t.Errorf("read-only STORE: %v", err)
	}
	// UNCHANGEDSINCE below the message's modseq: refused (RFC 7162 §3.1.3).
	res, _ = h1.SetFlags(ctx, []uint32{1}, imapserver.FlagsRemove, []string{`\Seen`}, 3)
	if fmt.Sprint(res.Modified) != "[1]" {
		t.Errorf("UNCHANGEDSINCE: %+v", res)
	}
	notified := false
	h2.SetNotify(func() { notified = true })
	if !notified {
		t.Error("no notification for pending updates")
	}
	if err := h1.Expunge(ctx, []uint32{2}); err != nil {
		t.Fatal(err)
	}
	fmtUpd := func(us []imapserver.Update) string {
		var b strings.Builder
		for _, u := range us {
			fmt.Fprintf(&b, "%d:%d:%v:%d:%v ", u.Kind, u.UID, u.Flags, u.ModSeq, u.Own)
		}
		return b.String()
	}
	want := `3:1:[\Seen \Deleted]:4:false 3:2:[$Label \Deleted]:4:false 2:2:[]:5:false `
	// Own flag changes are not echoed; own expunges are.
	if got := fmtUpd(h1.Poll()); got != "2:2:[]:5:true " {
		t.Errorf("h1 updates %s", got)
	}
	if got := fmtUpd(h2.Poll()); got != want {
		t.Errorf("h2 updates %s", got)
	}
	if got := h2.Poll(); got != nil {
		t.Errorf("second poll %v", got)
	}
	exp, _ := h1.(imapserver.ExpungeHistory).ExpungedSince(ctx, 4)
	if fmt.Sprint(exp) != "[2]" {
		t.Errorf("expunged since 4: %v", exp)
	}
	// MOVE: expunged here, new there.
	cr, err := h1.Move(ctx, []uint32{1}, "Trash")
	if err != nil || fmt.Sprint(cr.SourceUIDs, cr.DestUIDs) != "[1] [1]" {
		t.Fatalf("move %+v %v", cr, err)
	}
	if _, err := h1.Copy(ctx, []uint32{1}, "nope"); !errors.Is(err, imapserver.ErrNoSuchMailbox) {
		t.Errorf("copy to missing: %v", err)
	}
	st, _ := u.Status(ctx, "Trash")
	if st.Messages != 1 || st.Deleted != 1 {
		t.Errorf("trash %+v", st)
	}
	if got := fmtUpd(h2.Poll()); got != "2:1:[]:6:false " {
		t.Errorf("after move %s", got)
	}
	if err := u.DeleteMailbox(ctx, "Trash"); err != nil {
		t.Fatal(err)
	}
}

func TestQuota(t *testing.T) {
	s, u := newUser(t)
	ctx := context.Background()
	if err := s.SetQuota("alice", 100, 2); err != nil {
		t.Fatal(err)
	}
	appendMsg(t, u, "INBOX", testMsg)
	if _, err := u.Append(ctx, "INBOX", strings.NewReader(strings.Repeat("x", 80)), 80, imapserver.AppendOptions{}); !errors.Is(err, imapserver.ErrOverQuota) {
		t.Errorf("append over storage: %v", err)
	}
	if _, err := s.Deliver(ctx, "alice", strings.NewReader("x\r\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Deliver(ctx, "alice", strings.NewReader("y\r\n")); !errors.Is(err, imapserver.ErrOverQuota) {
		t.Errorf("deliver over count: %v", err)
	}
	h, _ := u.OpenMailbox(ctx, "INBOX", false)
	if _, err := h.Copy(ctx, []uint32{1}, "Sent"); !errors.Is(err, imapserver.ErrOverQuota) {
		t.Errorf("copy over quota: %v", err)
	}
	q, _ := u.(imapserver.Quotaer).Quota(ctx)
	if fmt.Sprint(q) != fmt.Sprintf("[{STORAGE %d 100} {MESSAGE 2 2}]", len(testMsg)+3) {
		t.Errorf("quota %v", q)
	}
	if _, err := s.Deliver(ctx, "nobody", strings.NewReader("x")); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("deliver to nobody: %v", err)
	}
}

func TestMaildrop(t *testing.T) {
	s, u := newUser(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := s.Deliver(ctx, "alice", strings.NewReader(fmt.Sprintf("Subject: %d\n\nbody\n", i))); err != nil {
			t.Fatal(err)
		}
	}
	h, _ := u.OpenMailbox(ctx, "INBOX", false)
	defer h.Close()
	uidls, sizes, unlock, err := s.LockMaildrop(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	// RFC 1939 §4: one session at a time; the error says [IN-USE].
	if _, _, _, err := s.LockMaildrop(ctx, "alice"); !errors.Is(err, ErrMaildropLocked) || !errors.Is(err, syscall.EBUSY) {
		t.Errorf("second lock: %v", err)
	}
	if len(uidls) != 3 || sizes[0] != 20 || !strings.HasSuffix(uidls[2], ".3") {
		t.Fatalf("maildrop %q %v", uidls, sizes)
	}
	// IMAP expunges message 2 meanwhile: POP3 still lists it, cannot open it.
	h.SetFlags(ctx, []uint32{2}, imapserver.FlagsAdd, []string{`\Deleted`}, 0)
	h.Expunge(ctx, nil)
	if _, err := s.OpenMaildropMessage(ctx, "alice", uidls[1]); !errors.Is(err, imapserver.ErrNoSuchMessage) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("open expunged: %v", err)
	}
	for _, bad := range []string{"", "1", "x.1", "1.1", uidls[0] + "0", "0." + uidls[0]} {
		if _, err := s.OpenMaildropMessage(ctx, "alice", bad); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("open %q: %v", bad, err)
		}
	}
	r, err := s.OpenMaildropMessage(ctx, "alice", uidls[0])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	if string(b) != "Subject: 0\r\n\r\nbody\r\n" {
		t.Errorf("RETR %q", b)
	}
	if err := s.DeleteMaildropMessages(ctx, "alice", uidls[:2]); err != nil {
		t.Fatal(err)
	}
	unlock()
	unlock() // a second call does nothing
	st, _ := u.Status(ctx, "INBOX")
	if st.Messages != 1 {
		t.Errorf("after POP3 delete %+v", st)
	}
	h.Poll()
	if err := s.DeleteMaildropMessages(ctx, "alice", uidls[2:]); err == nil {
		t.Error("delete without the lock succeeded")
	}
	if _, _, unlock, err := s.LockMaildrop(ctx, "alice"); err != nil {
		t.Errorf("relock: %v", err)
	} else {
		unlock()
	}
	if _, _, _, err := s.LockMaildrop(ctx, "nobody"); !errors.Is(err, ErrNoSuchUser) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lock of nobody: %v", err)
	}
}

// TestConcurrent runs appends, stores, copies, moves and expunges from
// several goroutines while handles poll; every handle's snapshot plus
// its updates must end equal to the mailbox's final state.
func TestConcurrent(t *testing.T) {
	_, u := newUser(t)
	ctx := context.Background()
	const workers, rounds = 6, 60
	type view struct {
		h    imapserver.Mailbox
		uids map[uint32]bool
	}
	var wg sync.WaitGroup
	views := make([]*view, workers)
	for w := range workers {
		h, err := u.OpenMailbox(ctx, "INBOX", false)
		if err != nil {
			t.Fatal(err)
		}
		v := &view{h: h, uids: map[uint32]bool{}}
		for _, uid := range h.Snapshot().UIDs {
			v.uids[uid] = true
		}
		views[w] = v
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				res := appendMsg(t, u, "INBOX", testMsg)
				switch i % 4 {
				case 1:
					h.SetFlags(ctx, []uint32{res.UID}, imapserver.FlagsAdd, []string{`\Deleted`}, 0)
				case 2:
					h.Copy(ctx, []uint32{res.UID}, "Sent")
				case 3:
					h.Move(ctx, []uint32{res.UID}, "Archive")
				}
				if i%10 == 0 {
					h.Expunge(ctx, nil)
				}
				var last uint64
				for _, up := range h.Poll() {
					if up.ModSeq < last {
						t.Errorf("modseq went down: %d after %d", up.ModSeq, last)
					}
					last = up.ModSeq
					switch up.Kind {
					case imapserver.UpdateNew:
						v.uids[up.UID] = true
					case imapserver.UpdateExpunge:
						if !v.uids[up.UID] {
							t.Errorf("expunge of unknown UID %d", up.UID)
						}
						delete(v.uids, up.UID)
					}
				}
			}
		}()
	}
	wg.Wait()
	final, _ := u.OpenMailbox(ctx, "INBOX", true)
	snap := final.Snapshot()
	for _, v := range views {
		for _, up := range v.h.Poll() {
			switch up.Kind {
			case imapserver.UpdateNew:
				v.uids[up.UID] = true
			case imapserver.UpdateExpunge:
				delete(v.uids, up.UID)
			}
		}
		if len(v.uids) != len(snap.UIDs) {
			t.Fatalf("view has %d messages, mailbox %d", len(v.uids), len(snap.UIDs))
		}
		for _, uid := range snap.UIDs {
			if !v.uids[uid] {
				t.Fatalf("view lacks UID %d", uid)
			}
		}
		v.h.Close()
	}
	st, _ := u.Status(ctx, "Archive")
	if st.Messages != workers*rounds/4 {
		t.Errorf("archive has %d", st.Messages)
	}
	_ = time.Now
}

// An expunge hands every handle the expunged message, still readable and
// with the flags it had, so that a session not told yet can go on
// serving it (RFC 2180 §4.1.1; imapserver.Mailbox); MOVE too.
func TestExpungeKeepsMessage(t *testing.T) {
	_, u := newUser(t)
	ctx := context.Background()
	appendMsg(t, u, "INBOX", testMsg, `\Deleted`, "$x")
	appendMsg(t, u, "INBOX", testMsg)
	h1, err := u.OpenMailbox(ctx, "INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	defer h1.Close()
	h2, err := u.OpenMailbox(ctx, "INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	if err := h1.Expunge(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h1.Move(ctx, []uint32{2}, "Trash"); err != nil {
		t.Fatal(err)
	}
	if msgs, _ := h2.Messages(ctx, []uint32{1, 2}); len(msgs) != 0 {
		t.Fatalf("Messages returned %d expunged messages", len(msgs))
	}
	var got []uint32
	for _, up := range h2.Poll() {
		if up.Kind != imapserver.UpdateExpunge {
			continue
		}
		m := up.Message
		if m == nil || m.UID() != up.UID {
			t.Fatalf("expunge of UID %d carries %v", up.UID, m)
		}
		ra, err := m.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(io.NewSectionReader(ra, 0, m.Size()))
		if err != nil || string(b) != testMsg {
			t.Errorf("UID %d reads %q, %v", m.UID(), b, err)
		}
		if up.UID == 1 && strings.Join(m.Flags(), " ") != `\Deleted $x` {
			t.Errorf("UID 1 flags %v", m.Flags())
		}
		got = append(got, up.UID)
	}
	if fmt.Sprint(got) != "[1 2]" {
		t.Errorf("expunges told: %v", got)
	}
}
