package imapclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
	"github.com/posthorn/posthorn/internal/tlsutil"
	"github.com/posthorn/posthorn/sasl"
)

// startTLSServer runs our server with a test certificate: implicit TLS on
// one listener, STARTTLS on the other.
func startTLSServer(t *testing.T) (implicit, starttls string, cert *tlsutil.TestCert) {
	t.Helper()
	cert, err := tlsutil.NewTestCert("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	store := imapmem.New()
	if err := store.AddUser("alice", "alicepw"); err != nil {
		t.Fatal(err)
	}
	srv := &imapserver.Server{Backend: store, TLSConfig: cert.ServerConfig()}
	ln1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(ln1)
	go srv.Serve(ln2)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return ln1.Addr().String(), ln2.Addr().String(), cert
}

// RFC 5802 §6 and RFC 9266: SCRAM-SHA-256-PLUS binds the authentication
// to the TLS connection with tls-exporter (TLS 1.3), over implicit TLS and
// after STARTTLS; a client whose binding data differ from the server's
// (a man in the middle terminating TLS) is refused.
func TestOurServerSCRAMPlus(t *testing.T) {
	implicit, starttls, cert := startTLSServer(t)
	dials := map[string]func(ctx context.Context) (*Client, error){
		"implicit": func(ctx context.Context) (*Client, error) {
			return DialTLS(ctx, implicit, &Options{TLSConfig: cert.ClientConfig()})
		},
		"STARTTLS": func(ctx context.Context) (*Client, error) {
			return DialStartTLS(ctx, starttls, &Options{TLSConfig: cert.ClientConfig()})
		},
	}
	for name, dial := range dials {
		t.Run(name, func(t *testing.T) {
			ctx := testCtx(t)
			c, err := dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if !c.Has(ctx, "AUTH=SCRAM-SHA-256-PLUS") {
				t.Fatalf("-PLUS not offered over TLS: %v", c.Caps())
			}
			cs, ok := c.TLSConnectionState()
			if !ok || cs.Version != tls.VersionTLS13 {
				t.Fatalf("TLS state %v %x", ok, cs.Version)
			}
			cb := sasl.ChannelBindingFromTLS(&cs)
			if cb == nil || cb.Type != "tls-exporter" {
				t.Fatalf("channel binding %+v", cb)
			}
			sc, err := sasl.NewSCRAMClient(sasl.SCRAMOptions{Hash: sasl.SHA256, Username: "alice", Password: "alicepw", ChannelBinding: cb, Plus: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Auth(ctx, sc); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Select(ctx, "INBOX", nil); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("Login chooses -PLUS", func(t *testing.T) {
		ctx := testCtx(t)
		c, err := dials["implicit"](ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Login(ctx, "alice", "alicepw"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("wrong binding", func(t *testing.T) {
		ctx := testCtx(t)
		c, err := dials["implicit"](ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// The binding of another TLS connection, as a relaying attacker
		// would have.
		cb := &sasl.ChannelBinding{Type: "tls-exporter", Data: make([]byte, 32)}
		sc, err := sasl.NewSCRAMClient(sasl.SCRAMOptions{Username: "alice", Password: "alicepw", ChannelBinding: cb, Plus: true})
		if err != nil {
			t.Fatal(err)
		}
		err = c.Auth(ctx, sc)
		if !errors.Is(err, &imap.Error{Type: imap.StatusNO}) {
			t.Fatalf("mismatched channel binding: %v", err)
		}
		if c.State() != StateNotAuthenticated {
			t.Fatalf("state %v", c.State())
		}
	})
}

// Dovecot 2.3 offers no -PLUS mechanism; the test runs when a Dovecot
// that does is installed.
func TestDovecotSCRAMPlus(t *testing.T) {
	d := sharedDovecot(t)
	ctx := testCtx(t)
	c, err := DialTLS(ctx, d.IMAPS, &Options{TLSConfig: d.TLSConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.Has(ctx, "AUTH=SCRAM-SHA-256-PLUS") {
		t.Skipf("this Dovecot does not offer SCRAM-SHA-256-PLUS: %v", c.Caps())
	}
	if err := c.Login(ctx, "alice", "alicepw"); err != nil {
		t.Fatal(err)
	}
}

// RFC 7817 §3.1 and RFC 6125: the certificate must name the host the
// client was asked to connect to. The test certificate names
// "localhost", 127.0.0.1 and ::1: dialling 127.0.0.1 without a ServerName
// checks the IP address (the reference identifier is the host dialled),
// naming "localhost" works, and naming another host fails, over implicit
// TLS and STARTTLS alike.
func TestTLSHostnameChecked(t *testing.T) {
	cert, err := tlsutil.NewTestCert("localhost")
	if err != nil {
		t.Fatal(err)
	}
	store := imapmem.New()
	srv := &imapserver.Server{Backend: store, TLSConfig: cert.ServerConfig()}
	ln1, _ := net.Listen("tcp", "127.0.0.1:0")
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.ServeTLS(ln1)
	go srv.Serve(ln2)
	defer srv.Shutdown(context.Background())
	for _, tc := range []struct {
		serverName string
		ok         bool
	}{
		{"", true},
		{"mail.example.org", false},
		{"localhost", true},
	} {
		cfg := &tls.Config{RootCAs: cert.Pool, ServerName: tc.serverName}
		ctx := testCtx(t)
		for _, dial := range []struct {
			name string
			fn   func(context.Context, string, *Options) (*Client, error)
			addr string
		}{{"implicit", DialTLS, ln1.Addr().String()}, {"STARTTLS", DialStartTLS, ln2.Addr().String()}} {
			c, err := dial.fn(ctx, dial.addr, &Options{TLSConfig: cfg})
			if c != nil {
				c.Close()
			}
			if (err == nil) != tc.ok {
				t.Errorf("%s with ServerName %q: err %v, want ok=%v", dial.name, tc.serverName, err, tc.ok)
			}
			if err != nil {
				var herr x509.HostnameError
				if !errors.As(err, &herr) {
					t.Errorf("%s with ServerName %q: %v is not a hostname error", dial.name, tc.serverName, err)
				}
			}
		}
	}
}
