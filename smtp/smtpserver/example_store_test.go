package smtpserver_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strings"

	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/posthorn/posthorn/smtp/smtpserver"
)

// LMTP delivery into a mail store that also serves IMAP and POP3: the
// store implements DeliveryStore, NewStoreBackend does the rest. A full
// mailbox gets its own 452 4.2.2 while the other recipient gets the
// message.
func ExampleNewStoreBackend() {
	store := imapmem.New()
	store.AddUser("alice", "secret")
	store.AddUser("bob", "secret")
	store.SetQuota("bob", 10, 0) // 10 octets: no room for the message

	srv := &smtpserver.Server{
		Hostname: "store.example.org",
		Mode:     smtpserver.ModeLMTP,
		Backend:  smtpserver.NewStoreBackend(store, smtpserver.StoreOptions{Domains: []string{"example.org"}}),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	ctx := context.Background()
	c, err := smtpclient.Dial(ctx, ln.Addr().String(), &smtpclient.Options{LMTP: true})
	if err != nil {
		log.Fatal(err)
	}
	msg := strings.NewReader("Subject: hi\r\n\r\nHello!\r\n")
	res, err := c.Send(ctx, &smtpclient.Envelope{From: "a@example.net", To: []string{"alice@example.org", "bob@example.org"}}, msg, msg.Size())
	if err != nil && !errors.Is(err, smtpclient.ErrPartial) {
		log.Fatal(err)
	}
	for _, r := range res {
		fmt.Println(r.Recipient, r.Err)
	}
	_ = c.Quit(ctx)

	// The message is in alice's INBOX, below the Received: field.
	uidls, _, unlock, _ := store.LockMaildrop(ctx, "alice")
	defer unlock()
	r, _ := store.OpenMaildropMessage(ctx, "alice", uidls[0])
	b, _ := io.ReadAll(r)
	fmt.Println(strings.HasPrefix(string(b), "Received: from "), strings.HasSuffix(string(b), "\r\nSubject: hi\r\n\r\nHello!\r\n"))
	// Output:
	// alice@example.org <nil>
	// bob@example.org smtp: 452 4.2.2 Mailbox full
	// true true
}
