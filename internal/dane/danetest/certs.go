// Package danetest makes certificate chains and TLSA records for DANE
// tests: a private CA, server certificates it issues (valid, expired, for
// other names), and the TLSA records that match them.
package danetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
)

// CA is a self-signed certificate authority.
type CA struct {
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewCA makes a CA valid from a day ago for ten years.
func NewCA(name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-24 * time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, key: key}, nil
}

// Issue makes a server certificate for the DNS names, valid from
// notBefore to notAfter, and returns it with the chain a server presents:
// the certificate, then the CA's (RFC 7672 §3.1.2 wants the trust anchor
// in the chain).
func (ca *CA) Issue(names []string, notBefore, notAfter time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "server"},
		DNSNames:     names,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// Valid is a validity period around now: from an hour ago for a year.
func Valid() (time.Time, time.Time) {
	return time.Now().Add(-time.Hour), time.Now().Add(365 * 24 * time.Hour)
}

// Chain parses the certificates of c.
func Chain(c tls.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for _, der := range c.Certificate {
		if x, err := x509.ParseCertificate(der); err == nil {
			out = append(out, x)
		}
	}
	return out
}

// EE returns the recommended DANE-EE record for cert: 3 1 1, the SHA-256
// of its public key (RFC 7672 §3.1.1).
func EE(cert *x509.Certificate) dns.TLSA {
	h := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return dns.TLSA{Usage: 3, Selector: 1, MatchingType: 1, Data: h[:]}
}

// TA returns the recommended DANE-TA record for a CA: 2 0 1, the SHA-256
// of its certificate (RFC 7672 §3.1.2).
func TA(cert *x509.Certificate) dns.TLSA {
	h := sha256.Sum256(cert.Raw)
	return dns.TLSA{Usage: 2, Selector: 0, MatchingType: 1, Data: h[:]}
}

// RData is r's record data as it goes on the wire (RFC 6698 §2.1), for
// dnstest's Add with a dnsmessage.UnknownResource of type dns.TypeTLSA.
func RData(r dns.TLSA) []byte {
	return append([]byte{r.Usage, r.Selector, r.MatchingType}, r.Data...)
}
