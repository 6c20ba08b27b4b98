package tlsutil

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"
)

// suiteHandshake runs a TLS 1.2 handshake of a client offering only suites
// against a server configured with srv, and returns the client's error.
func suiteHandshake(t *testing.T, srv *tls.Config, cli *tls.Config) error {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() {
		tls.Server(b, srv).Handshake()
		b.Close()
	}()
	return tls.Client(a, cli).Handshake()
}

// ServerConfig offers only AEAD suites in TLS 1.2 (submission, IMAP,
// POP3); OpportunisticServerConfig, the MX's, keeps Go's defaults so that
// an older sender still gets encryption rather than plaintext (RFC 7435
// §3).
func TestServerCipherSuites(t *testing.T) {
	cert, err := NewTestCert("localhost")
	if err != nil {
		t.Fatal(err)
	}
	cbcOnly := cert.ClientConfig()
	cbcOnly.MaxVersion = tls.VersionTLS12
	cbcOnly.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}
	if err := suiteHandshake(t, ServerConfig(cert.ServerConfig(), ALPNIMAP), cbcOnly); err == nil {
		t.Error("ServerConfig accepted a CBC-SHA1 suite")
	}
	if err := suiteHandshake(t, OpportunisticServerConfig(cert.ServerConfig(), ALPNSMTP), cbcOnly); err != nil {
		t.Errorf("OpportunisticServerConfig refused a CBC-SHA1 suite: %v", err)
	}
	aead := cert.ClientConfig()
	aead.MaxVersion = tls.VersionTLS12
	if err := suiteHandshake(t, ServerConfig(cert.ServerConfig(), ALPNIMAP), aead); err != nil {
		t.Errorf("ServerConfig refused TLS 1.2 with AEAD: %v", err)
	}
	for _, id := range ServerConfig(nil, "").CipherSuites {
		if s := tls.CipherSuiteName(id); !strings.Contains(s, "GCM") && !strings.Contains(s, "CHACHA20") {
			t.Errorf("non-AEAD suite %s", s)
		}
	}
	// A configuration that names its suites keeps them.
	own := &tls.Config{CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}}
	if got := ServerConfig(own, "").CipherSuites; len(got) != 1 {
		t.Errorf("CipherSuites = %v", got)
	}
}
