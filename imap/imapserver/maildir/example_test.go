package maildir_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"strings"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/maildir"
)

// A Maildir store serves IMAP and takes deliveries; its mail survives a
// restart.
func Example() {
	dir, _ := os.MkdirTemp("", "maildir-example")
	defer os.RemoveAll(dir)

	store, err := maildir.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if err := store.AddUser("alice", "secret"); err != nil {
		log.Fatal(err)
	}
	// Delivery returns once the message is on disk for good.
	uid, err := store.Deliver(context.Background(), "alice", strings.NewReader("Subject: hi\r\n\r\nHello\r\n"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("delivered, UID", uid)

	srv := &imapserver.Server{Backend: store}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	// Output: delivered, UID 1
}
