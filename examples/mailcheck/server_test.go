package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"math/big"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imaptest"
	"github.com/posthorn/posthorn/pop3/pop3test"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp/smtptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// svcAt is the named service moved to the port of a test server's address.
func svcAt(t *testing.T, name, addr string) Service {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	svcs, err := parsePorts([]string{name + "=" + port})
	require.NoError(t, err)
	return svcs[0]
}

func testEnv(roots *x509.CertPool) *Env {
	return &Env{Timeout: 5 * time.Second, RootCAs: roots, HelloName: "mailcheck.test"}
}

func ids(r *Report, sev ...Severity) []string {
	var out []string
	for _, f := range r.Findings {
		for _, s := range sev {
			if f.Severity == s {
				out = append(out, f.ID)
			}
		}
	}
	return out
}

func problemIDs(r *Report) []string { return ids(r, Error, Warn) }

func text(r *Report) string {
	var b strings.Builder
	_ = r.WriteText(&b)
	return b.String()
}

// passwords is a one-user credential store for servers built in tests.
type passwords map[string]string

func (p passwords) VerifyPassword(_ context.Context, user, pass string) error {
	if p[user] == pass && pass != "" {
		return nil
	}
	return sasl.ErrAuthFailed
}

// makeCert makes a self-signed certificate for names, valid from notBefore
// to notAfter, and a pool that trusts it.
func makeCert(t *testing.T, notBefore, notAfter time.Time, names ...string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: names[0]},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func checkOne(t *testing.T, env *Env, svc Service, opts ServerOptions) *Report {
	t.Helper()
	opts.Services = []Service{svc}
	r := CheckServer(context.Background(), env, "127.0.0.1", opts)
	t.Log("\n" + text(r))
	return r
}

func TestServerGoodSubmission(t *testing.T) {
	srv := smtptest.NewUnstartedServer(t)
	srv.Server.Mode = 1 // submission
	srv.AddUser("bob", "pw")
	srv.Start()
	env := testEnv(srv.ClientTLSConfig().RootCAs)
	r := checkOne(t, env, svcAt(t, "submission", srv.Addr), ServerOptions{Versions: true})
	assert.Empty(t, problemIDs(r))
	assert.True(t, r.Has("cert-ok"))
	pr := r.Details.([]*PortResult)[0]
	assert.True(t, pr.StartTLS)
	assert.Empty(t, pr.AuthBefore, "no password mechanism before TLS")
	assert.Contains(t, pr.AuthAfter, "PLAIN")
	assert.Equal(t, []string{"TLS 1.2", "TLS 1.3"}, pr.TLSVersions)
}

func TestServerGoodImplicitTLS(t *testing.T) {
	srv := smtptest.NewTLSServer(t)
	srv.AddUser("bob", "pw")
	r := checkOne(t, testEnv(srv.ClientTLSConfig().RootCAs), svcAt(t, "submissions", srv.Addr), ServerOptions{})
	assert.Empty(t, problemIDs(r))
	assert.True(t, r.Has("cert-ok"))
}

func TestServerNoStartTLS(t *testing.T) {
	srv := smtptest.NewUnstartedServer(t)
	srv.Server.TLSConfig = nil
	srv.Start()
	r := checkOne(t, testEnv(nil), svcAt(t, "submission", srv.Addr), ServerOptions{Versions: true})
	assert.Equal(t, []string{"no-starttls"}, problemIDs(r))
	assert.Contains(t, text(r), "fix: Configure a certificate and enable STARTTLS")
}

func TestServerPlainBeforeTLS(t *testing.T) {
	srv := smtptest.NewUnstartedServer(t)
	srv.Server.Auth = &sasl.Registry{Credentials: passwords{"bob": "pw"}, AllowPlaintext: true}
	srv.Start()
	r := checkOne(t, testEnv(srv.ClientTLSConfig().RootCAs), svcAt(t, "submission", srv.Addr), ServerOptions{})
	assert.Equal(t, []string{"plaintext-auth-before-tls"}, problemIDs(r))
	assert.Contains(t, text(r), "password authentication offered before TLS: PLAIN")
}

func TestServerExpiredCert(t *testing.T) {
	cert, pool := makeCert(t, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour), "127.0.0.1", "localhost")
	srv := smtptest.NewUnstartedServer(t)
	srv.Server.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Start()
	r := checkOne(t, testEnv(pool), svcAt(t, "submission", srv.Addr), ServerOptions{})
	assert.Equal(t, []string{"cert-expired"}, problemIDs(r))
	assert.Contains(t, text(r), "fix: Renew the certificate")
}

func TestServerWrongNameCert(t *testing.T) {
	cert, pool := makeCert(t, time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour), "mail.example.net")
	srv := smtptest.NewUnstartedServer(t)
	srv.Server.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	r := checkOne(t, testEnv(pool), svcAt(t, "submissions", srv.Addr), ServerOptions{})
	assert.ElementsMatch(t, []string{"cert-name-mismatch"}, problemIDs(r))
	assert.Contains(t, text(r), "certificate is for mail.example.net, not 127.0.0.1")
}

func TestServerUntrustedCert(t *testing.T) {
	srv := smtptest.NewServer(t)
	r := checkOne(t, testEnv(x509.NewCertPool()), svcAt(t, "submission", srv.Addr), ServerOptions{})
	assert.Equal(t, []string{"cert-untrusted"}, problemIDs(r))
}

