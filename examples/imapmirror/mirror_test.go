package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/imapclient"
	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
	"github.com/posthorn/posthorn/internal/testpeer"
)

func TestInfoSuffix(t *testing.T) {
	for _, tc := range []struct {
		flags []imap.Flag
		want  string
	}{
		{nil, ":2,"},
		{[]imap.Flag{imap.FlagSeen}, ":2,S"},
		{[]imap.Flag{`\SEEN`, imap.FlagAnswered, imap.FlagFlagged, "$Forwarded", imap.FlagDraft, imap.FlagDeleted}, ":2,DFPRST"},
		{[]imap.Flag{"$Label1", imap.FlagSeen, imap.FlagSeen}, ":2,S"},
	} {
		if got := infoSuffix(tc.flags); got != tc.want {
			t.Errorf("infoSuffix(%v) = %q, want %q", tc.flags, got, tc.want)
		}
	}
}

var boxSeq atomic.Int64

type server struct {
	name, addr, user, pass string
}

func ourServer(t *testing.T) server {
	store := imapmem.New()
	if err := store.AddUser("alice", "alicepw"); err != nil {
		t.Fatal(err)
	}
	srv := &imapserver.Server{Backend: store, AllowInsecureAuth: true}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return server{"posthorn", ln.Addr().String(), "alice", "alicepw"}
}

func TestMirrorOurServer(t *testing.T) { testMirror(t, ourServer(t)) }

func TestMirrorDovecot(t *testing.T) {
	d := testpeer.StartDovecot(t, testpeer.DovecotOptions{})
	testMirror(t, server{"dovecot", d.IMAP, "alice", "alicepw"})
}

func message(n int) string {
	return fmt.Sprintf("From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: message %d\r\n"+
		"Date: Mon, 2 Jan 2006 15:04:05 +0000\r\nMessage-ID: <m%d@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n"+
		"Content-Transfer-Encoding: 8bit\r\n\r\nGrüße, message %d\r\n%s", n, n, n, strings.Repeat("a line of text\r\n", 100*n))
}

// testMirror: a first run copies the mailbox; after a new message, flag
// changes and an expunge on the server a second run reproduces the
// server's state and transfers only the new message; a new UIDVALIDITY
// makes the mirror start over.
func testMirror(t *testing.T, srv server) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	admin, err := imapclient.Dial(ctx, srv.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.Login(ctx, srv.user, srv.pass); err != nil {
		t.Fatal(err)
	}
	mailbox := fmt.Sprintf("Mirror%d", boxSeq.Add(1))
	if err := admin.Create(ctx, mailbox); err != nil {
		t.Fatal(err)
	}
	appendMsg := func(n int, flags ...imap.Flag) uint32 {
		t.Helper()
		m := message(n)
		ad, err := admin.Append(ctx, mailbox, int64(len(m)), strings.NewReader(m), &imapclient.AppendOptions{Flags: flags})
		if err != nil {
			t.Fatal(err)
		}
		return ad.UID
	}
	u1 := appendMsg(1, imap.FlagSeen)
	u2 := appendMsg(2, imap.FlagFlagged, imap.FlagAnswered)
	u3 := appendMsg(3)
	dir := filepath.Join(t.TempDir(), "Maildir")
	mirrorRun := func() stats {
		t.Helper()
		s, err := run(ctx, srv.addr, "none", srv.user, srv.pass, mailbox, dir, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s", srv.name, s)
		checkMirror(t, ctx, admin, mailbox, dir)
		return s
	}

	if s := mirrorRun(); s.Downloaded != 3 || s.Method != imapclient.ResyncFull {
		t.Fatalf("first run: %s", s)
	}

	// Changes on the server.
	if _, err := admin.Select(ctx, mailbox, nil); err != nil {
		t.Fatal(err)
	}
	appendMsg(4, imap.FlagDraft)
	store := func(uid uint32, op imapclient.StoreOp, flags ...imap.Flag) {
		t.Helper()
		if _, err := admin.UIDStore(ctx, imap.NumSetOf(uid), imapclient.StoreFlags{Op: op, Flags: flags, Silent: true}); err != nil {
			t.Fatal(err)
		}
	}
	store(u2, imapclient.StoreRemove, imap.FlagFlagged)
	store(u3, imapclient.StoreAdd, imap.FlagSeen, imap.FlagFlagged)
	store(u1, imapclient.StoreAdd, imap.FlagDeleted)
	if _, err := admin.UIDExpunge(ctx, imap.UIDSet{NumSet: imap.NumSetOf(u1)}); err != nil {
		t.Fatal(err)
	}
	if err := admin.Unselect(ctx); err != nil {
		t.Fatal(err)
	}

	s := mirrorRun()
	if s.Downloaded != 1 || s.Removed != 1 || s.Renamed != 2 || s.StartOver {
		t.Fatalf("second run: %s", s)
	}
	if admin.Has(ctx, "QRESYNC") && s.Method != imapclient.ResyncQResync {
		t.Fatalf("second run used %s though the server offers QRESYNC", s.Method)
	}
	if s := mirrorRun(); s.Downloaded != 0 || s.Removed != 0 || s.Renamed != 0 {
		t.Fatalf("third run without changes: %s", s)
	}

	// A stray file (an interrupted run's) is removed.
	stray := filepath.Join(dir, "new", "123.M1P1Q1.host")
	if err := os.WriteFile(stray, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s := mirrorRun(); s.Pruned != 1 {
		t.Fatalf("stray file not pruned: %s", s)
	}

	// A mailbox deleted and created again has a new UIDVALIDITY
	// (RFC 9051 §2.3.1.1).
	if err := admin.Delete(ctx, mailbox); err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(ctx, mailbox); err != nil {
		t.Fatal(err)
	}
	appendMsg(5)
	appendMsg(6, imap.FlagSeen)
	if s := mirrorRun(); !s.StartOver || s.Downloaded != 2 {
		t.Fatalf("after UIDVALIDITY change: %s", s)
	}
}

// checkMirror compares the Maildir with the server's mailbox: one file
// per message in cur/ with the message's octets and flags, nothing else.
func checkMirror(t *testing.T, ctx context.Context, c *imapclient.Client, mailbox, dir string) {
	t.Helper()
	if _, err := c.Select(ctx, mailbox, &imapclient.SelectOptions{ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	defer c.Unselect(ctx)
	body := &imap.FetchSection{Peek: true}
	msgs, err := c.UIDFetch(ctx, imap.NumSet{Ranges: []imap.Range{{Start: 1, Stop: imap.Star}}},
		[]imap.FetchAtt{{Item: imap.FetchUID}, {Item: imap.FetchFlags}, {Item: imap.FetchBodySection, Section: body}}, nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	st, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Files) != len(msgs) {
		t.Fatalf("state has %d files, server %d messages", len(st.Files), len(msgs))
	}
	for _, m := range msgs {
		name, ok := st.Files[m.UID]
		if !ok {
			t.Fatalf("UID %d not mirrored", m.UID)
		}
		got, err := os.ReadFile(filepath.Join(dir, "cur", name+infoSuffix(m.Flags)))
		if err != nil {
			t.Fatalf("UID %d flags %v: %v", m.UID, m.Flags, err)
		}
		if !bytes.Equal(got, m.Section(body)) {
			t.Fatalf("UID %d: file differs from the message", m.UID)
		}
	}
	for sub, want := range map[string]int{"cur": len(msgs), "new": 0, "tmp": 0} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != want {
			t.Fatalf("%s/ holds %d files, want %d", sub, len(entries), want)
		}
	}
}
