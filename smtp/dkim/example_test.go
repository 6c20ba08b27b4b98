package dkim_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log"
	"strings"
	"time"

	"github.com/posthorn/posthorn/smtp/authres"
	"github.com/posthorn/posthorn/smtp/dkim"
	"github.com/posthorn/posthorn/smtp/smtpclient"
)

// An application signs a password-reset message before handing it to its
// submission server.
func ExampleSign() {
	// In production: the key from dkim.GenerateKey, stored as PKCS#8.
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	msg := "From: Example <no-reply@example.com>\r\n" +
		"To: user@example.net\r\n" +
		"Subject: Reset your password\r\n" +
		"Date: Mon, 07 Dec 2026 20:00:00 +0000\r\n" +
		"Message-ID: <reset-1@example.com>\r\n" +
		"\r\n" +
		"Follow this link to choose a new password.\r\n"

	var signed bytes.Buffer
	err := dkim.Sign(&signed, strings.NewReader(msg), &dkim.SignOptions{
		Domain:   "example.com",
		Selector: "mail2026",
		Key:      key,
		Headers:  []string{"From", "To", "Subject", "Date", "Message-ID"},
		Now:      func() time.Time { return time.Unix(1796673600, 0) }, // for a fixed output
	})
	if err != nil {
		log.Fatal(err)
	}
	// signed now holds the DKIM-Signature field and the message.
	out := signed.String()
	fmt.Print(strings.ReplaceAll(out[:strings.Index(out, "\r\nFrom: ")+2], "\r\n", "\n"))
	// Output:
	// DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com;
	//  s=mail2026; t=1796673600; h=From:From:To:To:Subject:Subject:Date:Date
	//  :Message-ID:Message-ID; bh=+Ix3u58vqYirp444NjP6irIUVWwjOmaaqwHb8qL/pJM=;
	//  b=5ZEe+gvsA+ldnN3+UA/1Qc1LVjAolRCVI6c1oBOM7Cuy9WiAZfOmlWGttqtHzjULEIhDYvGDu
	//  Wcj+W3U0tcmCA==
}

// An MX checks an inbound message while it streams to the store: the
// Verifier sits beside the store in an io.MultiWriter, so the message is
// read once. The results become an Authentication-Results field.
func ExampleVerifier() {
	resolver := exampleZone() // in production: nil (net.DefaultResolver) or a caching client
	inbound := strings.NewReader(exampleSigned())

	var store bytes.Buffer // in production: the spool file or mailbox
	v := dkim.NewVerifier(context.Background(), &dkim.VerifyOptions{Resolver: resolver})
	if _, err := io.Copy(io.MultiWriter(&store, v), inbound); err != nil {
		log.Fatal(err)
	}
	v.Close()

	ar := authres.Header{AuthServID: "mx.example.net"}
	for _, r := range v.Results() {
		ar.Results = append(ar.Results, r.AuthResult())
	}
	field, err := ar.Field()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(strings.ReplaceAll(field, "\r\n", "\n"))
	// Output:
	// Authentication-Results: mx.example.net;
	// 	dkim=pass header.d=example.com header.i=@example.com header.s=mail2026 header.a=ed25519-sha256 header.b=5ZEe+gvsA+ld
}

// Publishing a key: generate it once, keep the private key, publish the
// TXT record.
func ExampleTXTRecord() {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32)) // dkim.GenerateKey(dkim.Ed25519SHA256) in production
	rec, err := dkim.TXTRecord("example.com", "mail2026", key.Public())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rec)
	// Output:
	// mail2026._domainkey.example.com. IN TXT ("v=DKIM1; k=ed25519; p=6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw=")
}

type exampleResolver map[string]string

func (z exampleResolver) LookupTXT(_ context.Context, name string) ([]string, error) {
	return []string{z[name]}, nil
}

func exampleZone() dkim.Resolver {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	rec, _ := dkim.KeyRecordFor(key.Public())
	return exampleResolver{"mail2026._domainkey.example.com": rec}
}

func exampleSigned() string {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	var out bytes.Buffer
	dkim.Sign(&out, strings.NewReader("From: Example <no-reply@example.com>\r\nTo: user@example.net\r\n"+
		"Subject: Reset your password\r\nDate: Mon, 07 Dec 2026 20:00:00 +0000\r\nMessage-ID: <reset-1@example.com>\r\n\r\n"+
		"Follow this link to choose a new password.\r\n"), &dkim.SignOptions{
		Domain: "example.com", Selector: "mail2026", Key: key,
		Headers: []string{"From", "To", "Subject", "Date", "Message-ID"},
		Now:     func() time.Time { return time.Unix(1796673600, 0) },
	})
	return out.String()
}

// Signing on the way out: the application stores the message (here in
// memory; a spool file works the same), signs it in one pass, and hands
// the signed message to the SMTP client, which reads it at any offset
// without another copy. (Not run: it needs a submission server.)
func ExampleSignStored() {
	ctx := context.Background()
	key, err := dkim.GenerateKey(dkim.Ed25519SHA256) // in production: loaded from disk
	if err != nil {
		log.Fatal(err)
	}
	msg := strings.NewReader("From: no-reply@example.com\r\nTo: user@example.net\r\n" +
		"Subject: Your receipt\r\n\r\nThank you for your order.\r\n")

	signed, err := dkim.SignStored(msg, msg.Size(), &dkim.SignOptions{
		Domain: "example.com", Selector: "mail2026", Key: key,
	})
	if err != nil {
		log.Fatal(err)
	}
	c, err := smtpclient.Dial(ctx, "smtp.example.com:587", &smtpclient.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	env := &smtpclient.Envelope{From: "no-reply@example.com", To: []string{"user@example.net"}}
	if _, err := c.Send(ctx, env, signed, signed.Size()); err != nil {
		log.Fatal(err)
	}
	c.Quit(ctx)
}