// oldSMTPS is a minimal implicit-TLS SMTP server that accepts TLS 1.0
// (our own servers refuse anything below TLS 1.2).
func oldSMTPS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				lc := newLineConn(c)
				_ = lc.writeLine("220 old.test ESMTP")
				for {
					l, err := lc.readLine()
					if err != nil {
						return
					}
					switch strings.ToUpper(strings.Fields(l + " x")[0]) {
					case "EHLO":
						_ = lc.writeLine("250-old.test\r\n250 AUTH PLAIN")
					case "QUIT":
						_ = lc.writeLine("221 bye")
						return
					default:
						_ = lc.writeLine("502 no")
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestServerOldTLS(t *testing.T) {
	cert, pool := makeCert(t, time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour), "127.0.0.1")
	addr := oldSMTPS(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS12})
	r := checkOne(t, testEnv(pool), svcAt(t, "submissions", addr), ServerOptions{Versions: true})
	assert.Equal(t, []string{"old-tls", "old-tls"}, problemIDs(r))
	assert.Equal(t, []string{"TLS 1.0", "TLS 1.1", "TLS 1.2"}, r.Details.([]*PortResult)[0].TLSVersions)
	assert.Contains(t, text(r), "fix: Disable TLS 1.0 and 1.1 (RFC 8996)")
}

func TestServerOpenRelay(t *testing.T) {
	srv := smtptest.NewServer(t) // accepts every recipient
	r := checkOne(t, testEnv(srv.ClientTLSConfig().RootCAs), svcAt(t, "smtp", srv.Addr), ServerOptions{RelayTest: true})
	assert.Equal(t, []string{"open-relay"}, problemIDs(r))
	assert.Empty(t, srv.Messages(), "the relay test never sends a message")
}

func TestServerNotOpenRelay(t *testing.T) {
	srv := smtptest.NewServer(t)
	srv.SetFaults(smtptest.Fault{At: smtptest.AtRcpt, Reply: smtptest.Reply(554, "5.7.1 Relay access denied")})
	r := checkOne(t, testEnv(srv.ClientTLSConfig().RootCAs), svcAt(t, "smtp", srv.Addr), ServerOptions{RelayTest: true})
	assert.Empty(t, problemIDs(r))
	assert.True(t, r.Has("not-open-relay"))
}

func TestServerIMAPAndPOP3(t *testing.T) {
	im := imaptest.NewServer(t)
	ims := imaptest.NewTLSServer(t)
	pop := pop3test.NewServer(t)
	pops := pop3test.NewTLSServer(t)
	env := testEnv(im.ClientTLSConfig().RootCAs)
	r := CheckServer(context.Background(), env, "127.0.0.1", ServerOptions{Services: []Service{
		svcAt(t, "imap", im.Addr), svcAt(t, "imaps", ims.Addr), svcAt(t, "pop3", pop.Addr), svcAt(t, "pop3s", pops.Addr),
	}, Versions: true})
	t.Log("\n" + text(r))
	assert.Empty(t, problemIDs(r))
	for _, pr := range r.Details.([]*PortResult) {
		assert.True(t, pr.Open, pr.Service.Name)
		assert.NotNil(t, pr.TLS, pr.Service.Name)
	}
}

func TestServerIMAPLoginBeforeTLS(t *testing.T) {
	im := imaptest.NewUnstartedServer(t)
	im.Server.AllowInsecureAuth = true
	im.Start()
	r := checkOne(t, testEnv(im.ClientTLSConfig().RootCAs), svcAt(t, "imap", im.Addr), ServerOptions{})
	assert.Equal(t, []string{"plaintext-auth-before-tls"}, problemIDs(r))
}

func TestServerSilentTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // says nothing
		}
	}()
	env := testEnv(nil)
	env.Timeout = 200 * time.Millisecond
	start := time.Now()
	r := checkOne(t, env, svcAt(t, "submission", ln.Addr().String()), ServerOptions{})
	assert.Less(t, time.Since(start), 3*time.Second)
	assert.Equal(t, []string{"probe-failed"}, problemIDs(r))
	assert.Contains(t, text(r), "timeout")
}

func TestServerNothingListens(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := checkOne(t, testEnv(nil), svcAt(t, "imaps", "127.0.0.1:"+strconv.Itoa(port)), ServerOptions{})
	assert.Equal(t, []string{"no-ports"}, problemIDs(r))
	assert.True(t, r.Has("port-closed"))
}

func writeCertPEM(t *testing.T, path string, cert *x509.Certificate) {
	t.Helper()
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	require.NoError(t, os.WriteFile(path, b, 0o600))
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// -resolver applies to the server check's connections: a name only the
// test's DNS server knows is found.
func TestRunServerResolver(t *testing.T) {
	srv := smtptest.NewServer(t)
	zone := dnstest.NewServer(t)
	zone.A("mail.example.test.", "127.0.0.1")
	_, port, _ := net.SplitHostPort(srv.Addr)
	pem := t.TempDir() + "/ca.pem"
	writeCertPEM(t, pem, srv.Certificate())
	var out, errOut bytes.Buffer
	rc := run(context.Background(), []string{"server", "-resolver", zone.Addr.String(), "-ca", pem, "-no-versions", "-port", "submission=" + port, "mail.example.test"}, nil, &out, &errOut)
	t.Log(out.String())
	assert.Equal(t, 1, rc, errOut.String())
	assert.Contains(t, out.String(), "answers: 220")
	assert.Contains(t, out.String(), "certificate is for localhost, 127.0.0.1, ::1, not mail.example.test")
}

// STARTTLS offered, but the server cannot complete a handshake (no
// certificate configured).
func TestServerBrokenTLS(t *testing.T) {
	srv := smtptest.NewUnstartedServer(t)
	srv.Server.TLSConfig = &tls.Config{}
	srv.Start()
	r := checkOne(t, testEnv(nil), svcAt(t, "submission", srv.Addr), ServerOptions{})
	assert.Equal(t, []string{"tls-handshake-failed"}, problemIDs(r))
}
