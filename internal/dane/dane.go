// Package dane checks a TLS server's certificate chain against TLSA
// records as DANE for SMTP does (RFC 7672 §3, RFC 6698 §2.1, RFC 7671):
// which records are usable, how a record matches a certificate, and the
// authentication of a chain by DANE-EE(3) and DANE-TA(2) records with the
// name checks each calls for. The queue's DANE delivery and mailcheck's
// DANE probe share it.
//
// Finding the records (a secure MX RRset, the TLSA base domain and its
// candidates, the AD bit) is the caller's: the rules depend on how the
// server was reached.
package dane

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
)

// Certificate usages, selectors and matching types (RFC 7218 names).
const (
	UsagePKIXTA = 0
	UsagePKIXEE = 1
	UsageDANETA = 2
	UsageDANEEE = 3

	SelectorCert = 0
	SelectorSPKI = 1

	MatchFull     = 0
	MatchSHA2_256 = 1
	MatchSHA2_512 = 2
)

// Usable reports whether r can authenticate an SMTP server: usage
// DANE-TA(2) or DANE-EE(3) (the PKIX usages are unusable for SMTP,
// RFC 7672 §3.1.3), a known selector and matching type, and association
// data of the digest's length (RFC 6698 §4.1: anything else is unusable).
func Usable(r dns.TLSA) bool {
	if r.Usage != UsageDANETA && r.Usage != UsageDANEEE {
		return false
	}
	if r.Selector != SelectorCert && r.Selector != SelectorSPKI {
		return false
	}
	switch r.MatchingType {
	case MatchFull:
		return len(r.Data) > 0
	case MatchSHA2_256:
		return len(r.Data) == sha256.Size
	case MatchSHA2_512:
		return len(r.Data) == sha512.Size
	}
	return false
}

// Match reports whether cert matches r's association data under its
// selector and matching type (RFC 6698 §2.1.2, §2.1.3), whatever the
// usage.
func Match(r dns.TLSA, cert *x509.Certificate) bool {
	var data []byte
	switch r.Selector {
	case SelectorCert:
		data = cert.Raw
	case SelectorSPKI:
		data = cert.RawSubjectPublicKeyInfo
	default:
		return false
	}
	switch r.MatchingType {
	case MatchFull:
		return bytes.Equal(data, r.Data)
	case MatchSHA2_256:
		h := sha256.Sum256(data)
		return bytes.Equal(h[:], r.Data)
	case MatchSHA2_512:
		h := sha512.Sum512(data)
		return bytes.Equal(h[:], r.Data)
	}
	return false
}

// ErrNoMatch says no usable TLSA record matched the chain the server
// presented.
var ErrNoMatch = errors.New("dane: no TLSA record matches the server's certificate chain")

// ErrNoUsable says the TLSA RRset has no usable record.
var ErrNoUsable = errors.New("dane: no usable TLSA record")

// NameError says a chain matched a DANE-TA(2) record but the server
// certificate names none of the reference identifiers (RFC 7672 §3.2.2).
type NameError struct {
	Names []string // the reference identifiers
}

func (e *NameError) Error() string {
	return fmt.Sprintf("dane: the server certificate is not valid for %s", strings.Join(e.Names, " or "))
}

// Verify authenticates chain, the certificates the server presented (its
// own first), with the usable records of recs (RFC 7672 §3.2):
//   - DANE-EE(3): the server's certificate matches; its names and validity
//     dates are not looked at (§3.1.1, §3.2.1).
//   - DANE-TA(2): a certificate of the chain matches, the server's
//     certificate chains up to it (signatures, validity at now, the trust
//     anchor's constraints), and it names one of names (§3.2.2; the TLSA
//     base domain first, then the next-hop domain) by the matching rules
//     of §3.2.3.
//
// It returns nil when a record authenticates the chain; ErrNoUsable when
// no record is usable (the caller then still requires TLS but not
// authentication, RFC 7672 §2.2); otherwise ErrNoMatch, a *NameError, or
// the x509 error of the chain that matched a trust anchor.
func Verify(recs []dns.TLSA, chain []*x509.Certificate, names []string, now time.Time) error {
	if len(chain) == 0 {
		return ErrNoMatch
	}
	leaf := chain[0]
	usable := false
	var taErr error
	for _, r := range recs {
		if !Usable(r) {
			continue
		}
		usable = true
		switch r.Usage {
		case UsageDANEEE:
			if Match(r, leaf) {
				return nil
			}
		case UsageDANETA:
			for i, ta := range chain {
				if !Match(r, ta) {
					continue
				}
				err := verifyTA(chain, i, names, now)
				if err == nil {
					return nil
				}
				taErr = err
			}
		}
	}
	switch {
	case !usable:
		return ErrNoUsable
	case taErr != nil:
		return taErr
	}
	return ErrNoMatch
}

// verifyTA checks the chain from the server's certificate up to the trust
// anchor chain[i] and the names.
func verifyTA(chain []*x509.Certificate, i int, names []string, now time.Time) error {
	leaf := chain[0]
	if i > 0 {
		roots := x509.NewCertPool()
		roots.AddCert(chain[i])
		inter := x509.NewCertPool()
		for _, c := range chain[1:i] {
			inter.AddCert(c)
		}
		_, err := leaf.Verify(x509.VerifyOptions{
			Roots:         roots,
			Intermediates: inter,
			CurrentTime:   now,
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err != nil {
			return err
		}
	} else if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		// The server's certificate is its own trust anchor.
		return x509.CertificateInvalidError{Cert: leaf, Reason: x509.Expired}
	}
	for _, n := range names {
		if NameMatches(leaf, n) {
			return nil
		}
	}
	return &NameError{Names: names}
}

// NameMatches reports whether cert is valid for the host name (RFC 7672
// §3.2.3): its DNS-IDs (subject alternative names) when it has any, else
// its CN-ID; a wildcard is a whole first label and stands for exactly one
// label.
func NameMatches(cert *x509.Certificate, name string) bool {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	ids := cert.DNSNames
	if len(ids) == 0 && cert.Subject.CommonName != "" {
		ids = []string{cert.Subject.CommonName}
	}
	for _, id := range ids {
		id = strings.ToLower(strings.TrimSuffix(id, "."))
		if rest, ok := strings.CutPrefix(id, "*."); ok {
			label, nrest, found := strings.Cut(name, ".")
			if found && label != "" && nrest == rest && strings.Contains(rest, ".") {
				return true
			}
			continue
		}
		if id == name {
			return true
		}
	}
	return false
}
