package pop3server_test

import (
	"context"
	"fmt"
	"net"
	"net/textproto"
	"strings"

	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
	"github.com/posthorn/posthorn/pop3/pop3server"
)

// POP3 over a mail store that also serves IMAP and SMTP delivery: the
// store implements MaildropStore (and verifies passwords), NewStoreBackend
// does the rest. A message deleted here is gone from IMAP too.
func ExampleNewStoreBackend() {
	store := imapmem.New()
	store.AddUser("alice", "secret")
	store.Deliver(context.Background(), "alice", strings.NewReader("Subject: hi\r\n\r\nHello!\r\n"))

	srv := &pop3server.Server{
		Hostname: "pop.example.test",
		Backend:  pop3server.NewStoreBackend(store),
		// Loopback demo only: set TLSConfig for STLS instead.
		AllowInsecureAuth: true,
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())

	c, err := textproto.Dial("tcp", l.Addr().String())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	c.ReadLine() // greeting
	for _, cmd := range []string{"USER alice", "PASS secret", "DELE 1", "QUIT"} {
		c.PrintfLine("%s", cmd)
		line, _ := c.ReadLine()
		fmt.Println("S:", line)
	}
	u, _ := store.User(context.Background(), "alice", nil)
	st, _ := u.Status(context.Background(), "INBOX")
	fmt.Println("INBOX holds", st.Messages, "messages")
	// Output:
	// S: +OK send PASS
	// S: +OK alice has 1 messages (23 octets)
	// S: +OK message 1 deleted
	// S: +OK bye
	// INBOX holds 0 messages
}
