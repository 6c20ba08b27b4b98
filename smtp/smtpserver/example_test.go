package smtpserver_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strings"

	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/posthorn/posthorn/smtp/smtpserver"
)

// printBackend accepts mail for example.org and prints each message.
type printBackend struct{}

func (printBackend) NewSession(ctx context.Context, c *smtpserver.ConnInfo) (smtpserver.Session, error) {
	return &printSession{}, nil
}

type printSession struct {
	from smtp.Mailbox
	to   []smtp.Mailbox
}

func (s *printSession) Mail(ctx context.Context, from smtp.Mailbox, opts *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *printSession) Rcpt(ctx context.Context, to smtp.Mailbox, opts *smtp.RcptOptions) error {
	if to.Domain != "example.org" {
		return smtp.NewError(550, smtp.EnhancedCode{5, 7, 1}, "Relaying not available")
	}
	s.to = append(s.to, to)
	return nil
}

func (s *printSession) Data(ctx context.Context, r io.Reader) error {
	b, err := io.ReadAll(r) // read to EOF before accepting
	if err != nil {
		return err
	}
	_, body, _ := strings.Cut(string(b), "\r\n\r\n")
	fmt.Printf("from %s to %v: %q\n", s.from, s.to, body)
	return nil
}

func (s *printSession) Reset(ctx context.Context)       { s.from, s.to = smtp.Mailbox{}, nil }
func (s *printSession) Close(ctx context.Context) error { return nil }

// Run an MX server with a backend, and send it a message.
func ExampleServer() {
	srv := &smtpserver.Server{Hostname: "mx.example.org", Backend: printBackend{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	ctx := context.Background()
	c, err := smtpclient.Dial(ctx, ln.Addr().String(), nil)
	if err != nil {
		log.Fatal(err)
	}
	msg := strings.NewReader("Subject: hi\r\n\r\nHello!\r\n")
	res, err := c.Send(ctx, &smtpclient.Envelope{From: "a@example.net", To: []string{"b@example.org", "c@elsewhere.example"}}, msg, msg.Size())
	// Accepted for one recipient, refused for the other: a PartialError.
	if err != nil && !errors.Is(err, smtpclient.ErrPartial) {
		log.Fatal(err)
	}
	fmt.Println(res[1].Err)
	_ = c.Quit(ctx)
	// Output:
	// from a@example.net to [b@example.org]: "Hello!\r\n"
	// smtp: 550 5.7.1 Relaying not available
}

// An LMTP server (RFC 2033) for a mail store: the backend's LMTPData
// (see LMTPSession) gives one result per recipient.
func ExampleServer_lmtp() {
	srv := &smtpserver.Server{Hostname: "store.example.org", Mode: smtpserver.ModeLMTP, Backend: printBackend{}}
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
	msg := strings.NewReader("Subject: hi\r\n\r\nstored\r\n")
	res, err := c.Send(ctx, &smtpclient.Envelope{From: "a@example.net", To: []string{"u1@example.org", "u2@example.org"}}, msg, msg.Size())
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range res {
		fmt.Println(r.Recipient, r.Err)
	}
	_ = c.Quit(ctx)
	// Output:
	// from a@example.net to [u1@example.org u2@example.org]: "stored\r\n"
	// u1@example.org <nil>
	// u2@example.org <nil>
}
