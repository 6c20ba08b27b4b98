package imapmem

import (
	"context"
	"slices"
	"testing"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// Handles opened on an unchanged mailbox share one UID array (len ==
// cap, so an append copies); any change gives the next handle a new
// view, and the older snapshots stay as they were.
func TestViewShared(t *testing.T) {
	ctx := context.Background()
	_, u := newUser(t)
	appendMsg(t, u, "INBOX", testMsg)
	appendMsg(t, u, "INBOX", testMsg)
	open := func() imapserver.Snapshot {
		t.Helper()
		h, err := u.OpenMailbox(ctx, "INBOX", false)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		return h.Snapshot()
	}
	a, b := open(), open()
	if &a.UIDs[0] != &b.UIDs[0] || cap(a.UIDs) != len(a.UIDs) {
		t.Fatalf("UIDs not shared with len == cap: %p %p cap %d", a.UIDs, b.UIDs, cap(a.UIDs))
	}
	if a.Unseen != 2 || a.FirstUnseen != 1 {
		t.Errorf("unseen %d first %d, want 2, 1", a.Unseen, a.FirstUnseen)
	}
	// A flag change, an append and an expunge each make a new view.
	h, _ := u.OpenMailbox(ctx, "INBOX", false)
	defer h.Close()
	if _, err := h.SetFlags(ctx, []uint32{1}, imapserver.FlagsAdd, []string{`\Seen`, "$Work"}, 0); err != nil {
		t.Fatal(err)
	}
	c := open()
	if c.Unseen != 1 || c.FirstUnseen != 2 || !slices.Equal(c.Keywords, []string{"$Work"}) {
		t.Errorf("after STORE: unseen %d first %d keywords %q", c.Unseen, c.FirstUnseen, c.Keywords)
	}
	appendMsg(t, u, "INBOX", testMsg)
	if d := open(); !slices.Equal(d.UIDs, []uint32{1, 2, 3}) {
		t.Errorf("after APPEND: UIDs %v", d.UIDs)
	}
	if _, err := h.SetFlags(ctx, []uint32{2}, imapserver.FlagsAdd, []string{`\Deleted`}, 0); err != nil {
		t.Fatal(err)
	}
	if err := h.Expunge(ctx, []uint32{2}); err != nil {
		t.Fatal(err)
	}
	if e := open(); !slices.Equal(e.UIDs, []uint32{1, 3}) {
		t.Errorf("after EXPUNGE: UIDs %v", e.UIDs)
	}
	if !slices.Equal(a.UIDs, []uint32{1, 2}) || !slices.Equal(c.UIDs, []uint32{1, 2}) {
		t.Errorf("older snapshots changed: %v %v", a.UIDs, c.UIDs)
	}
}
