package imapserver_test

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"net"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/internal/tlsutil"
	"github.com/posthorn/posthorn/sasl"
)

// scramExchange runs AUTHENTICATE with a sasl client and returns the
// tagged response line.
func scramExchange(c *testConn, tag string, cl sasl.Client) string {
	c.t.Helper()
	mech, ir, err := cl.Start()
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(tag + " AUTHENTICATE " + mech + " " + base64.StdEncoding.EncodeToString(ir))
	for {
		l := c.readLine()
		if strings.HasPrefix(l, tag+" ") {
			return l
		}
		if !strings.HasPrefix(l, "+ ") {
			c.t.Fatalf("got %q", l)
		}
		chal, err := base64.StdEncoding.DecodeString(l[2:])
		if err != nil {
			c.t.Fatal(err)
		}
		resp, err := cl.Next(chal)
		if err != nil {
			resp = nil // let the server finish the exchange; "*" would abort
		}
		c.send(base64.StdEncoding.EncodeToString(resp))
	}
}

// TestChannelBindingSingleUse: RFC 9266 §4.1 — the channel binding of a
// TLS connection serves one -PLUS exchange. Once a SCRAM-SHA-256-PLUS
// exchange used it (here, one with a wrong password), -PLUS is no longer
// offered nor accepted on that connection; plain SCRAM still works. A
// fresh connection gets a fresh binding and -PLUS succeeds.
func TestChannelBindingSingleUse(t *testing.T) {
	cert, err := tlsutil.NewTestCert()
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t)
	srv := &imapserver.Server{Backend: ts.store, TLSConfig: cert.ServerConfig()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(ln)
	defer srv.Close()
	dial := func() (*testConn, *sasl.ChannelBinding) {
		conn, err := tls.Dial("tcp", ln.Addr().String(), cert.ClientConfig())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		st := conn.ConnectionState()
		c := &testConn{t: t, conn: conn, br: bufio.NewReader(conn)}
		c.run(`S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 AUTH=SCRAM-SHA-256-PLUS...`)
		return c, sasl.ChannelBindingFromTLS(&st)
	}
	plus := func(cb *sasl.ChannelBinding, password string) sasl.Client {
		cl, err := sasl.NewSCRAMClient(sasl.SCRAMOptions{Hash: sasl.SHA256, Username: "alice", Password: password, ChannelBinding: cb, Plus: true})
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}

	c, cb := dial()
	if l := scramExchange(c, "a1", plus(cb, "wrong")); !strings.HasPrefix(l, "a1 NO [AUTHENTICATIONFAILED]") {
		t.Fatalf("a1: %q", l)
	}
	c.run(`
C: a2 CAPABILITY
S: * CAPABILITY IMAP4rev1 IMAP4rev2 AUTH=SCRAM-SHA-256 AUTH=SCRAM-SHA-1...
S: a2 OK CAPABILITY completed
C: a3 AUTHENTICATE SCRAM-SHA-256-PLUS
S: a3 NO [CANNOT] Unsupported authentication mechanism`)
	// The client's binding is spent too: it falls back to plain SCRAM.
	cl, err := sasl.NewSCRAMClient(sasl.SCRAMOptions{Hash: sasl.SHA256, Username: "alice", Password: "secret", ChannelBinding: cb})
	if err != nil {
		t.Fatal(err)
	}
	if l := scramExchange(c, "a4", cl); !strings.HasPrefix(l, "a4 OK") {
		t.Fatalf("a4: %q", l)
	}

	c2, cb2 := dial()
	if l := scramExchange(c2, "b1", plus(cb2, "secret")); !strings.HasPrefix(l, "b1 OK") {
		t.Fatalf("b1: %q", l)
	}
}
