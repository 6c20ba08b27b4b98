package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
)

// GenerateKey makes a new signing key for alg: a 2048-bit RSA key for
// RSASHA256 (RFC 8301 §3.2) or an Ed25519 key for Ed25519SHA256. Store it
// with x509.MarshalPKCS8PrivateKey; publish [KeyRecordFor] its public key.
func GenerateKey(alg Algorithm) (crypto.Signer, error) {
	switch alg {
	case RSASHA256:
		return rsa.GenerateKey(rand.Reader, 2048)
	case Ed25519SHA256:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("%w: algorithm %q", ErrUnsupported, alg)
}

// KeyRecordFor returns the key record that publishes pub (RFC 6376
// §3.6.1, RFC 8463 §4), such as "v=DKIM1; k=ed25519; p=11qY...".
func KeyRecordFor(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return "", err
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(k), nil
	}
	return "", fmt.Errorf("%w: key type %T", ErrUnsupported, pub)
}

// TXTRecord returns the zone-file line to publish pub for selector and
// domain, the record split into quoted strings of at most 255 bytes as a
// TXT record requires (RFC 1035 §3.3.14):
//
//	sel._domainkey.example.com. IN TXT ("v=DKIM1; k=rsa; p=MIIB..." "...")
func TXTRecord(domain, selector string, pub crypto.PublicKey) (string, error) {
	if !isDomain(domain) || !isDomain(selector) {
		return "", fmt.Errorf("dkim: bad domain %q or selector %q", clip(domain), clip(selector))
	}
	rec, err := KeyRecordFor(pub)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(strings.ToLower(selector + "._domainkey." + strings.TrimSuffix(domain, ".")))
	b.WriteString(". IN TXT (")
	for i := 0; len(rec) > 0; i++ {
		n := min(len(rec), 255)
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(`"` + rec[:n] + `"`)
		rec = rec[n:]
	}
	b.WriteString(")")
	return b.String(), nil
}
