package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
)

// Env is what the checks need from the world; tests replace parts of it.
type Env struct {
	// Timeout bounds each network step (one connection's dialogue, one
	// DNS query, one HTTPS fetch).
	Timeout time.Duration
	// RootCAs verifies server certificates; nil means the system roots.
	RootCAs *x509.CertPool
	// Now is the clock for certificate expiry.
	Now func() time.Time
	// Dialer opens TCP connections.
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
	// HelloName is the name sent with EHLO.
	HelloName string
}

func (e *Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Env) timeout() time.Duration {
	if e.Timeout > 0 {
		return e.Timeout
	}
	return 10 * time.Second
}

func (e *Env) dial(ctx context.Context, addr string) (net.Conn, error) {
	if e.Dialer != nil {
		return e.Dialer(ctx, "tcp", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// failureKind names the step a network operation failed at, in words a
// person acts on.
func failureKind(err error) (kind, fix string) {
	var dnsErr *net.DNSError
	var certInvalid x509.CertificateInvalidError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var verr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "dns", "Check the host name for typos; it does not exist in the DNS."
		}
		return "dns", "The DNS did not answer; check the resolver and the network."
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused", "Nothing listens on this port: use the port your provider documents, or start the service."
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable", "The network has no route to the server; check the address and your connection."
	case errors.As(err, &hostErr):
		return "tls", "Connect with the name the certificate is for, or get a certificate that includes this name."
	case errors.As(err, &certInvalid) && certInvalid.Reason == x509.Expired:
		return "tls", "Renew the server's certificate."
	case errors.As(err, &unknownAuth), errors.As(err, &verr), errors.As(err, &certInvalid):
		return "tls", "Install a certificate from a public CA with its full chain (intermediates included)."
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return "timeout", "No answer in time: the port is probably blocked by a firewall or your provider; try the implicit-TLS port instead (465 for sending, 993 for IMAP, 995 for POP3) or another network."
	}
	return "network", ""
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// errProto is a protocol reply the probe did not expect.
type errProto struct{ reply string }

func (e *errProto) Error() string { return "unexpected reply: " + e.reply }

// lineConn reads bounded lines from a connection.
type lineConn struct {
	conn net.Conn
	br   *bufio.Reader
}

const maxLine = 4096

func newLineConn(c net.Conn) *lineConn {
	return &lineConn{conn: c, br: bufio.NewReaderSize(c, maxLine)}
}

func (l *lineConn) readLine() (string, error) {
	line, isPrefix, err := l.br.ReadLine()
	if err != nil {
		return "", err
	}
	s := string(line)
	for isPrefix { // discard the rest of an over-long line
		_, isPrefix, err = l.br.ReadLine()
		if err != nil {
			return "", err
		}
	}
	return s, nil
}

func (l *lineConn) writeLine(s string) error {
	_, err := io.WriteString(l.conn, s+"\r\n")
	return err
}

// TLSInfo describes a TLS session and the server's certificate.
type TLSInfo struct {
	Version     string    `json:"version"`
	Cipher      string    `json:"cipher"`
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	Names       []string  `json:"names"`
	NotAfter    time.Time `json:"not_after"`
	KeyType     string    `json:"key_type"`
	KeyBits     int       `json:"key_bits"`
	ChainValid  bool      `json:"chain_valid"`
	ChainError  string    `json:"chain_error,omitempty"`
	NameMatch   bool      `json:"name_match"`
	Expired     bool      `json:"expired"`
	NotYetValid bool      `json:"not_yet_valid"`
}

// inspectTLS verifies the peer's chain and name separately, so each problem
// gets its own finding (RFC 6125 for the name; expiry by the clock of env).
func inspectTLS(env *Env, cs tls.ConnectionState, host string) *TLSInfo {
	info := &TLSInfo{Version: tls.VersionName(cs.Version), Cipher: tls.CipherSuiteName(cs.CipherSuite)}
	if len(cs.PeerCertificates) == 0 {
		info.ChainError = "no certificate"
		return info
	}
	leaf := cs.PeerCertificates[0]
	info.Subject = leaf.Subject.String()
	info.Issuer = leaf.Issuer.String()
	info.Names = leaf.DNSNames
	for _, ip := range leaf.IPAddresses {
		info.Names = append(info.Names, ip.String())
	}
	info.NotAfter = leaf.NotAfter
	now := env.now()
	info.Expired = now.After(leaf.NotAfter)
	info.NotYetValid = now.Before(leaf.NotBefore)
	switch k := leaf.PublicKey.(type) {
	case *rsa.PublicKey:
		info.KeyType, info.KeyBits = "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		info.KeyType, info.KeyBits = "ECDSA", k.Curve.Params().BitSize
	case ed25519.PublicKey:
		info.KeyType, info.KeyBits = "Ed25519", 256
	default:
		info.KeyType = fmt.Sprintf("%T", k)
	}
	info.NameMatch = leaf.VerifyHostname(host) == nil
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: env.RootCAs, Intermediates: inter, CurrentTime: now})
	info.ChainValid = err == nil
	if err != nil {
		info.ChainError = err.Error()
	}
	return info
}

// tlsFindings turns a TLSInfo into findings.
func tlsFindings(r *Report, subj, host string, t *TLSInfo, now time.Time) {
	switch {
	case t.Expired:
		r.problem(Error, "cert-expired", subj, "Renew the certificate (and automate renewal, e.g. with ACME).",
			"certificate expired on %s", t.NotAfter.Format(time.DateOnly))
	case t.NotYetValid:
		r.problem(Error, "cert-not-yet-valid", subj, "Check the server's clock and the certificate's start date.", "certificate is not valid yet")
	case t.NotAfter.Sub(now) < 14*24*time.Hour:
		r.problem(Warn, "cert-expires-soon", subj, "Renew the certificate now.", "certificate expires on %s", t.NotAfter.Format(time.DateOnly))
	}
	if !t.NameMatch {
		r.problem(Error, "cert-name-mismatch", subj, "Get a certificate that includes "+host+", or have clients connect to a name it covers.",
			"certificate is for %s, not %s", strings.Join(t.Names, ", "), host)
	}
	if !t.ChainValid && !t.Expired && !t.NotYetValid {
		r.problem(Error, "cert-untrusted", subj, "Serve a certificate from a public CA together with its intermediate certificates.",
			"certificate chain does not verify: %s", t.ChainError)
	}
	if (t.KeyType == "RSA" && t.KeyBits < 2048) || (t.KeyType == "ECDSA" && t.KeyBits < 256) {
		r.problem(Warn, "cert-weak-key", subj, "Issue the certificate with an RSA key of at least 2048 bits or an ECDSA P-256 key.",
			"certificate key is %s %d bits", t.KeyType, t.KeyBits)
	}
	if t.ChainValid && t.NameMatch && !t.Expired {
		r.ok("cert-ok", subj, "%s, certificate for %s (%s %d), valid until %s", t.Version, strings.Join(t.Names, ", "),
			t.KeyType, t.KeyBits, t.NotAfter.Format(time.DateOnly))
	}
}

func tlsConfigRoots(env *Env) *tls.Config {
	return &tls.Config{RootCAs: env.RootCAs, MinVersion: tls.VersionTLS12}
}
