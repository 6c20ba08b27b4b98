package maildir

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
)

func openStore(t *testing.T, dir string, fsys fileSystem) *Store {
	t.Helper()
	s, err := Open(dir, &Options{fs: fsys})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser("alice", "secret"); err != nil {
		t.Fatal(err)
	}
	return s
}

func readAll(t *testing.T, m imapserver.Message) string {
	t.Helper()
	r, err := m.Open()
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(io.NewSectionReader(r, 0, 1<<30))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustOpen(t *testing.T, s *Store, name string) imapserver.Mailbox {
	t.Helper()
	u, err := s.User(context.Background(), "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := u.OpenMailbox(context.Background(), name, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mb.Close() })
	return mb
}

func messages(t *testing.T, mb imapserver.Mailbox) []imapserver.Message {
	t.Helper()
	ms, err := mb.Messages(context.Background(), mb.Snapshot().UIDs)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

const crlfMsg = "From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n"

// TestPersistAcrossReopen: messages, UIDs, flags, keywords past the 26
// letters, mod-sequences and the expunge history survive a restart.
func TestPersistAcrossReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir, nil)
	for i := 0; i < 3; i++ {
		if _, err := s.Deliver(ctx, "alice", strings.NewReader(crlfMsg)); err != nil {
			t.Fatal(err)
		}
	}
	u, _ := s.User(ctx, "alice", nil)
	bin := "binary\x00\nbare LF\rCR\r\n"
	res, err := u.Append(ctx, "Sent", strings.NewReader(bin), int64(len(bin)), imapserver.AppendOptions{Flags: []string{`\Seen`}, Binary: true})
	if err != nil || res.UID != 1 {
		t.Fatal(res, err)
	}
	mb := mustOpen(t, s, "INBOX")
	var kws []string
	for i := 0; i < 30; i++ {
		kws = append(kws, "kw"+string(rune('a'+i%26))+strings.Repeat("x", i/26))
	}
	if _, err := mb.SetFlags(ctx, []uint32{2}, imapserver.FlagsAdd, append([]string{`\Flagged`, `\Deleted`}, kws...), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := mb.SetFlags(ctx, []uint32{3}, imapserver.FlagsAdd, []string{`\Deleted`}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := mb.SetFlags(ctx, []uint32{2}, imapserver.FlagsRemove, []string{`\Deleted`}, 0); err != nil {
		t.Fatal(err)
	}
	if err := mb.Expunge(ctx, nil); err != nil {
		t.Fatal(err)
	}
	before := mb.(*handle).mb.modSeq
	mb.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openStore(t, dir, nil)
	mb2 := mustOpen(t, s2, "INBOX")
	snap := mb2.Snapshot()
	if !slices.Equal(snap.UIDs, []uint32{1, 2}) || snap.HighestModSeq != before {
		t.Fatalf("after reopen: UIDs %v modseq %d (want [1 2], %d)", snap.UIDs, snap.HighestModSeq, before)
	}
	ms := messages(t, mb2)
	if got := readAll(t, ms[0]); got != crlfMsg || ms[0].Size() != int64(len(crlfMsg)) {
		t.Fatalf("message 1: %q size %d", got, ms[0].Size())
	}
	for _, k := range append(kws, `\Flagged`) {
		if !hasFlag(ms[1].Flags(), k) {
			t.Errorf("flag %s lost: %v", k, ms[1].Flags())
		}
	}
	gone, err := mb2.(imapserver.ExpungeHistory).ExpungedSince(ctx, 1)
	if err != nil || !slices.Equal(gone, []uint32{3}) {
		t.Fatalf("expunge history %v %v", gone, err)
	}
	sent := mustOpen(t, s2, "Sent")
	sm := messages(t, sent)
	if len(sm) != 1 || readAll(t, sm[0]) != bin || !hasFlag(sm[0].Flags(), `\Seen`) {
		t.Fatalf("binary message not byte-exact: %q %v", readAll(t, sm[0]), sm[0].Flags())
	}
	// The LF file on disk has the size fields in its name.
	ents, _ := os.ReadDir(filepath.Join(dir, "alice", "new"))
	ents2, _ := os.ReadDir(filepath.Join(dir, "alice", "cur"))
	var names []string
	for _, e := range append(ents, ents2...) {
		names = append(names, e.Name())
	}
	if len(names) != 2 {
		t.Fatalf("files %v", names)
	}
	for _, n := range names {
		data, _ := os.ReadFile(filepath.Join(dir, "alice", map[bool]string{true: "cur", false: "new"}[strings.Contains(n, ":2,")], n))
		if strings.Contains(string(data), "\r") || !strings.Contains(n, ",S=") || !strings.Contains(n, ",W=") {
			t.Errorf("file %s: %q", n, data)
		}
	}
}

// TestOtherWriters: files added, removed and re-flagged by another
// program are noticed; existing UIDs stay.
func TestOtherWriters(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir, nil)
	for i := 0; i < 2; i++ {
		s.Deliver(ctx, "alice", strings.NewReader(crlfMsg))
	}
	mb := mustOpen(t, s, "INBOX")
	inbox := filepath.Join(dir, "alice")
	// Another delivery agent, with CRLF and no size fields.
	os.WriteFile(filepath.Join(inbox, "new", "1700000000.other.host"), []byte("Subject: x\r\n\r\nhi\r\n"), 0o600)
	// A shell user marks message 1 seen; removes message 2.
	ents, _ := os.ReadDir(filepath.Join(inbox, "new"))
	for _, e := range ents {
		if strings.Contains(e.Name(), "other") {
			continue
		}
		p := filepath.Join(inbox, "new", e.Name())
		if mb.(*handle).mb.msgs[0].base == e.Name() {
			os.Rename(p, filepath.Join(inbox, "cur", e.Name()+":2,S"))
		} else {
			os.Remove(p)
		}
	}
	time.Sleep(10 * time.Millisecond)
	mb.(*handle).lastScan = time.Time{}
	ups := mb.Poll()
	if len(ups) != 3 {
		t.Fatalf("updates %+v", ups)
	}
	mb2 := mustOpen(t, s, "INBOX")
	if uids := mb2.Snapshot().UIDs; !slices.Equal(uids, []uint32{1, 3}) {
		t.Fatalf("UIDs %v", uids)
	}
	ms := messages(t, mb2)
	if !hasFlag(ms[0].Flags(), `\Seen`) || readAll(t, ms[1]) != "Subject: x\r\n\r\nhi\r\n" || ms[1].Size() != 18 {
		t.Fatalf("flags %v, other %q", ms[0].Flags(), readAll(t, ms[1]))
	}
}

// TestExpungedStaysReadable: a session not yet told of an expunge can
// still read the message (RFC 2180 §4.1.1, issue 12), until it closes.
func TestExpungedStaysReadable(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), nil)
	s.Deliver(ctx, "alice", strings.NewReader(crlfMsg))
	a := mustOpen(t, s, "INBOX")
	b := mustOpen(t, s, "INBOX")
	mb := messages(t, b)
	a.SetFlags(ctx, []uint32{1}, imapserver.FlagsAdd, []string{`\Deleted`}, 0)
	a.Expunge(ctx, nil)
	a.Poll()
	if got := readAll(t, mb[0]); got != crlfMsg {
		t.Fatalf("not readable before b was told: %q", got)
	}
	var got imapserver.Message
	for _, u := range b.Poll() {
		if u.Kind == imapserver.UpdateExpunge {
			got = u.Message
		}
	}
	if got == nil || readAll(t, got) != crlfMsg {
		t.Fatal("the expunge update does not carry a readable message")
	}
	b.Close()
	if _, err := mb[0].Open(); err == nil {
		t.Fatal("file still there after every session closed")
	}
}

