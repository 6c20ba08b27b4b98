package imapserver_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
)

// FuzzCondstore runs sessions that use the RFC 7162 syntax the server
// parses itself (SELECT parameters, QRESYNC arguments with sequence match
// data, FETCH and STORE modifiers, SEARCH MODSEQ) on arbitrary bytes:
// the server must neither panic nor hang.
func FuzzCondstore(f *testing.F) {
	seeds := []string{
		"a LOGIN alice secret\r\nb ENABLE QRESYNC\r\nc SELECT INBOX (QRESYNC (1 1 1:9 (1,2 1,2)))\r\nd UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)\r\ne EXPUNGE\r\n",
		"a LOGIN alice secret\r\nb SELECT INBOX (CONDSTORE)\r\nc STORE 1:2 (UNCHANGEDSINCE 3) +FLAGS.SILENT (\\Deleted)\r\nd SEARCH MODSEQ \"/flags/\\\\deleted\" all 1\r\ne UID EXPUNGE 1\r\n",
		"a LOGIN alice secret\r\nb ENABLE CONDSTORE QRESYNC\r\nc EXAMINE INBOX (QRESYNC (1 0))\r\nd FETCH 1 (MODSEQ) (CHANGEDSINCE 0)\r\ne SELECT INBOX (QRESYNC (9 9 (1:3 4:6)))\r\n",
		"a LOGIN alice secret\r\nb ENABLE QRESYNC\r\nc SELECT INBOX (QRESYNC (1 1 1:4294967295 (1:4294967295 1:4294967295)))\r\nd SELECT INBOX (CONDSTORE CONDSTORE)\r\n",
		"a LOGIN alice secret\r\nb ENABLE QRESYNC\r\nc SELECT INBOX\r\nd STORE 2 +FLAGS (\\Deleted)\r\ne MOVE 1 Trash\r\nf IDLE\r\nDONE\r\ng STATUS Trash (HIGHESTMODSEQ)\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		store := imapmem.New()
		store.AddUser("alice", "secret")
		for _, m := range []string{msg1, msg2, msg1} {
			store.Deliver(context.Background(), "alice", strings.NewReader(m))
		}
		srv := &imapserver.Server{Backend: store, AllowInsecureAuth: true, Limits: imapserver.Limits{MaxAuthFailures: 1, MaxLineLength: 4096, MaxAppend: 1 << 16}}
		ln := &oneConnListener{c: make(chan net.Conn, 1), done: make(chan struct{})}
		c := &fuzzConn{r: bytes.NewReader(in), closed: make(chan struct{})}
		ln.c <- c
		go srv.Serve(ln)
		select {
		case <-c.closed:
		case <-time.After(10 * time.Second):
			t.Fatal("session did not end")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Fatal("shutdown:", err)
		}
	})
}
