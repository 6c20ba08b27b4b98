package imapserver_test

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/tls"
	"testing"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/internal/deflate"
	"github.com/posthorn/posthorn/internal/tlsutil"
)

// compress turns on COMPRESS=DEFLATE on a raw test connection: after the
// tagged OK both directions are raw DEFLATE (RFC 4978 §3).
func (c *testConn) compress() {
	c.t.Helper()
	c.run(`
C: Z1 COMPRESS DEFLATE
S: Z1 OK DEFLATE active`)
	zc, err := deflate.NewConn(c.conn, deflate.Options{Reader: c.br})
	if err != nil {
		c.t.Fatal(err)
	}
	c.conn = zc
	c.br = bufio.NewReader(zc)
}

// RFC 4978 §3: COMPRESS=DEFLATE is offered after login and not once
// active; a second COMPRESS is refused with COMPRESSIONACTIVE; commands
// and responses flow compressed, each response complete without the
// client sending more.
func TestCompressRaw(t *testing.T) {
	ts := newTestServer(t)
	ts.deliver(msg1)
	c := ts.login()
	c.run(`
C: a CAPABILITY
S: ~ COMPRESS=DEFLATE
S: a OK CAPABILITY completed`)
	c.compress()
	c.run(`
C: b CAPABILITY
S: * CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ ENABLE IDLE UIDPLUS MOVE NAMESPACE ID UNSELECT CHILDREN SPECIAL-USE CREATE-SPECIAL-USE LIST-EXTENDED LIST-STATUS STATUS=SIZE ESEARCH SEARCHRES UTF8=ACCEPT APPENDLIMIT=67108864 BINARY CONDSTORE QRESYNC QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE MULTIAPPEND SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES
S: b OK CAPABILITY completed
C: c COMPRESS DEFLATE
S: c NO [COMPRESSIONACTIVE] DEFLATE is active already
C: d SELECT INBOX
S: ~ d OK
C: e FETCH 1 (UID)
S: * 1 FETCH (UID 1)
S: e OK FETCH completed`)
}

// COMPRESS after STARTTLS: compression goes inside TLS (RFC 4978 §3).
func TestCompressAfterStartTLS(t *testing.T) {
	cert, err := tlsutil.NewTestCert()
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, func(s *imapserver.Server) {
		s.AllowInsecureAuth = false
		s.TLSConfig = cert.ServerConfig()
	})
	ts.deliver(msg1)
	c := ts.dial()
	c.run(`
C: a1 STARTTLS
S: a1 OK Begin TLS negotiation now`)
	tc := tls.Client(c.conn, cert.ClientConfig())
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.conn, c.br = tc, bufio.NewReader(tc)
	c.run(`
C: a2 LOGIN alice secret
S: a2 OK [CAPABILITY...`)
	c.compress()
	c.run(`
C: a3 NAMESPACE
S: * NAMESPACE (("" "/")) NIL NIL
S: a3 OK NAMESPACE completed
C: a4 SELECT INBOX
S: ~ a4 OK
C: a5 FETCH 1 (UID)
S: * 1 FETCH (UID 1)
S: a5 OK FETCH completed`)
}

// RFC 4978 §3: the client compresses from the first command after
// COMPRESS; one that does not wait for the OK sends compressed bytes right
// behind the command, which the server must inflate, not read as text.
func TestCompressPipelined(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login()
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestSpeed)
	fw.Write([]byte("b NOOP\r\nc CAPABILITY\r\n"))
	fw.Flush()
	if _, err := c.conn.Write(append([]byte("a COMPRESS DEFLATE\r\n"), comp.Bytes()...)); err != nil {
		t.Fatal(err)
	}
	c.run(`S: a OK DEFLATE active`)
	zc, err := deflate.NewConn(c.conn, deflate.Options{Reader: c.br})
	if err != nil {
		t.Fatal(err)
	}
	c.br = bufio.NewReader(zc)
	c.run(`
S: b OK NOOP completed
S: * CAPABILITY ...
S: c OK CAPABILITY completed`)
}
