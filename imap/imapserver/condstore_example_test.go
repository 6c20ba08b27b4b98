package imapserver_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
)

// Quick resynchronisation (RFC 7162 QRESYNC): a client that remembers
// UIDVALIDITY and HIGHESTMODSEQ from its last session learns, in one
// SELECT, which of its messages were expunged (VANISHED (EARLIER)) and
// which changed flags (FETCH with MODSEQ) while it was away.
func Example_qresync() {
	ctx := context.Background()
	store := imapmem.New()
	store.AddUser("alice", "secret")
	for range 3 {
		store.Deliver(ctx, "alice", strings.NewReader("Subject: hi\r\n\r\nHello!\r\n"))
	}
	u, _ := store.User(ctx, "alice", nil)
	mb, _ := u.OpenMailbox(ctx, "INBOX", false)
	// What the client saw last time.
	uidValidity, modSeq := mb.Snapshot().UIDValidity, mb.Snapshot().HighestModSeq
	// Meanwhile, another device reads message 1 and deletes message 2.
	mb.SetFlags(ctx, []uint32{1}, imapserver.FlagsAdd, []string{`\Seen`}, 0)
	mb.SetFlags(ctx, []uint32{2}, imapserver.FlagsAdd, []string{`\Deleted`}, 0)
	mb.Expunge(ctx, nil)
	mb.Close()

	srv := &imapserver.Server{Backend: store, AllowInsecureAuth: true}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(ctx)

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	r.ReadString('\n') // greeting
	fmt.Fprintf(c, "a1 LOGIN alice secret\r\na2 ENABLE QRESYNC\r\na3 SELECT INBOX (QRESYNC (%d %d 1:3))\r\na4 LOGOUT\r\n", uidValidity, modSeq)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			break
		}
		if strings.HasPrefix(line, "* OK [UIDVALIDITY") || strings.HasPrefix(line, "a1 OK") || strings.HasPrefix(line, "* FLAGS") || strings.HasPrefix(line, "* OK [PERMANENTFLAGS") {
			continue // vary from run to run, or are long
		}
		fmt.Print(strings.ReplaceAll(line, "\r\n", "\n"))
	}
	// Output:
	// * ENABLED QRESYNC
	// a2 OK ENABLE completed
	// * 2 EXISTS
	// * 0 RECENT
	// * OK [UNSEEN 2] First unseen
	// * OK [UIDNEXT 4] Predicted next UID
	// * OK [HIGHESTMODSEQ 7] Highest
	// * VANISHED (EARLIER) 2
	// * 1 FETCH (UID 1 FLAGS (\Seen) MODSEQ (5))
	// a3 OK [READ-WRITE] SELECT completed
	// * BYE Logging out
	// a4 OK LOGOUT completed
}
