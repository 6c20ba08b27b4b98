package pop3server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
	"github.com/posthorn/posthorn/pop3/internal/pop3fake"
	"github.com/posthorn/posthorn/pop3/pop3server"
)

// The in-memory store serves POP3 without importing this package.
var _ pop3server.MaildropStore = (*imapmem.Store)(nil)

// POP3 over imapmem through the library glue: the lock keeps a second
// session out (RFC 1939 §4, [IN-USE] of RFC 2449 §8.1.2) whoever holds
// it, a message expunged over IMAP is gone (but still listed), and
// deletions happen at QUIT only (§6).
func TestStoreBackendImapmem(t *testing.T) {
	ctx := context.Background()
	store := imapmem.New()
	if err := store.AddUser("bob", "pw"); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{msg1, msg2, "Subject: three\r\n\r\n3\r\n"} {
		if _, err := store.Deliver(ctx, "bob", strings.NewReader(m)); err != nil {
			t.Fatal(err)
		}
	}
	// No Auth: the store behind the backend verifies passwords.
	env := pop3fake.Start(t, &pop3server.Server{
		Backend:           pop3server.NewStoreBackend(store),
		AllowInsecureAuth: true,
	})

	// Another holder of the lock (a POP3 server in another process, say).
	_, _, unlock, err := store.LockMaildrop(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	c := pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK*
		C: USER bob
		S: +OK*
		C: PASS wrong
		S: -ERR*
		C: USER bob
		S: +OK*
		C: PASS pw
		S: -ERR [IN-USE] maildrop already in use`)
	unlock()

	c = pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK*
		C: USER bob
		S: +OK*
		C: PASS pw
		S: +OK bob has 3 messages*`)
	// IMAP expunges message 2 now.
	u, _ := store.User(ctx, "bob", nil)
	h, err := u.OpenMailbox(ctx, "INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	h.SetFlags(ctx, []uint32{2}, imapserver.FlagsAdd, []string{`\Deleted`}, 0)
	h.Expunge(ctx, nil)
	h.Close()
	c.Script(`
		C: LIST
		S: +OK*
		S: 1 67
		S: 2 77
		S: 3 21
		S: .
		C: RETR 1
		S: +OK*
		S: From: a@example.org
		S: Subject: one
		S:
		S: line 1
		S: ..dot line
		S: ..
		S: line 4
		S: .
		C: RETR 2
		S: -ERR message 2 is gone*
		C: DELE 1
		S: +OK*
		C: DELE 2
		S: +OK*
		C: QUIT
		S: +OK*`)
	uidls, _, unlock, err := store.LockMaildrop(ctx, "bob")
	if err != nil {
		t.Fatalf("lock after QUIT: %v", err)
	}
	defer unlock()
	if len(uidls) != 1 || !strings.HasSuffix(uidls[0], ".3") {
		t.Fatalf("maildrop after QUIT: %v", uidls)
	}
}

// RFC 6856 §2: without UTF8 mode, a message with UTF-8 header content
// (RFC 6532) is refused, though the store does not mark it; 8-bit body
// text under an ASCII header is sent as before.
func TestStoreBackendUTF8Header(t *testing.T) {
	ctx := context.Background()
	store := imapmem.New()
	if err := store.AddUser("bob", "pw"); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"Subject: Grüße\r\n\r\nHallo\r\n", "Subject: hi\r\n\r\nGrüße\r\n"} {
		if _, err := store.Deliver(ctx, "bob", strings.NewReader(m)); err != nil {
			t.Fatal(err)
		}
	}
	env := pop3fake.Start(t, &pop3server.Server{Backend: pop3server.NewStoreBackend(store), AllowInsecureAuth: true})
	c := pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK*
		C: USER bob
		S: +OK*
		C: PASS pw
		S: +OK*
		C: RETR 1
		S: -ERR [UTF8] message needs UTF8 mode
		C: TOP 1 0
		S: -ERR [UTF8] message needs UTF8 mode
		C: RETR 2
		S: +OK*
		S: Subject: hi
		S:
		S: Grüße
		S: .
		C: QUIT
		S: +OK bye`)
	c = pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK*
		C: UTF8
		S: +OK*
		C: USER bob
		S: +OK*
		C: PASS pw
		S: +OK*
		C: RETR 1
		S: +OK*
		S: Subject: Grüße
		S:
		S: Hallo
		S: .
		C: QUIT
		S: +OK bye`)
}
