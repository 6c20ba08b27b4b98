package imapmem

import (
	"context"
	"testing"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// TestRecentClaim: RFC 3501 §2.3.2 — the store gives each message's
// \Recent to exactly one read-write handle: the first to open the
// mailbox or to poll the new message. Read-only handles only look.
func TestRecentClaim(t *testing.T) {
	ctx := context.Background()
	_, u := newUser(t)
	appendMsg(t, u, "INBOX", testMsg)
	appendMsg(t, u, "INBOX", testMsg)
	if st, _ := u.Status(ctx, "INBOX"); st.Recent != 2 {
		t.Fatalf("STATUS RECENT %d, want 2", st.Recent)
	}
	ro, _ := u.OpenMailbox(ctx, "INBOX", true)
	defer ro.Close()
	if got := ro.Snapshot().RecentFrom; got != 1 {
		t.Errorf("read-only RecentFrom %d, want 1", got)
	}
	rw1, _ := u.OpenMailbox(ctx, "INBOX", false)
	defer rw1.Close()
	rw2, _ := u.OpenMailbox(ctx, "INBOX", false)
	defer rw2.Close()
	if a, b := rw1.Snapshot().RecentFrom, rw2.Snapshot().RecentFrom; a != 1 || b != 3 {
		t.Errorf("RecentFrom %d, %d; want 1 (claims 1:2), 3 (none)", a, b)
	}
	if st, _ := u.Status(ctx, "INBOX"); st.Recent != 0 {
		t.Errorf("STATUS RECENT %d after SELECT, want 0", st.Recent)
	}
	appendMsg(t, u, "INBOX", testMsg) // UID 3
	recent := func(h imapserver.Mailbox) (n int) {
		for _, up := range h.Poll() {
			if up.Kind == imapserver.UpdateNew && up.Recent {
				n++
			}
		}
		return n
	}
	if n := recent(ro); n != 1 {
		t.Errorf("read-only sees %d recent, want 1 (unclaimed)", n)
	}
	if n := recent(rw2); n != 1 {
		t.Errorf("first poller claims %d, want 1", n)
	}
	if n := recent(rw1); n != 0 {
		t.Errorf("second poller got %d recent, want 0", n)
	}
}
