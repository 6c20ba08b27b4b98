package tlsutil

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	certOnce sync.Once
	testCert *TestCert
	certErr  error
)

func cert(t testing.TB) *TestCert {
	t.Helper()
	certOnce.Do(func() { testCert, certErr = NewTestCert() })
	if certErr != nil {
		t.Fatal(certErr)
	}
	return testCert
}

// pair returns both ends of a real TCP connection on 127.0.0.1.
func pair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { client.Close(); r.c.Close() })
	deadline := time.Now().Add(10 * time.Second)
	client.SetDeadline(deadline)
	r.c.SetDeadline(deadline)
	return client, r.c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestSTARTTLSPipelined follows RFC 3207 §4.2 and CVE-2011-0411:
//
//	C: STARTTLS\r\nRSET\r\n   (one segment, no wait for the reply)
//	S: (closes)
//
// ServerUpgrade must fail before the handshake; CheckPipelined must see it
// too, before the 220 reply.
func TestSTARTTLSPipelined(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func(conn net.Conn, br *bufio.Reader) error
	}{
		{"ServerUpgrade", func(conn net.Conn, br *bufio.Reader) error {
			_, err := ServerUpgrade(ctx(t), conn, br, ServerConfig(cert(t).ServerConfig(), ALPNSMTP))
			return err
		}},
		{"CheckPipelined", CheckPipelined},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := pair(t)
			if _, err := io.WriteString(client, "STARTTLS\r\nRSET\r\n"); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(server)
			line, err := br.ReadString('\n')
			if err != nil || line != "STARTTLS\r\n" {
				t.Fatalf("server read %q, %v", line, err)
			}
			if err := tc.check(server, br); !errors.Is(err, ErrPipelinedAfterSTARTTLS) {
				t.Fatalf("error = %v, want ErrPipelinedAfterSTARTTLS", err)
			}
		})
	}
	// The bytes come in a second segment, after the server read the
	// command line: only the socket probe can see them.
	t.Run("CheckPipelined second segment", func(t *testing.T) {
		client, server := pair(t)
		io.WriteString(client, "STARTTLS\r\n")
		br := bufio.NewReader(server)
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		io.WriteString(client, "RSET\r\n")
		time.Sleep(20 * time.Millisecond)
		if err := CheckPipelined(server, br); !errors.Is(err, ErrPipelinedAfterSTARTTLS) {
			t.Fatalf("error = %v, want ErrPipelinedAfterSTARTTLS", err)
		}
	})
}

