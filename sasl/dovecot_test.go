package sasl

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testpeer"
)

// imapAuth runs IMAP AUTHENTICATE (RFC 9051 §6.2.2, SASL-IR RFC 4959) with c
// over conn and returns nil when the server said OK.
func imapAuth(t *testing.T, conn *tls.Conn, c Client) error {
	t.Helper()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(conn)
	readLine := func() string {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return strings.TrimRight(line, "\r\n")
	}
	readLine() // greeting
	mech, ir, err := c.Start()
	if err != nil {
		return err
	}
	cmd := "a AUTHENTICATE " + mech
	if ir != nil {
		if len(ir) == 0 {
			cmd += " ="
		} else {
			cmd += " " + base64.StdEncoding.EncodeToString(ir)
		}
	}
	fmt.Fprintf(conn, "%s\r\n", cmd)
	for {
		line := readLine()
		switch {
		case strings.HasPrefix(line, "+"):
			ch, err := base64.StdEncoding.DecodeString(strings.TrimSpace(strings.TrimPrefix(line, "+")))
			if err != nil {
				t.Fatalf("S: %q: %v", line, err)
			}
			resp, err := c.Next(ch)
			if err != nil {
				fmt.Fprintf(conn, "*\r\n")
				readLine()
				return err
			}
			fmt.Fprintf(conn, "%s\r\n", base64.StdEncoding.EncodeToString(resp))
		case strings.HasPrefix(line, "a OK"):
			if cp, ok := c.(Completer); ok {
				return cp.Complete()
			}
			return nil
		case strings.HasPrefix(line, "a "):
			return fmt.Errorf("%w: %s", ErrAuthFailed, line)
		}
	}
}

// Our clients against Dovecot's IMAP server: PLAIN, LOGIN, CRAM-MD5,
// SCRAM-SHA-1 and SCRAM-SHA-256, with and without an initial response.
// Dovecot 2.3 has no channel binding, so a client that can bind sends the
// "y" flag, which Dovecot must accept (RFC 5802 §6).
func TestDovecotInterop(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	d := testpeer.StartDovecot(t, testpeer.DovecotOptions{Users: map[string]string{"alice": "pässwörd"}})
	dial := func() *tls.Conn {
		conn, err := tls.Dial("tcp", d.IMAPS, d.TLSConfig())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	const pw = "pässwörd"
	tests := []struct {
		name   string
		client func(cb *ChannelBinding) Client
	}{
		{"PLAIN", func(*ChannelBinding) Client { return NewPlainClient("", "alice", pw) }},
		{"LOGIN", func(*ChannelBinding) Client { return NewLoginClient("alice", pw) }},
		{"CRAM-MD5", func(*ChannelBinding) Client { return NewCRAMMD5Client("alice", pw) }},
		{"SCRAM-SHA-1", func(*ChannelBinding) Client {
			c, _ := NewSCRAMClient(SCRAMOptions{Hash: SHA1, Username: "alice", Password: pw})
			return c
		}},
		{"SCRAM-SHA-256", func(*ChannelBinding) Client {
			c, _ := NewSCRAMClient(SCRAMOptions{Username: "alice", Password: pw})
			return c
		}},
		{"SCRAM-SHA-256 y flag", func(cb *ChannelBinding) Client {
			c, _ := NewSCRAMClient(SCRAMOptions{Username: "alice", Password: pw, ChannelBinding: cb})
			return c
		}},
		{"Choose", func(cb *ChannelBinding) Client {
			c, err := Choose([]string{"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"},
				ClientOptions{Username: "alice", Password: pw, TLS: true, ChannelBinding: cb})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := dial()
			st := conn.ConnectionState()
			cb := ChannelBindingFromTLS(&st)
			if err := imapAuth(t, conn, tt.client(cb)); err != nil {
				t.Fatalf("%v (log: %s)", err, d.LogFile)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		c, _ := NewSCRAMClient(SCRAMOptions{Username: "alice", Password: "wrong"})
		if err := imapAuth(t, dial(), c); err == nil {
			t.Fatal("wrong password accepted")
		}
	})
	t.Run("server signature checked", func(t *testing.T) {
		c, _ := NewSCRAMClient(SCRAMOptions{Username: "alice", Password: pw})
		err := imapAuth(t, dial(), c)
		if err != nil || errors.Is(c.(Completer).Complete(), ErrMutualAuth) {
			t.Fatalf("err=%v Complete=%v", err, c.(Completer).Complete())
		}
	})
}
