package maildir

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// TestPowerCut delivers, appends, copies, flags and expunges from
// several goroutines on the power-cut file system, cuts the power at a
// random moment, reboots and reopens the store: every acknowledged
// delivery is there exactly once with the UID it was given, every
// message there is whole (one of those sent, byte for byte), and a POP3
// deletion acknowledged stays deleted. Run with many seeds.
func TestPowerCut(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 8
	}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { powerCutOnce(t, uint64(seed)) })
	}
}

func body(n int) string {
	return fmt.Sprintf("Message-ID: <%d@test>\r\nSubject: m%d\r\n\r\n%s\r\n", n, n, strings.Repeat("line\r\n", n%7))
}

func powerCutOnce(t *testing.T, seed uint64) {
	ctx := context.Background()
	fsys := newPCFS(seed)
	s, err := Open("/mail", &Options{fs: fsys, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser("alice", "pw"); err != nil {
		t.Fatal(err)
	}

	type ack struct {
		uid  uint32
		body string
	}
	var mu sync.Mutex
	acked := map[string]ack{}       // Message-ID -> delivery acknowledged in INBOX
	deleted := map[uint32]bool{}    // POP3 deletions acknowledged
	deletedIDs := map[string]bool{} // and their Message-IDs
	// A deletion that failed because the power went may still have
	// reached the disk (another session's fsync took it along).
	triedIDs := map[string]bool{}
	var next atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				n := int(next.Add(1))
				b := body(n)
				switch g {
				case 0, 1, 2:
					uid, err := s.Deliver(ctx, "alice", strings.NewReader(b))
					if err == nil {
						mu.Lock()
						acked[fmt.Sprint(n)] = ack{uid, b}
						mu.Unlock()
					}
				case 3:
					// IMAP work: flags, copies, expunges in Trash.
					u, err := s.User(ctx, "alice", nil)
					if err != nil {
						return
					}
					u.Append(ctx, "Trash", strings.NewReader(b), int64(len(b)), imapserver.AppendOptions{Flags: []string{`\Seen`, "$k" + fmt.Sprint(i%30)}})
					mb, err := u.OpenMailbox(ctx, "INBOX", false)
					if err != nil {
						return
					}
					uids := mb.Snapshot().UIDs
					if len(uids) > 0 {
						// Summaries computed on first use: cache and
						// index records written around the cut.
						if ms, err := mb.Messages(ctx, uids[len(uids)/3:]); err == nil {
							for _, m := range ms {
								m.(imapserver.Summarizer).Summary()
							}
						}
						mb.SetFlags(ctx, uids[len(uids)/2:], imapserver.FlagsAdd, []string{`\Flagged`, "kw" + fmt.Sprint(i%40)}, 0)
						mb.Copy(ctx, uids[:1], "Trash")
					}
					mb.Close()
					tr, err := u.OpenMailbox(ctx, "Trash", false)
					if err != nil {
						return
					}
					if tu := tr.Snapshot().UIDs; len(tu) > 3 {
						tr.SetFlags(ctx, tu[:2], imapserver.FlagsAdd, []string{`\Deleted`}, 0)
						tr.Expunge(ctx, nil)
					}
					tr.Close()
				case 4:
					// POP3 deletes the oldest message now and then.
					uidls, _, unlock, err := s.LockMaildrop(ctx, "alice")
					if err != nil {
						continue
					}
					if len(uidls) > 5 {
						var v, uid uint32
						var n int
						fmt.Sscanf(uidls[0], "%d.%d", &v, &uid)
						if r, err := s.OpenMaildropMessage(ctx, "alice", uidls[0]); err == nil {
							b, _ := io.ReadAll(r)
							fmt.Sscanf(string(b), "Message-ID: <%d@test>", &n)
						}
						mu.Lock()
						triedIDs[fmt.Sprint(n)] = true
						mu.Unlock()
						if err := s.DeleteMaildropMessages(ctx, "alice", uidls[:1]); err == nil {
							mu.Lock()
							deleted[uid] = true
							deletedIDs[fmt.Sprint(n)] = true
							mu.Unlock()
						}
					}
					unlock()
				case 5:
					// Multi-recipient delivery, with a header at commit.
					res, err := s.DeliverMessage(ctx, []string{"alice"}, strings.NewReader(b[strings.Index(b, "Subject"):]), func() []byte {
						return []byte(b[:strings.Index(b, "Subject")])
					})
					if err == nil && res[0] == nil {
						mu.Lock()
						acked[fmt.Sprint(n)] = ack{0, b}
						mu.Unlock()
					}
				}
			}
		}(g)
	}
	// Let some work happen, then cut the power.
	for next.Load() < int64(20+seed%40) {
		if t.Failed() {
			break
		}
		time.Sleep(time.Millisecond)
	}
	rebooted := fsys.Crash()
	close(stop)
	wg.Wait()

	s2, err := Open("/mail", &Options{fs: rebooted, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.AddUser("alice", "pw"); err != nil {
		t.Fatalf("reopening after the power cut: %v", err)
	}
	u, err := s2.User(ctx, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := u.OpenMailbox(ctx, "INBOX", true)
	if err != nil {
		t.Fatalf("INBOX after the power cut: %v", err)
	}
	ms, err := mb.Messages(ctx, mb.Snapshot().UIDs)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]int{}
	byUID := map[uint32]string{}
	for _, m := range ms {
		got := readAll(t, m)
		var n int
		if _, err := fmt.Sscanf(got, "Message-ID: <%d@test>", &n); err != nil || got != body(n) {
			t.Errorf("UID %d is not a whole message: %q", m.UID(), got)
			continue
		}
		found[fmt.Sprint(n)]++
		byUID[m.UID()] = fmt.Sprint(n)
	}
	mu.Lock()
	defer mu.Unlock()
	for id, a := range acked {
		if deletedIDs[id] {
			if found[id] != 0 {
				t.Errorf("message %s deleted over POP3 is back (UIDs %v, deleted %v)", id, byUID, deleted)
			}
			continue
		}
		if found[id] != 1 && !(found[id] == 0 && triedIDs[id]) {
			t.Errorf("acknowledged message %s (UID %d) found %d times; INBOX %v", id, a.uid, found[id], byUID)
		}
		if a.uid != 0 && found[id] == 1 && byUID[a.uid] != id {
			t.Errorf("message %s had UID %d, now UID %d holds %q", id, a.uid, a.uid, byUID[a.uid])
		}
	}
	for uid := range deleted {
		if _, ok := byUID[uid]; ok {
			t.Errorf("UID %d deleted over POP3 is back", uid)
		}
	}
	// Trash opens too, and the index reopens a second time unchanged.
	tr, err := u.OpenMailbox(ctx, "Trash", true)
	if err != nil {
		t.Fatalf("Trash after the power cut: %v", err)
	}
	// Every summary the caches give is the message's own.
	trms, err := tr.Messages(ctx, tr.Snapshot().UIDs)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range append(ms, trms...) {
		r, err := m.Open()
		if err != nil {
			t.Fatal(err)
		}
		want, _ := imapserver.Summarize(nil, r, m.Size())
		if got := m.(imapserver.Summarizer).Summary(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("UID %d: summary after the power cut %+v, message says %+v", m.UID(), got, want)
		}
	}
	mb.Close()
}
