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

// A STORE of system flags keeps the view (same UID array) with the
// unseen count and first unseen UID a full scan would give.
func TestViewKeptByStore(t *testing.T) {
	ctx := context.Background()
	_, u := newUser(t)
	for range 4 {
		appendMsg(t, u, "INBOX", testMsg)
	}
	h, err := u.OpenMailbox(ctx, "INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	base := h.Snapshot().UIDs
	steps := []struct {
		uids          []uint32
		op            imapserver.FlagOp
		flags         []string
		unseen, first uint32
		shared        bool
	}{
		{[]uint32{1}, imapserver.FlagsAdd, []string{`\Seen`}, 3, 2, true},
		{[]uint32{2, 3}, imapserver.FlagsAdd, []string{`\seen`, `\Flagged`}, 1, 4, true},
		{[]uint32{3}, imapserver.FlagsRemove, []string{`\Seen`}, 2, 3, true},
		{[]uint32{1, 2, 3, 4}, imapserver.FlagsAdd, []string{`\Seen`}, 0, 0, true},
		{[]uint32{1, 2, 3, 4}, imapserver.FlagsRemove, []string{`\Seen`}, 4, 1, true},
		{[]uint32{1}, imapserver.FlagsSet, []string{`\Seen`}, 3, 2, false},
		{[]uint32{2}, imapserver.FlagsAdd, []string{`\Seen`, "$Later"}, 2, 3, false},
	}
	for i, st := range steps {
		if _, err := h.SetFlags(ctx, st.uids, st.op, st.flags, 0); err != nil {
			t.Fatal(err)
		}
		o, err := u.OpenMailbox(ctx, "INBOX", true)
		if err != nil {
			t.Fatal(err)
		}
		snap := o.Snapshot()
		o.Close()
		if snap.Unseen != st.unseen || snap.FirstUnseen != st.first {
			t.Errorf("step %d: unseen %d first %d, want %d, %d", i, snap.Unseen, snap.FirstUnseen, st.unseen, st.first)
		}
		if shared := &snap.UIDs[0] == &base[0]; shared != st.shared {
			t.Errorf("step %d: UID array shared %v, want %v", i, shared, st.shared)
		}
		base = snap.UIDs
	}
}
