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

// Serving an in-memory store. The same store takes SMTP deliveries
// (through smtpserver.NewStoreBackend) and serves POP3 (through
// pop3server.NewStoreBackend).
func Example() {
	store := imapmem.New()
	store.AddUser("alice", "secret")
	store.Deliver(context.Background(), "alice", strings.NewReader("Subject: Welcome\r\n\r\nHello!\r\n"))

	srv := &imapserver.Server{
		Backend: store,
		// Loopback demo only: LOGIN without TLS. Set TLSConfig instead.
		AllowInsecureAuth: true,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	// A client session, written out by hand.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	r.ReadString('\n') // greeting
	fmt.Fprint(c, "a1 LOGIN alice secret\r\na2 SELECT INBOX\r\na3 FETCH 1 BODY.PEEK[HEADER.FIELDS (Subject)]\r\na4 LOGOUT\r\n")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			break
		}
		if strings.HasPrefix(line, "* OK [UIDVALIDITY") || strings.HasPrefix(line, "a1 OK") {
			continue // vary from run to run, or are long
		}
		fmt.Print(strings.ReplaceAll(line, "\r\n", "\n"))
	}
	// Output:
	// * 1 EXISTS
	// * 1 RECENT
	// * OK [UNSEEN 1] First unseen
	// * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
	// * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
	// * OK [UIDNEXT 2] Predicted next UID
	// a2 OK [READ-WRITE] SELECT completed
	// * 1 FETCH (BODY[HEADER.FIELDS (Subject)] {20}
	// Subject: Welcome
	//
	// )
	// a3 OK FETCH completed
	// * BYE Logging out
	// a4 OK LOGOUT completed
}
