package pop3client_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/posthorn/posthorn/internal/testpeer"
	"github.com/posthorn/posthorn/pop3/pop3client"
	"github.com/posthorn/posthorn/sasl"
)

// Our client against Dovecot's POP3: STLS and implicit TLS, SASL chosen
// from CAPA (SCRAM), USER/PASS, CRAM-MD5, byte-identical RETR of
// dot-stuffed messages, TOP, pipelined DELE.
func TestDovecot(t *testing.T) {
	d := testpeer.StartDovecot(t, testpeer.DovecotOptions{})
	maildir := filepath.Join(d.Dir, "mail", "alice", "Maildir")
	// Dovecot's mail processes run as another user (nobody when the
	// tests run as root): the private folder is world-writable.
	for _, sub := range []string{"new", "cur", "tmp"} {
		if err := os.MkdirAll(filepath.Join(maildir, sub), 0o777); err != nil {
			t.Fatal(err)
		}
	}
	for dir := maildir; dir != d.Dir; dir = filepath.Dir(dir) {
		os.Chmod(dir, 0o777)
	}
	for _, sub := range []string{"new", "cur", "tmp"} {
		os.Chmod(filepath.Join(maildir, sub), 0o777)
	}
	for i, m := range dotty {
		name := fmt.Sprintf("17000000%02d.M%dP1.posthorn", i, i)
		if err := os.WriteFile(filepath.Join(maildir, "new", name), []byte(m), 0o666); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(maildir, "new", name), 0o666)
	}
	pw := d.Users["alice"]
	logins := []struct {
		name  string
		tls   bool
		login func(ctx context.Context, c *pop3client.Client) error
	}{
		{"STLS/Login", false, func(ctx context.Context, c *pop3client.Client) error { return c.Login(ctx, "alice", pw) }},
		{"STLS/USER", false, func(ctx context.Context, c *pop3client.Client) error { return c.User(ctx, "alice", pw) }},
		{"implicit/CRAM-MD5", true, func(ctx context.Context, c *pop3client.Client) error {
			return c.Auth(ctx, sasl.NewCRAMMD5Client("alice", pw))
		}},
		{"implicit/PLAIN", true, func(ctx context.Context, c *pop3client.Client) error {
			return c.Auth(ctx, sasl.NewPlainClient("", "alice", pw))
		}},
	}
	for _, tc := range logins {
		t.Run(tc.name, func(t *testing.T) {
			ctx := ctxT(t)
			var c *pop3client.Client
			var err error
			opts := &pop3client.Options{TLSConfig: d.TLSConfig()}
			if tc.tls {
				c, err = pop3client.DialTLS(ctx, d.POP3S, opts)
			} else {
				c, err = pop3client.Dial(ctx, d.POP3, opts)
				if err == nil {
					err = c.StartTLS(ctx, nil)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := tc.login(ctx, c); err != nil {
				t.Fatalf("login: %v", err)
			}
			n, _, err := c.Stat(ctx)
			if err != nil || n != len(dotty) {
				log, _ := os.ReadFile(d.LogFile)
				t.Fatalf("STAT = %d, %v\n%s", n, err, log)
			}
			for i, want := range dotty {
				r, err := c.Retr(ctx, i+1)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(r)
				if i == 2 {
					// Dovecot 2.3 does not stuff a dot at the start of the
					// first line (wire: "+OK 33 octets\r\n.starts with..."),
					// against RFC 1939 §3; a conforming client unstuffs it.
					want = want[1:]
				}
				if err != nil || string(got) != want {
					t.Fatalf("RETR %d = %q, %v; want %q", i+1, got, err, want)
				}
			}
			r, err := c.Top(ctx, 1, 1)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := io.ReadAll(r); string(got) != "Subject: dots\r\n\r\n.\r\n" {
				t.Errorf("TOP 1 1 = %q", got)
			}
			if _, err := c.Uidl(ctx); err != nil {
				t.Fatal(err)
			}
			if err := c.DeleMany(ctx, []int{1, 2}); err != nil {
				t.Fatal(err)
			}
			// RSET: Dovecot keeps everything for the next subtest.
			if err := c.Rset(ctx); err != nil {
				t.Fatal(err)
			}
			if err := c.Quit(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
