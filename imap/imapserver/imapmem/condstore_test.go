package imapmem

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// ChangedSince, checked against a scan of every message after random
// flag changes, expunges and appends, across the index's rebuilds (3000
// changes on about 50 messages rebuild it; RFC 7162 §3.1.4.1, §3.2.5.1).
func TestChangedSince(t *testing.T) {
	ctx := context.Background()
	_, u := newUser(t)
	for range 50 {
		appendMsg(t, u, "INBOX", testMsg)
	}
	mb, err := u.OpenMailbox(ctx, "INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	ci := mb.(imapserver.ChangeIndex)
	rng := rand.New(rand.NewPCG(1, 2))
	var marks []uint64
	for round := range 3000 {
		live, _ := mb.Messages(ctx, liveUIDs(u))
		switch k := rng.IntN(10); {
		case k < 7 && len(live) > 0:
			m := live[rng.IntN(len(live))]
			mb.SetFlags(ctx, []uint32{m.UID()}, imapserver.FlagOp(rng.IntN(3)), []string{"$a", `\Seen`}[rng.IntN(2):][:1], 0)
		case k < 9 && len(live) > 5:
			m := live[rng.IntN(len(live))]
			mb.SetFlags(ctx, []uint32{m.UID()}, imapserver.FlagsAdd, []string{`\Deleted`}, 0)
			mb.Expunge(ctx, []uint32{m.UID()})
		default:
			appendMsg(t, u, "INBOX", testMsg)
		}
		mb.Poll()
		st, _ := u.Status(ctx, "INBOX")
		marks = append(marks, st.HighestModSeq)
		if round%97 != 0 {
			continue
		}
		for _, since := range []uint64{0, marks[rng.IntN(len(marks))], st.HighestModSeq} {
			got, err := ci.ChangedSince(ctx, since)
			if err != nil {
				t.Fatal(err)
			}
			msgs, _ := mb.Messages(ctx, liveUIDs(u))
			var want []uint32
			for _, m := range msgs {
				if m.ModSeq() > since {
					want = append(want, m.UID())
				}
			}
			var g []uint32
			for _, m := range got {
				g = append(g, m.UID())
				if m.ModSeq() <= since {
					t.Fatalf("round %d: ChangedSince(%d) returned UID %d with MODSEQ %d", round, since, m.UID(), m.ModSeq())
				}
			}
			if !slices.Equal(g, want) {
				t.Fatalf("round %d: ChangedSince(%d) = %v, want %v", round, since, g, want)
			}
		}
	}
}

func liveUIDs(u imapserver.User) []uint32 {
	uu := u.(*userSession).u
	uu.mu.Lock()
	defer uu.mu.Unlock()
	var out []uint32
	for _, m := range uu.mailboxes["INBOX"].msgs {
		out = append(out, m.uid)
	}
	return out
}

// RFC 7162 §5.3: the expunge history is bounded; asking from before its
// start says so (ErrHistoryExpired), asking from within it still works.
func TestExpungeHistoryBound(t *testing.T) {
	ctx := context.Background()
	_, u := newUser(t)
	for range 40 {
		appendMsg(t, u, "INBOX", testMsg)
	}
	mb, err := u.OpenMailbox(ctx, "INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	h := mb.(*handle)
	h.u.mu.Lock()
	h.mb.changes.maxExpunged = 5
	h.u.mu.Unlock()
	st0, _ := u.Status(ctx, "INBOX")
	var marks []uint64
	for uid := uint32(1); uid <= 30; uid++ {
		mb.SetFlags(ctx, []uint32{uid}, imapserver.FlagsAdd, []string{`\Deleted`}, 0)
		mb.Expunge(ctx, []uint32{uid})
		st, _ := u.Status(ctx, "INBOX")
		marks = append(marks, st.HighestModSeq)
	}
	eh := mb.(imapserver.ExpungeHistory)
	if _, err := eh.ExpungedSince(ctx, st0.HighestModSeq); !errors.Is(err, imapserver.ErrHistoryExpired) {
		t.Errorf("from the start: %v, want ErrHistoryExpired", err)
	}
	got, err := eh.ExpungedSince(ctx, marks[26]) // after UID 27's expunge
	if err != nil || !slices.Equal(got, []uint32{28, 29, 30}) {
		t.Errorf("recent: %v, %v", got, err)
	}
	h.u.mu.Lock()
	n := len(h.mb.expunged)
	h.u.mu.Unlock()
	if n > 10 {
		t.Errorf("%d expunge records kept, bound 5 (trimmed at 10)", n)
	}
}