// TestSTARTTLS is the conforming exchange:
//
//	C: STARTTLS
//	S: 220 2.0.0 Ready to start TLS
//	(handshake; S injects nothing)
//	C: NOOP       (over TLS)
//	S: 250 OK     (over TLS)
//
// and, on the client side, plaintext the server wrote after its 220 reply
// is dropped, never read as a TLS-protected reply.
func TestSTARTTLS(t *testing.T) {
	client, server := pair(t)
	tc := cert(t)
	errc := make(chan error, 1)
	go func() {
		errc <- func() error {
			br := bufio.NewReader(server)
			if line, err := br.ReadString('\n'); err != nil || line != "STARTTLS\r\n" {
				return errors.New("bad command " + line)
			}
			if err := CheckPipelined(server, br); err != nil {
				return err
			}
			// The 220 reply and an injected fake reply in one segment.
			io.WriteString(server, "220 2.0.0 Ready to start TLS\r\n250 injected\r\n")
			conn, err := ServerUpgrade(ctx(t), server, br, ServerConfig(tc.ServerConfig(), ALPNSMTP))
			if err != nil {
				return err
			}
			tbr := bufio.NewReader(conn)
			if line, err := tbr.ReadString('\n'); err != nil || line != "NOOP\r\n" {
				return errors.New("bad command over TLS " + line)
			}
			_, err = io.WriteString(conn, "250 OK\r\n")
			return err
		}()
	}()

	io.WriteString(client, "STARTTLS\r\n")
	br := bufio.NewReader(client)
	line, err := br.ReadString('\n')
	if err != nil || line != "220 2.0.0 Ready to start TLS\r\n" {
		t.Fatalf("reply %q, %v", line, err)
	}
	// Wait until the injected line is surely buffered, then drop it.
	for br.Buffered() < len("250 injected\r\n") {
		if _, err := br.Peek(br.Buffered() + 1); err != nil {
			t.Fatal(err)
		}
	}
	if n := DiscardBuffered(br); n != len("250 injected\r\n") {
		t.Fatalf("DiscardBuffered = %d", n)
	}
	conn, err := ClientUpgrade(ctx(t), client, ClientConfig(tc.ClientConfig(), "", ALPNSMTP))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(conn, "NOOP\r\n")
	line, err = bufio.NewReader(conn).ReadString('\n')
	if err != nil || line != "250 OK\r\n" {
		t.Fatalf("reply over TLS %q, %v", line, err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	cs := conn.ConnectionState()
	if cs.Version != tls.VersionTLS13 || cs.NegotiatedProtocol != ALPNSMTP || cs.ServerName != "localhost" {
		t.Fatalf("state: version %x ALPN %q SNI %q", cs.Version, cs.NegotiatedProtocol, cs.ServerName)
	}
}

// handshake runs a TLS handshake over a real socket with the two
// configurations and returns both errors and the server's state.
func handshake(t *testing.T, scfg, ccfg *tls.Config) (cs tls.ConnectionState, serverErr, clientErr error) {
	t.Helper()
	client, server := pair(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tc := tls.Server(server, scfg)
		serverErr = tc.HandshakeContext(ctx(t))
		if serverErr == nil {
			cs = tc.ConnectionState()
			// Read until the client closes, so its handshake completes.
			io.Copy(io.Discard, tc)
		}
	}()
	cc := tls.Client(client, ccfg)
	clientErr = cc.HandshakeContext(ctx(t))
	if clientErr == nil {
		// TLS 1.3 clients finish before the server; a failure on the
		// server side shows up on the client's first read.
		cc.Write([]byte("x"))
		cc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, err := cc.Read(make([]byte, 1))
		var ne net.Error
		if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			clientErr = err
		}
	}
	cc.Close()
	client.Close()
	<-done
	return cs, serverErr, clientErr
}

func TestALPN(t *testing.T) {
	tc := cert(t)
	scfg := ServerConfig(tc.ServerConfig(), ALPNIMAP)
	tests := []struct {
		name   string
		offer  []string
		ok     bool
		chosen string
	}{
		{"no ALPN (most mail clients)", nil, true, ""},
		{"ours", []string{"imap"}, true, "imap"},
		{"ours among others", []string{"h2", "http/1.1", "imap"}, true, "imap"},
		{"http/1.1 (ALPACA)", []string{"http/1.1"}, false, ""},
		{"h2 and http/1.1", []string{"h2", "http/1.1"}, false, ""},
		{"another mail protocol", []string{"pop3"}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ccfg := tc.ClientConfig()
			ccfg.NextProtos = tt.offer
			cs, serr, cerr := handshake(t, scfg, ccfg)
			if tt.ok {
				if serr != nil || cerr != nil {
					t.Fatalf("handshake failed: server %v, client %v", serr, cerr)
				}
				if cs.NegotiatedProtocol != tt.chosen {
					t.Fatalf("negotiated %q, want %q", cs.NegotiatedProtocol, tt.chosen)
				}
				return
			}
			if serr == nil || cerr == nil {
				t.Fatalf("handshake succeeded: server %v, client %v", serr, cerr)
			}
			if !strings.Contains(cerr.Error(), "no application protocol") {
				t.Errorf("client error %v, want the no_application_protocol alert", cerr)
			}
		})
	}
}

func TestMinVersion(t *testing.T) {
	tc := cert(t)
	scfg := ServerConfig(tc.ServerConfig(), ALPNPOP3)
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		ccfg := tc.ClientConfig()
		ccfg.MinVersion, ccfg.MaxVersion = v, v
		_, serr, cerr := handshake(t, scfg, ccfg)
		if serr == nil || cerr == nil {
			t.Fatalf("version %x accepted: server %v client %v", v, serr, cerr)
		}
	}
	ccfg := tc.ClientConfig()
	ccfg.MaxVersion = tls.VersionTLS12
	if cs, serr, cerr := handshake(t, scfg, ccfg); serr != nil || cerr != nil || cs.Version != tls.VersionTLS12 {
		t.Fatalf("TLS 1.2: server %v client %v version %x", serr, cerr, cs.Version)
	}
	// A base with an even older minimum is raised; a higher one is kept.
	if got := ServerConfig(&tls.Config{MinVersion: tls.VersionTLS10}, "").MinVersion; got != tls.VersionTLS12 {
		t.Fatalf("MinVersion %x", got)
	}
	if got := ClientConfig(&tls.Config{MinVersion: tls.VersionTLS13}, "", "").MinVersion; got != tls.VersionTLS13 {
		t.Fatalf("MinVersion %x", got)
	}
}