// TestReopenWithoutScan: a mailbox closed with its directories settled
// opens without listing them (an S record ends the index); messages are
// still found wherever they are, and a change by another program since
// is still noticed.
func TestReopenWithoutScan(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir, nil)
	s.Deliver(ctx, "alice", strings.NewReader(crlfMsg))
	s.Deliver(ctx, "alice", strings.NewReader(crlfMsg))
	mb := mustOpen(t, s, "INBOX")
	mb.SetFlags(ctx, []uint32{2}, imapserver.FlagsAdd, []string{`\Seen`}, 0)
	mb.SetFlags(ctx, []uint32{2}, imapserver.FlagsRemove, []string{`\Seen`}, 0) // now in cur with ":2,"
	mb.Close()
	s.now = func() time.Time { return time.Now().Add(time.Minute) }
	s.Close()
	data, _ := os.ReadFile(filepath.Join(dir, "alice", indexName))
	recs, _ := parseLog(data)
	if recs[len(recs)-1].kind != 'S' {
		t.Fatalf("index does not end with a stamp: %c", recs[len(recs)-1].kind)
	}
	s2 := openStore(t, dir, nil)
	ms := messages(t, mustOpen(t, s2, "INBOX"))
	if len(ms) != 2 || readAll(t, ms[0]) != crlfMsg || readAll(t, ms[1]) != crlfMsg {
		t.Fatalf("after a reopen without scan: %d messages", len(ms))
	}
	s2.now = func() time.Time { return time.Now().Add(time.Minute) }
	s2.Close()
	// Another program delivers: the directory's time changes.
	time.Sleep(20 * time.Millisecond)
	os.WriteFile(filepath.Join(dir, "alice", "new", "1.other"), []byte("Subject: x\n\ny\n"), 0o600)
	s3 := openStore(t, dir, nil)
	if uids := mustOpen(t, s3, "INBOX").Snapshot().UIDs; len(uids) != 3 {
		t.Fatalf("foreign delivery after the stamp not noticed: %v", uids)
	}
}

// TestIdleHearsOtherWriters: a session waiting in IDLE (SetNotify, no
// Poll) is woken when another program delivers into the folder.
func TestIdleHearsOtherWriters(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, nil)
	defer s.Close()
	mb := mustOpen(t, s, "INBOX")
	woke := make(chan struct{}, 1)
	mb.SetNotify(func() {
		select {
		case woke <- struct{}{}:
		default:
		}
	})
	time.Sleep(10 * time.Millisecond)
	os.WriteFile(filepath.Join(dir, "alice", "new", "1.other"), []byte("Subject: x\n\ny\n"), 0o600)
	select {
	case <-woke:
	case <-time.After(3 * watchInterval):
		t.Fatal("IDLE session not told of another program's delivery")
	}
	if ups := mb.Poll(); len(ups) != 1 || ups[0].Kind != imapserver.UpdateNew || !ups[0].Recent {
		t.Fatalf("updates %+v", ups)
	}
}
