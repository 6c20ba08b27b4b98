package maildir

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// recentIn opens INBOX read-write, as SELECT does, and returns the UIDs
// \Recent to that session.
func recentIn(t *testing.T, s *Store) []uint32 {
	t.Helper()
	mb := mustOpen(t, s, "INBOX")
	snap := mb.Snapshot()
	var out []uint32
	for _, uid := range snap.UIDs {
		if uid >= snap.RecentFrom {
			out = append(out, uid)
		}
	}
	return out
}

// TestRecentAcrossRestarts (RFC 3501 §2.3.2): a message delivered while
// no session was open is \Recent to the first session after a restart,
// and only to that one; a restart after that claim does not make it
// \Recent again.
func TestRecentAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s := openStore(t, root, nil)
	var uids []uint32
	for i := range 2 {
		uid, err := s.Deliver(ctx, "alice", strings.NewReader(body(i)))
		if err != nil {
			t.Fatal(err)
		}
		uids = append(uids, uid)
	}
	s.Close()

	s = openStore(t, root, nil)
	if got := recentIn(t, s); fmt.Sprint(got) != fmt.Sprint(uids) {
		t.Errorf("first session after the restart: recent %v, want %v", got, uids)
	}
	if got := recentIn(t, s); len(got) != 0 {
		t.Errorf("second session: recent %v, want none", got)
	}
	s.Close()

	s = openStore(t, root, nil)
	if got := recentIn(t, s); len(got) != 0 {
		t.Errorf("after another restart: recent %v, want none (claimed before)", got)
	}
	uid, err := s.Deliver(ctx, "alice", strings.NewReader(body(3)))
	if err != nil {
		t.Fatal(err)
	}
	// A session open during delivery is told (Poll) and claims it; the
	// claim outlives the restart.
	mb := mustOpen(t, s, "INBOX")
	uid2, _ := s.Deliver(ctx, "alice", strings.NewReader(body(4)))
	var polled []uint32
	for _, u := range mb.Poll() {
		if u.Recent {
			polled = append(polled, u.UID)
		}
	}
	if fmt.Sprint(polled) != fmt.Sprint([]uint32{uid2}) {
		t.Errorf("recent in the open session's poll %v, want [%d]", polled, uid2)
	}
	mb.Close()
	s.Close()

	s = openStore(t, root, nil)
	defer s.Close()
	// uid was claimed by the session opened after it (mustOpen).
	if got := recentIn(t, s); len(got) != 0 {
		t.Errorf("after the restart: recent %v, want none (%d and %d were claimed)", got, uid, uid2)
	}
	// EXAMINE claims nothing.
	uid3, _ := s.Deliver(ctx, "alice", strings.NewReader(body(5)))
	u, _ := s.User(ctx, "alice", nil)
	ro, err := u.OpenMailbox(ctx, "INBOX", true)
	if err != nil {
		t.Fatal(err)
	}
	if snap := ro.Snapshot(); snap.RecentFrom > uid3 {
		t.Errorf("EXAMINE: RecentFrom %d, want ≤ %d", snap.RecentFrom, uid3)
	}
	ro.Close()
	s.Close()
	s = openStore(t, root, nil)
	if got := recentIn(t, s); fmt.Sprint(got) != fmt.Sprint([]uint32{uid3}) {
		t.Errorf("after EXAMINE and a restart: recent %v, want [%d]", got, uid3)
	}
}
