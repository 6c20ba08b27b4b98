package smtpqueue_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/posthorn/posthorn/mime"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/posthorn/posthorn/smtp/smtpqueue"
	"github.com/posthorn/posthorn/smtp/smtptest"
)

// An application queues its password-reset mail through its provider's
// submission server (a smarthost). Enqueue returns once the message is on
// disk, so the web request can answer at once; the queue delivers it,
// retries while the provider is unreachable, and survives a restart.
func Example() {
	// The provider's submission server (here a test server; in production
	// "smtp.provider.example:587").
	provider := smtptest.NewServer(nil)
	defer provider.Close()
	provider.AddUser("app", "s3cret")
	provider.RequireAuth = true

	dir, _ := os.MkdirTemp("", "outbox")
	defer os.RemoveAll(dir)
	sub := &smtpclient.Submitter{
		Addr:    provider.Addr,
		Auth:    &sasl.ClientOptions{Username: "app", Password: "s3cret"},
		Options: *provider.ClientOptions(), // trusts the test certificate
	}
	defer sub.Close(context.Background())
	q, err := smtpqueue.Open(dir, &smtpqueue.Options{
		Hostname:  "app.example.org",
		Transport: &smtpqueue.Smarthost{Submitter: sub},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)), // the application's logger
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()

	// In the password-reset handler:
	b := &mime.Builder{
		From:    &mime.Address{Name: "Example App", Mailbox: "no-reply", Host: "app.example.org"},
		To:      []*mime.Address{{Mailbox: "alice", Host: "example.net"}},
		Subject: "Reset your password",
		Text:    strings.NewReader("Open https://app.example.org/reset/abc123 within an hour to choose a new password.\n"),
	}
	msg, err := b.Bytes()
	if err != nil {
		log.Fatal(err)
	}
	_, err = q.Enqueue(context.Background(), &smtpqueue.Envelope{
		From: "bounces@app.example.org",
		To:   []string{"alice@example.net"},
	}, bytes.NewReader(msg))
	if err != nil {
		log.Fatal(err) // not stored: tell the user to try again
	}

	wait, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := provider.WaitForMessages(wait, 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got[0].Auth, got[0].To, got[0].Subject)
	stop()
	<-done
	// Output: app [alice@example.net] Reset your password
}
