package imapclient

import (
	"errors"
	"testing"

	"github.com/posthorn/posthorn/sasl"
)

// A man in the middle who strips STARTTLS and LOGINDISABLED from the
// capabilities must not get the password: without TLS, Login, the LOGIN
// command and the mechanisms that carry the password fail before anything
// is sent, unless the caller opts in (RFC 9051 §6.2.3, §11.1; RFC 8314 §3).
// Loopback is not exempt.
func TestNoPasswordWithoutTLS(t *testing.T) {
	for name, try := range map[string]func(c *Client) error{
		"Login":      func(c *Client) error { return c.Login(testCtx(t), "alice", "alicepw") },
		"LOGIN":      func(c *Client) error { return c.loginCommand(testCtx(t), "alice", "alicepw") },
		"Auth PLAIN": func(c *Client) error { return c.Auth(testCtx(t), sasl.NewPlainClient("", "alice", "alicepw")) },
		"Auth LOGIN": func(c *Client) error { return c.Auth(testCtx(t), sasl.NewLoginClient("alice", "alicepw")) },
		"Auth XOAUTH2": func(c *Client) error {
			return c.Auth(testCtx(t), sasl.NewXOAuth2Client(sasl.OAuthOptions{Username: "alice", Token: "t"}))
		},
	} {
		t.Run(name, func(t *testing.T) {
			// The stripped greeting offers LOGIN and PLAIN in the clear;
			// the script fails if the client sends any command.
			addr, errc := scripted(t, `
				S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready
			`)
			ctx := testCtx(t)
			c, err := Dial(ctx, addr, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := try(c); !errors.Is(err, sasl.ErrInsecureAuth) {
				t.Fatalf("got %v, want sasl.ErrInsecureAuth", err)
			}
			checkScript(t, errc)
		})
	}
	// Opted in, against our server (which allows plaintext here).
	s := startServer(t)
	for _, name := range []string{"LOGIN", "Auth PLAIN"} {
		ctx := testCtx(t)
		c, err := Dial(ctx, s.addr, &Options{AllowInsecureAuth: true})
		if err != nil {
			t.Fatal(err)
		}
		if name == "LOGIN" {
			err = c.loginCommand(ctx, "alice", "alicepw")
		} else {
			err = c.Auth(ctx, sasl.NewPlainClient("", "alice", "alicepw"))
		}
		if err != nil {
			t.Fatalf("%s opted in: %v", name, err)
		}
		c.Close()
	}
}

// Without TLS Login still succeeds with a mechanism that does not carry
// the password (SCRAM), which our server offers.
func TestLoginSCRAMWithoutTLS(t *testing.T) {
	s := startServer(t)
	ctx := testCtx(t)
	c, err := Dial(ctx, s.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(ctx, "alice", "alicepw"); err != nil {
		t.Fatal(err)
	}
}