func TestConfigsDoNotTouchBase(t *testing.T) {
	base := &tls.Config{NextProtos: []string{"x"}}
	s := ServerConfig(base, ALPNSMTP)
	c := ClientConfig(base, "mail.example", ALPNSMTP)
	if base.MinVersion != 0 || base.NextProtos[0] != "x" || base.ServerName != "" {
		t.Fatal("base modified")
	}
	if s.NextProtos[0] != "smtp" || c.NextProtos[0] != "smtp" || c.ServerName != "mail.example" {
		t.Fatalf("server %v client %v %q", s.NextProtos, c.NextProtos, c.ServerName)
	}
	if got := ServerConfig(base, "").NextProtos; len(got) != 1 || got[0] != "x" {
		t.Fatalf("empty alpn changed NextProtos to %v", got)
	}
	if ServerConfig(nil, "").MinVersion != tls.VersionTLS12 || ClientConfig(nil, "", "").MinVersion != tls.VersionTLS12 {
		t.Fatal("nil base")
	}
}

func TestServerNames(t *testing.T) {
	tc, err := NewTestCert("mail.example.org", "imap.example.org")
	if err != nil {
		t.Fatal(err)
	}
	scfg := ServerNames(ServerConfig(tc.ServerConfig(), ALPNIMAP), "Mail.Example.org.", "*.example.org", "localhost")
	for _, tt := range []struct {
		sni string
		ok  bool
	}{
		{"mail.example.org", true},
		{"MAIL.EXAMPLE.ORG", true},
		{"imap.example.org", true},
		{"localhost", true},
		{"", true}, // connected by IP: no SNI
		{"example.org", false},
		{"a.b.example.org", false},
		{"evil.example", false},
	} {
		ccfg := tc.ClientConfig()
		ccfg.ServerName = tt.sni
		if tt.sni == "" || tt.sni == "evil.example" || tt.sni == "example.org" || tt.sni == "a.b.example.org" {
			ccfg.InsecureSkipVerify = true // the refusal must come from the server
			ccfg.ServerName = tt.sni
		}
		cs, serr, cerr := handshake(t, scfg, ccfg)
		if tt.ok && (serr != nil || cerr != nil || !strings.EqualFold(cs.ServerName, tt.sni)) {
			t.Errorf("SNI %q refused: server %v client %v (recorded %q)", tt.sni, serr, cerr, cs.ServerName)
		}
		var se *SNIError
		if !tt.ok && !errors.As(serr, &se) {
			t.Errorf("SNI %q: server error %v, want *SNIError", tt.sni, serr)
		}
	}
	// An existing GetConfigForClient still runs.
	called := false
	base := tc.ServerConfig()
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { called = true; return nil, nil }
	if _, serr, cerr := handshake(t, ServerNames(base, "localhost"), tc.ClientConfig()); serr != nil || cerr != nil || !called {
		t.Fatalf("chained: server %v client %v called %v", serr, cerr, called)
	}
}

func TestListener(t *testing.T) {
	tc := cert(t)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewListener(inner, ServerConfig(tc.ServerConfig(), ALPNPOP3))
	defer ln.Close()
	go func() {
		// A client that connects and says nothing must not hold up Accept.
		silent, err := net.Dial("tcp", inner.Addr().String())
		if err == nil {
			defer silent.Close()
		}
		conn, err := tls.Dial("tcp", inner.Addr().String(), ClientConfig(tc.ClientConfig(), "", ALPNPOP3))
		if err != nil {
			return
		}
		defer conn.Close()
		io.Copy(conn, conn)
	}()
	for range 2 {
		conn, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		tconn, ok := conn.(*tls.Conn)
		if !ok {
			t.Fatalf("Accept returned %T", conn)
		}
		tconn.SetDeadline(time.Now().Add(300 * time.Millisecond))
		if err := tconn.HandshakeContext(ctx(t)); err != nil {
			continue // the silent one
		}
		tconn.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(tconn, "+OK\r\n")
		line, err := bufio.NewReader(tconn).ReadString('\n')
		if err != nil || line != "+OK\r\n" {
			t.Fatalf("echo %q, %v", line, err)
		}
		if p := tconn.ConnectionState().NegotiatedProtocol; p != ALPNPOP3 {
			t.Fatalf("ALPN %q", p)
		}
		return
	}
	t.Fatal("no TLS connection accepted")
}

