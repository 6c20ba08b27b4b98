package imapclient_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/imapclient"
	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
)

// demoServer starts an in-memory IMAP server on 127.0.0.1 for the examples.
func demoServer() (addr string, store *imapmem.Store, stop func()) {
	store = imapmem.New()
	store.AddUser("alice", "secret")
	for i := 1; i <= 2; i++ {
		store.Deliver(context.Background(), "alice", strings.NewReader(fmt.Sprintf("Subject: Hello %d\r\n\r\nBody %d\r\n", i, i)))
	}
	srv := &imapserver.Server{Backend: store, AllowInsecureAuth: true}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	return ln.Addr().String(), store, func() { srv.Shutdown(context.Background()) }
}

// List mailboxes, then fetch envelopes and bodies. Body sections stream off
// the connection as io.Readers.
func Example_listAndFetch() {
	addr, _, stop := demoServer()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Use DialTLS or DialStartTLS for anything but a loopback demo.
	c, err := imapclient.Dial(ctx, addr, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(ctx, "alice", "secret"); err != nil {
		log.Fatal(err)
	}
	boxes, err := c.List(ctx, "", "*", nil)
	if err != nil {
		log.Fatal(err)
	}
	names := make([]string, len(boxes))
	for i, b := range boxes {
		names[i] = b.Mailbox
	}
	sort.Strings(names)
	fmt.Println("mailboxes:", strings.Join(names, " "))
	sel, err := c.Select(ctx, "INBOX", &imapclient.SelectOptions{ReadOnly: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("messages:", sel.NumMessages)

	fc := c.Fetch(ctx, imap.NumSetOf(1, 2), []imap.FetchAtt{
		{Item: imap.FetchEnvelope},
		{Item: imap.FetchBodySection, Section: &imap.FetchSection{Peek: true, Specifier: imap.PartText}},
	}, nil)
	for m := fc.Next(); m != nil; m = fc.Next() {
		for it := m.Next(); it != nil; it = m.Next() {
			switch it := it.(type) {
			case imapclient.FetchItemEnvelope:
				fmt.Printf("%d subject: %s\n", m.SeqNum, it.Envelope.Subject)
			case imapclient.FetchItemBodySection:
				body, _ := io.ReadAll(it.Literal)
				fmt.Printf("%d text: %q\n", m.SeqNum, body)
			}
		}
	}
	if err := fc.Close(); err != nil {
		log.Fatal(err)
	}
	c.Logout(ctx)
	// Output:
	// mailboxes: Archive Drafts INBOX Junk Sent Trash
	// messages: 2
	// 1 subject: Hello 1
	// 1 text: "Body 1\r\n"
	// 2 subject: Hello 2
	// 2 text: "Body 2\r\n"
}

// Wait for new mail with IDLE. IdleLoop restarts IDLE before the server's
// 30-minute limit, polls with NOOP when IDLE is not offered, and ends IDLE
// cleanly when its context ends.
func Example_idle() {
	addr, store, stop := demoServer()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	newMail := make(chan uint32, 1)
	c, err := imapclient.Dial(ctx, addr, &imapclient.Options{
		Handler: &imapclient.Handler{
			// Runs in the reader goroutine: hand off, do not call commands.
			Exists: func(n uint32) { newMail <- n },
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(ctx, "alice", "secret"); err != nil {
		log.Fatal(err)
	}
	if _, err := c.Select(ctx, "INBOX", nil); err != nil {
		log.Fatal(err)
	}

	idleCtx, stopIdle := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.IdleLoop(idleCtx, nil) }()

	// Meanwhile, a message arrives.
	time.Sleep(50 * time.Millisecond)
	store.Deliver(ctx, "alice", strings.NewReader("Subject: New\r\n\r\nHi\r\n"))

	fmt.Println("messages now:", <-newMail)
	stopIdle()
	<-done
	// The connection is usable again.
	msgs, err := c.Fetch(ctx, imap.NumSetOf(3), []imap.FetchAtt{{Item: imap.FetchEnvelope}}, nil).Collect()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("subject:", msgs[0].Envelope.Subject)
	// Output:
	// messages now: 3
	// subject: New
}

// Resynchronise a mailbox after being away: Resync takes what was saved
// last time (UIDVALIDITY, HIGHESTMODSEQ, known UIDs) and reports new
// messages, flag changes and vanished UIDs, with QRESYNC when the server
// offers it (one SELECT carries all changes), CONDSTORE next, and a UID
// FETCH of all flags otherwise. examples/imapmirror builds a Maildir
// mirror on it.
func Example_resync() {
	addr, store, stop := demoServer()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dial := func() *imapclient.Client {
		c, err := imapclient.Dial(ctx, addr, nil)
		if err != nil {
			log.Fatal(err)
		}
		if err := c.Login(ctx, "alice", "secret"); err != nil {
			log.Fatal(err)
		}
		return c
	}
	c := dial()
	defer c.Close()

	// First sync: everything is new. Save res.State for next time.
	res, err := c.Resync(ctx, "INBOX", imapclient.ResyncState{}, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("first sync, new messages:", len(res.New))
	saved := res.State
	c.Unselect(ctx)

	// Meanwhile another client flags message 1 and expunges message 2,
	// and a message arrives.
	other := dial()
	defer other.Close()
	other.Select(ctx, "INBOX", nil)
	other.UIDStore(ctx, imap.NumSetOf(1), imapclient.StoreFlags{Op: imapclient.StoreAdd, Flags: []imap.Flag{imap.FlagFlagged}})
	other.UIDStore(ctx, imap.NumSetOf(2), imapclient.StoreFlags{Op: imapclient.StoreAdd, Flags: []imap.Flag{imap.FlagDeleted}})
	other.UIDExpunge(ctx, imap.UIDSet{NumSet: imap.NumSetOf(2)})
	store.Deliver(ctx, "alice", strings.NewReader("Subject: New\r\n\r\nHi\r\n"))

	res, err = c.Resync(ctx, "INBOX", saved, "")
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range res.New {
		fmt.Println("new UID:", m.UID)
	}
	for _, m := range res.Changed {
		// With the FULL method every known message is listed.
		if imap.HasFlag(m.Flags, imap.FlagFlagged) {
			fmt.Println("flagged UID:", m.UID)
		}
	}
	fmt.Println("vanished UIDs:", res.Vanished)
	fmt.Println("known now:", res.State.KnownUIDs)
	// Output:
	// first sync, new messages: 2
	// new UID: 3
	// flagged UID: 1
	// vanished UIDs: 2
	// known now: 1,3
}

// Save several messages at once. With MULTIAPPEND (RFC 3502) they travel
// in one APPEND and the server stores all or none; APPENDUID gives their
// UIDs in order.
func ExampleClient_AppendMulti() {
	addr, _, stop := demoServer()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := imapclient.Dial(ctx, addr, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(ctx, "alice", "secret"); err != nil {
		log.Fatal(err)
	}
	var msgs []imapclient.AppendMessage
	for _, subject := range []string{"Draft one", "Draft two"} {
		m := "Subject: " + subject + "\r\n\r\nText\r\n"
		msgs = append(msgs, imapclient.AppendMessage{Size: int64(len(m)), Body: strings.NewReader(m),
			Options: &imapclient.AppendOptions{Flags: []imap.Flag{imap.FlagDraft}}})
	}
	ad, err := c.AppendMulti(ctx, "Drafts", msgs)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("new UIDs:", ad.UIDs)
	// Output:
	// new UIDs: 1:2
}
