package smtpclient_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/posthorn/posthorn/mime"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp/smtpclient"
)

// Submit a message built with package mime to a submission server:
// STARTTLS on port 587 (implicit TLS on 465), then AUTH with the strongest
// mechanism offered.
func ExampleSubmit() {
	b := &mime.Builder{
		From:    &mime.Address{Name: "Shop", Mailbox: "orders", Host: "shop.example"},
		To:      []*mime.Address{{Mailbox: "customer", Host: "example.org"}},
		Subject: "Your receipt",
		Text:    strings.NewReader("Thank you for your order.\n"),
	}
	msg, err := b.Bytes()
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = smtpclient.Submit(ctx, "smtp.shop.example:587",
		&sasl.ClientOptions{Username: "orders@shop.example", Password: "app-password"},
		"orders@shop.example", b.Recipients(), bytes.NewReader(msg), nil)
	if err != nil {
		log.Print(err)
	}
}

// Deliver directly to the recipients' MX hosts and inspect the result of
// each recipient.
func ExampleDeliver() {
	msg := strings.NewReader("From: a@origin.example\r\nSubject: hi\r\n\r\nhello\r\n")
	ctx := context.Background()
	results := smtpclient.Deliver(ctx, "a@origin.example", []string{"b@example.org"}, msg,
		&smtpclient.DeliverOptions{Options: smtpclient.Options{LocalName: "mx.origin.example"}})
	for _, r := range results {
		switch {
		case r.Err == nil:
			fmt.Println(r.Recipient, "delivered")
		case r.Temporary():
			fmt.Println(r.Recipient, "retry later:", r.Err)
		default:
			fmt.Println(r.Recipient, "failed:", r.Err)
		}
	}
}

// LMTP delivery to a local mail store (RFC 2033): one result per recipient.
func ExampleClient_lmtp() {
	ctx := context.Background()
	c, err := smtpclient.Dial(ctx, "127.0.0.1:24", &smtpclient.Options{LMTP: true})
	if err != nil {
		log.Print(err)
		return
	}
	defer c.Quit(ctx)
	msg := strings.NewReader("Subject: hi\r\n\r\nhello\r\n")
	results, err := c.Send(ctx, &smtpclient.Envelope{From: "a@example.org", To: []string{"u1@example.org", "u2@example.org"}}, msg, msg.Size())
	if err != nil {
		log.Print(err)
	}
	for _, r := range results {
		fmt.Println(r.Recipient, r.Err)
	}
}
