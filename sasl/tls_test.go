package sasl

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"
)

// testCert makes a self-signed certificate for 127.0.0.1 with the given
// common name (used for client certificates too).
func testCert(t testing.TB, cn string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

// tlsPair is a TLS connection over TCP on 127.0.0.1 with both ends'
// connection states.
type tlsPair struct {
	client, server tls.ConnectionState
}

// dialTLS performs a real TLS handshake on 127.0.0.1 with the given version
// range; clientCert, when set, is presented by the client.
func dialTLS(t testing.TB, version uint16, clientCert *tls.Certificate, session tls.ClientSessionCache) tlsPair {
	t.Helper()
	cert, pool := testCert(t, "localhost")
	scfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: version, MaxVersion: version}
	ccfg := &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: version, MaxVersion: version, ClientSessionCache: session}
	if clientCert != nil {
		scfg.ClientAuth = tls.RequireAnyClientCert
		ccfg.Certificates = []tls.Certificate{*clientCert}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan tls.ConnectionState, 1)
	errc := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		sc := tls.Server(c, scfg)
		if err := sc.Handshake(); err != nil {
			errc <- err
			return
		}
		done <- sc.ConnectionState()
		// Read until the client closes so that session tickets flow.
		buf := make([]byte, 1)
		sc.Read(buf)
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), ccfg)
	if err != nil {
		t.Fatal(err)
	}
	var p tlsPair
	select {
	case p.server = <-done:
	case err := <-errc:
		t.Fatal(err)
	}
	// A TLS 1.3 client receives its session ticket with the first read.
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	c.Read(make([]byte, 1))
	p.client = c.ConnectionState()
	c.Close()
	return p
}
