package imapclient

import (
	"bufio"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/internal/tlsutil"
	"github.com/posthorn/posthorn/sasl"
)

// RFC 9051 §6.2.2: AUTHENTICATE with each mechanism Dovecot offers, after
// STARTTLS (§6.2.1) so that plaintext mechanisms are allowed.
func TestDovecotAuthenticate(t *testing.T) {
	d := sharedDovecot(t)
	scram := func(h sasl.SCRAMHash) func() sasl.Client {
		return func() sasl.Client {
			c, err := sasl.NewSCRAMClient(sasl.SCRAMOptions{Hash: h, Username: "alice", Password: "alicepw"})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
	}
	mechs := []struct {
		name string
		new  func() sasl.Client
	}{
		{"PLAIN", func() sasl.Client { return sasl.NewPlainClient("", "alice", "alicepw") }},
		{"LOGIN", func() sasl.Client { return sasl.NewLoginClient("alice", "alicepw") }},
		{"CRAM-MD5", func() sasl.Client { return sasl.NewCRAMMD5Client("alice", "alicepw") }},
		{"SCRAM-SHA-1", scram(sasl.SHA1)},
		{"SCRAM-SHA-256", scram(sasl.SHA256)},
	}
	for _, m := range mechs {
		t.Run(m.name, func(t *testing.T) {
			ctx := testCtx(t)
			c, err := DialStartTLS(ctx, d.IMAP, &Options{TLSConfig: d.TLSConfig()})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if !c.Has(ctx, "AUTH="+m.name) {
				t.Fatalf("Dovecot does not offer %s: %v", m.name, c.Caps())
			}
			if err := c.Auth(ctx, m.new()); err != nil {
				t.Fatal(err)
			}
			if c.State() != StateAuthenticated {
				t.Fatal("not authenticated")
			}
			if _, err := c.Select(ctx, "INBOX", nil); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("WrongPassword", func(t *testing.T) {
		ctx := testCtx(t)
		c, err := DialTLS(ctx, d.IMAPS, &Options{TLSConfig: d.TLSConfig()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		err = c.Auth(ctx, sasl.NewPlainClient("", "alice", "nope"))
		var ie *imap.Error
		if !errors.As(err, &ie) || ie.Type != imap.StatusNO {
			t.Fatalf("got %v", err)
		}
		// NO [AUTHENTICATIONFAILED] is a wrong password in all three clients.
		if !errors.Is(err, sasl.ErrAuthFailed) {
			t.Fatalf("%v does not match sasl.ErrAuthFailed", err)
		}
		// The strongest mechanism, chosen from the offer, over implicit TLS.
		if err := c.Login(ctx, "alice", "alicepw"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestOurServerAuthenticate(t *testing.T) {
	s := startServer(t)
	ctx := testCtx(t)
	scram, err := sasl.NewSCRAMClient(sasl.SCRAMOptions{Hash: sasl.SHA256, Username: "alice", Password: "alicepw"})
	if err != nil {
		t.Fatal(err)
	}
	for mech, sc := range map[string]sasl.Client{"PLAIN": sasl.NewPlainClient("", "alice", "alicepw"), "SCRAM-SHA-256": scram} {
		c, err := Dial(ctx, s.addr, &Options{AllowInsecureAuth: true})
		if err != nil {
			t.Fatal(err)
		}
		err = c.Auth(ctx, sc)
		if err != nil {
			t.Fatalf("%s: %v", mech, err)
		}
		if _, err := c.Select(ctx, "INBOX", nil); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
}

// fakeServer runs script on one accepted connection.
func fakeServer(t *testing.T, script func(conn net.Conn, r *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		script(conn, bufio.NewReader(conn))
	}()
	return ln.Addr().String()
}

// RFC 9051 §6.2.1: the client discards what the server sent in plaintext
// after the OK to STARTTLS (an injected response must not be believed).
func TestStartTLSDiscardsInjected(t *testing.T) {
	cert, err := tlsutil.NewTestCert()
	if err != nil {
		t.Fatal(err)
	}
	addr := fakeServer(t, func(conn net.Conn, r *bufio.Reader) {
		conn.Write([]byte("* OK ready\r\n"))
		line, _ := r.ReadString('\n') // T1 STARTTLS
		tag := strings.Fields(line)[0]
		// The injection: a fake capability list in the same segment.
		conn.Write([]byte(tag + " OK begin TLS\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN INJECTED\r\n"))
		srv := tlsServer(conn, cert)
		if err := srv.Handshake(); err != nil {
			return
		}
		br := bufio.NewReader(srv)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			tag := strings.Fields(line)[0]
			if strings.Contains(line, "CAPABILITY") {
				srv.Write([]byte("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n"))
			}
			srv.Write([]byte(tag + " OK done\r\n"))
		}
	})
	ctx := testCtx(t)
	c, err := DialStartTLS(ctx, addr, &Options{TLSConfig: cert.ClientConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	caps, err := c.Capability(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range caps {
		if s == "INJECTED" {
			t.Fatal("plaintext injected before the handshake was used")
		}
	}
}

// RFC 9051 §6.2.1 and RFC 8314: PREAUTH on a connection that must be
// upgraded with STARTTLS is refused.
func TestStartTLSRefusesPreauth(t *testing.T) {
	addr := fakeServer(t, func(conn net.Conn, r *bufio.Reader) {
		conn.Write([]byte("* PREAUTH welcome\r\n"))
		r.ReadString('\n')
	})
	ctx := testCtx(t)
	_, err := DialStartTLS(ctx, addr, nil)
	if !errors.Is(err, ErrPreauthStartTLS) {
		t.Fatalf("got %v", err)
	}
}

func tlsServer(conn net.Conn, cert *tlsutil.TestCert) *tls.Conn {
	return tls.Server(conn, cert.ServerConfig())
}