// TestChannelBindingAvailable makes sure the configurations leave what
// SCRAM-PLUS needs: exporter keying material on TLS 1.3 (RFC 9266) and
// tls-unique on a full TLS 1.2 handshake (RFC 5929). The sasl package
// tests the binding itself.
func TestChannelBindingAvailable(t *testing.T) {
	tc := cert(t)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		ccfg := ClientConfig(tc.ClientConfig(), "", ALPNIMAP)
		ccfg.MaxVersion = v
		cs, serr, cerr := handshake(t, ServerConfig(tc.ServerConfig(), ALPNIMAP), ccfg)
		if serr != nil || cerr != nil {
			t.Fatal(serr, cerr)
		}
		if v == tls.VersionTLS12 && len(cs.TLSUnique) == 0 {
			t.Error("TLS 1.2: no tls-unique")
		}
		if _, err := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32); err != nil {
			t.Errorf("version %x: no exporter: %v", v, err)
		}
	}
}

func TestTestCert(t *testing.T) {
	tc := cert(t)
	leaf := tc.Certificate.Leaf
	for _, host := range []string{"127.0.0.1", "::1", "localhost"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: tc.Pool}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if time.Since(leaf.NotBefore) < 59*time.Minute || time.Until(leaf.NotAfter) < 9*365*24*time.Hour {
		t.Errorf("validity %v to %v", leaf.NotBefore, leaf.NotAfter)
	}
	dir := t.TempDir()
	certFile, keyFile, err := tc.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", fi.Mode(), err)
	}
	extra, err := NewTestCert("mail.test", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"mail.test", "192.0.2.1", "localhost"} {
		if _, err := extra.Certificate.Leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: extra.Pool}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
}

func waitABit() { time.Sleep(50 * time.Millisecond) }

// TestUpgradeHonoursContext: a client that never starts the handshake
// cannot hold the server (or a server the client) past the context.
func TestUpgradeHonoursContext(t *testing.T) {
	tc := cert(t)
	client, server := pair(t)
	c, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := ServerUpgrade(c, server, bufio.NewReader(server), ServerConfig(tc.ServerConfig(), ALPNSMTP)); err == nil {
		t.Fatal("handshake with a silent client succeeded")
	}
	c2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if _, err := ClientUpgrade(c2, client, ClientConfig(tc.ClientConfig(), "", ALPNSMTP)); err == nil {
		t.Fatal("handshake with a silent server succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

// replyThenTLS is a client's view of a connection on which it pipelined
// its ClientHello behind STARTTLS: the first Read consumes the plaintext
// reply line, then TLS records follow.
type replyThenTLS struct {
	net.Conn
	br    *bufio.Reader
	reply string
	got   bool
}

func (c *replyThenTLS) Read(p []byte) (int, error) {
	if !c.got {
		line, err := c.br.ReadString('\n')
		if err != nil {
			return 0, err
		}
		c.reply, c.got = line, true
	}
	return c.br.Read(p)
}

// TestSTARTTLSPipelinedClientHello: RFC 9051 §6.2.1 option 1. The client
// sends its ClientHello right behind the command; the server feeds the
// buffered bytes to the handshake:
//
//	C: a STARTTLS\r\n<ClientHello>
//	S: a OK Begin TLS negotiation now
//	(handshake completes)
func TestSTARTTLSPipelinedClientHello(t *testing.T) {
	tc := cert(t)
	client, server := pair(t)
	errc := make(chan error, 1)
	go func() {
		errc <- func() error {
			br := bufio.NewReader(server)
			if line, err := br.ReadString('\n'); err != nil || line != "a STARTTLS\r\n" {
				return fmt.Errorf("command %q, %v", line, err)
			}
			// Make sure the ClientHello is in the buffer.
			if _, err := br.Peek(5); err != nil {
				return err
			}
			if err := CheckPipelined(server, br); err != nil {
				return fmt.Errorf("CheckPipelined: %w", err)
			}
			io.WriteString(server, "a OK Begin TLS negotiation now\r\n")
			conn, err := ServerUpgrade(ctx(t), server, br, ServerConfig(tc.ServerConfig(), ALPNIMAP))
			if err != nil {
				return err
			}
			_, err = io.WriteString(conn, "* OK over TLS\r\n")
			return err
		}()
	}()
	io.WriteString(client, "a STARTTLS\r\n")
	rc := &replyThenTLS{Conn: client, br: bufio.NewReader(client)}
	conn := tls.Client(rc, ClientConfig(tc.ClientConfig(), "", ALPNIMAP))
	if err := conn.HandshakeContext(ctx(t)); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || line != "* OK over TLS\r\n" || rc.reply != "a OK Begin TLS negotiation now\r\n" {
		t.Fatalf("reply %q, over TLS %q, %v", rc.reply, line, err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
