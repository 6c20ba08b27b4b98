package tlsutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TestCert is a self-signed ECDSA P-256 certificate for tests and demos,
// valid for 127.0.0.1, ::1 and localhost (plus any extra hosts) from an hour
// ago for ten years. It is its own root: trust Pool and it verifies.
type TestCert struct {
	// Certificate is the certificate and its private key, for
	// tls.Config.Certificates.
	Certificate tls.Certificate
	// Pool holds the certificate as a root, for tls.Config.RootCAs.
	Pool *x509.CertPool
	// CertPEM and KeyPEM are the certificate and the PKCS #8 private key
	// in PEM, for peers outside Go (Python, curl, Dovecot).
	CertPEM, KeyPEM []byte
}

// NewTestCert makes a new self-signed certificate. Each host is an IP
// address or a DNS name added to the subject alternative names besides
// 127.0.0.1, ::1 and localhost.
func NewTestCert(hosts ...string) (*TestCert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: generating key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("tlsutil: generating serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"posthorn test"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: creating certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: parsing certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: encoding key: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &TestCert{
		Certificate: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		Pool:        pool,
		CertPEM:     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:      pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// ServerConfig returns a new server configuration with the certificate and
// TLS 1.2 as the minimum. Pass it through [ServerConfig] to add ALPN.
func (c *TestCert) ServerConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{c.Certificate},
		MinVersion:   tls.VersionTLS12,
	}
}

// ClientConfig returns a new client configuration that trusts the
// certificate, with ServerName "localhost" and TLS 1.2 as the minimum.
func (c *TestCert) ClientConfig() *tls.Config {
	return &tls.Config{
		RootCAs:    c.Pool,
		ServerName: "localhost",
		MinVersion: tls.VersionTLS12,
	}
}

// WriteFiles writes the certificate and the key as cert.pem and key.pem in
// dir (the key readable by the owner only) and returns their paths.
func (c *TestCert) WriteFiles(dir string) (certFile, keyFile string, err error) {
	certFile = filepath.Join(dir, "cert.pem")
	keyFile = filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, c.CertPEM, 0o644); err != nil {
		return "", "", fmt.Errorf("tlsutil: %w", err)
	}
	if err := os.WriteFile(keyFile, c.KeyPEM, 0o600); err != nil {
		return "", "", fmt.Errorf("tlsutil: %w", err)
	}
	return certFile, keyFile, nil
}
