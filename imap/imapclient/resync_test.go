package imapclient

import (
	"strings"
	"testing"

	"github.com/posthorn/posthorn/imap"
)

// testResync: remember a mailbox, let a second session flag one message,
// expunge another and append a third, then resync.
func testResync(t *testing.T, p peer, force ResyncMethod, want ResyncMethod) {
	c := login(t, p.addr, p.user, p.pass, nil)
	other := login(t, p.addr, p.user, p.pass, nil)
	ctx := testCtx(t)
	name := newMailbox(t, c, 4)
	first, err := c.Resync(ctx, name, ResyncState{}, force)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.New) != 4 || first.State.KnownUIDs.Count(0) != 4 {
		t.Fatalf("first sync %+v", first)
	}
	uids := []uint32{first.New[0].UID, first.New[1].UID, first.New[2].UID}
	if err := c.Unselect(ctx); err != nil {
		t.Fatal(err)
	}

	if _, err := other.Select(ctx, name, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := other.UIDStore(ctx, imap.NumSetOf(uids[1]), StoreFlags{Op: StoreAdd, Flags: []imap.Flag{imap.FlagFlagged}}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.UIDStore(ctx, imap.NumSetOf(uids[2]), StoreFlags{Op: StoreAdd, Flags: []imap.Flag{imap.FlagDeleted}}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.UIDExpunge(ctx, imap.UIDSet{NumSet: imap.NumSetOf(uids[2])}); err != nil {
		t.Fatal(err)
	}
	m := msg("later", "later")
	if _, err := other.Append(ctx, name, int64(len(m)), strings.NewReader(m), nil); err != nil {
		t.Fatal(err)
	}

	res, err := c.Resync(ctx, name, first.State, force)
	if err != nil {
		t.Fatal(err)
	}
	if res.Method != want {
		t.Errorf("method %s, want %s", res.Method, want)
	}
	if res.UIDValidityChanged || len(res.New) != 1 || !res.Vanished.Contains(uids[2], 0) || res.Vanished.Count(0) != 1 {
		t.Fatalf("resync %+v (vanished %v)", res, res.Vanished)
	}
	flagged := false
	for _, m := range res.Changed {
		if m.UID == uids[1] && imap.HasFlag(m.Flags, imap.FlagFlagged) {
			flagged = true
		}
		if m.UID == uids[0] && want != ResyncFull {
			t.Errorf("unchanged UID %d reported with %s", m.UID, want)
		}
	}
	if !flagged {
		t.Fatalf("flag change not reported: %+v", res.Changed)
	}
	if res.State.KnownUIDs.Count(0) != 4 {
		t.Fatalf("new state %v", res.State.KnownUIDs)
	}
	if want != ResyncFull && res.State.HighestModSeq <= first.State.HighestModSeq {
		t.Fatalf("modseq %d -> %d", first.State.HighestModSeq, res.State.HighestModSeq)
	}
}

func TestResyncDovecot(t *testing.T) {
	d := sharedDovecot(t)
	p := peer{addr: d.IMAP, user: "bob", pass: "bobpw"}
	t.Run("QRESYNC", func(t *testing.T) { testResync(t, p, "", ResyncQResync) })
	t.Run("CONDSTORE", func(t *testing.T) { testResync(t, p, ResyncCondStore, ResyncCondStore) })
	t.Run("FULL", func(t *testing.T) { testResync(t, p, ResyncFull, ResyncFull) })
}

func TestResyncOurServer(t *testing.T) {
	s := startServer(t)
	p := peer{addr: s.addr, user: "alice", pass: "alicepw"}
	c := login(t, p.addr, p.user, p.pass, nil)
	ctx := testCtx(t)
	for _, m := range []ResyncMethod{ResyncQResync, ResyncCondStore} {
		if !c.Has(ctx, string(m)) {
			t.Logf("our server does not offer %s", m)
			continue
		}
		t.Run(string(m), func(t *testing.T) { testResync(t, p, m, m) })
	}
	t.Run("FULL", func(t *testing.T) { testResync(t, p, ResyncFull, ResyncFull) })
}

// RFC 4978: after COMPRESS DEFLATE every command still works, including
// literals both ways.
func TestDovecotCompress(t *testing.T) {
	d := sharedDovecot(t)
	c := login(t, d.IMAP, "bob", "bobpw", nil)
	ctx := testCtx(t)
	if err := c.Compress(ctx); err != nil {
		t.Fatal(err)
	}
	name := newMailbox(t, c, 3)
	body := strings.Repeat("compressible line\r\n", 5000)
	m := msg("big", body)
	if _, err := c.Append(ctx, name, int64(len(m)), strings.NewReader(m), nil); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(ctx, imap.NumSetOf(4), []imap.FetchAtt{{Item: imap.FetchBodySection, Section: &imap.FetchSection{Peek: true}}}, nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || string(msgs[0].BodySections[0].Bytes) != m {
		t.Fatal("body differs after COMPRESS")
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatalf("NOOP: %v (connection: %v)", err, c.Err())
	}
	if err := c.Logout(ctx); err != nil {
		t.Fatalf("LOGOUT: %v (connection: %v)", err, c.Err())
	}
}
