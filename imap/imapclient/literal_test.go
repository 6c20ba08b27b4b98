package imapclient

import (
	"testing"
)

// Data that reads like a literal header is only data: the client keeps
// its literals' places as it builds a command and never scans the bytes
// for "{n}" CRLF again (RFC 9051 §4.3). A password "p{1}\r\nq" once made
// the client treat "{1}" CRLF inside it as a second literal: our server
// answered BAD, and a server without LITERAL+ was left waiting.
func TestLiteralLookalikeInData(t *testing.T) {
	const pw = "p{1}\r\nq"
	t.Run("our server", func(t *testing.T) {
		s := startServer(t)
		if err := s.store.AddUser("bob", pw); err != nil {
			t.Fatal(err)
		}
		ctx := testCtx(t)
		c, err := Dial(ctx, s.addr, &Options{AllowInsecureAuth: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.loginCommand(ctx, "bob", pw); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Select(ctx, "INBOX", nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("no LITERAL+", func(t *testing.T) {
		addr, errc := scripted(t, `
			S: * OK [CAPABILITY IMAP4rev1] ready
			C: T1 LOGIN bob {7}
			S: + go ahead
			C: p{1}
			C: q
			S: T1 OK logged in
		`)
		ctx := testCtx(t)
		c, err := Dial(ctx, addr, &Options{AllowInsecureAuth: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Login(ctx, "bob", pw); err != nil {
			t.Fatal(err)
		}
		checkScript(t, errc)
	})
}
