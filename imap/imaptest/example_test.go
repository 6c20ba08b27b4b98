package imaptest_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/imaptest"
	"github.com/posthorn/posthorn/mime"
	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/posthorn/posthorn/smtp/smtptest"
)

// sendWelcome is the application code under test: it sends a welcome
// message through the submission server at addr.
func sendWelcome(ctx context.Context, addr string, opts smtpclient.Options, to string) error {
	s := &smtpclient.Submitter{Addr: addr, Options: opts}
	defer s.Close(ctx)
	local, domain, _ := strings.Cut(to, "@")
	b := &mime.Builder{
		From:    &mime.Address{Name: "Shop", Mailbox: "hello", Host: "shop.example"},
		To:      []*mime.Address{{Mailbox: local, Host: domain}},
		Subject: "Welcome",
		Text:    strings.NewReader("Glad you are here."),
	}
	b.AddAttachment("terms.pdf", strings.NewReader("%PDF-1.4"))
	_, err := s.SubmitBuilder(ctx, b)
	return err
}

// The whole flow of an application's mail test: start an SMTP and an
// IMAP server over one store, run the application's send code, wait for
// the message (no polling), check its parts, and read it back over IMAP.
// In a test, pass t instead of nil and drop the Close calls.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	im := imaptest.NewServer(nil)
	defer im.Close()
	im.AddUser("bob", "pw")
	sm := smtptest.NewUnstartedServer(nil)
	sm.Store = im.Store
	sm.Start()
	defer sm.Close()

	if err := sendWelcome(ctx, sm.Addr, *sm.ClientOptions(), "bob@example.org"); err != nil {
		log.Fatal(err)
	}
	msgs, err := sm.WaitForMessages(ctx, 1, smtptest.To("bob@example.org"))
	if err != nil {
		log.Fatal(err)
	}
	m := msgs[0]
	fmt.Println(m.Subject, m.Text, m.Attachments[0].Filename, m.TLS)

	c, err := im.Client(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(ctx, "bob", "pw"); err != nil {
		log.Fatal(err)
	}
	if _, err := c.Select(ctx, "INBOX", nil); err != nil {
		log.Fatal(err)
	}
	got, err := c.Fetch(ctx, imap.NumSetOf(1), []imap.FetchAtt{{Item: imap.FetchEnvelope}}, nil).Collect()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got[0].Envelope.Subject)
	// Output:
	// Welcome Glad you are here. terms.pdf true
	// Welcome
}
