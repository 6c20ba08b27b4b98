// Package shim stands in for internal/tlsutil and internal/limit until they
// land; it has their contract API and will be deleted.
package shim

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"
)

var ErrPipelinedAfterSTARTTLS = errors.New("plaintext pipelined after STARTTLS")

func ServerUpgrade(ctx context.Context, conn net.Conn, br *bufio.Reader, cfg *tls.Config) (*tls.Conn, error) {
	if br.Buffered() > 0 {
		return nil, ErrPipelinedAfterSTARTTLS
	}
	tc := tls.Server(conn, cfg)
	return tc, tc.HandshakeContext(ctx)
}

func ClientUpgrade(ctx context.Context, conn net.Conn, cfg *tls.Config) (*tls.Conn, error) {
	tc := tls.Client(conn, cfg)
	return tc, tc.HandshakeContext(ctx)
}

func ServerConfig(base *tls.Config, alpn string) *tls.Config {
	c := base.Clone()
	c.MinVersion = tls.VersionTLS12
	c.NextProtos = []string{alpn}
	return c
}

func ClientConfig(base *tls.Config, serverName, alpn string) *tls.Config {
	var c *tls.Config
	if base != nil {
		c = base.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName = serverName
	}
	c.MinVersion = tls.VersionTLS12
	c.NextProtos = []string{alpn}
	return c
}

func NewListener(inner net.Listener, cfg *tls.Config) net.Listener {
	return tls.NewListener(inner, cfg)
}

type TestCert struct {
	Certificate tls.Certificate
	Pool        *x509.CertPool
	CertPEM     []byte
}

func (c *TestCert) WriteFiles(dir string) (string, string, error) {
	f := filepath.Join(dir, "cert.pem")
	return f, "", os.WriteFile(f, c.CertPEM, 0o644)
}

func NewTestCert(hosts ...string) (*TestCert, error) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &TestCert{Certificate: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, Pool: pool,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

func (c *TestCert) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.Certificate}}
}
func (c *TestCert) ClientConfig() *tls.Config {
	return &tls.Config{RootCAs: c.Pool, ServerName: "localhost"}
}

type ConnLimits struct{ Max, PerIP, IPv4Prefix, IPv6Prefix int }
type ConnLimiter struct {
	mu  sync.Mutex
	l   ConnLimits
	n   int
	per map[netip.Addr]int
}

func NewConnLimiter(l ConnLimits) *ConnLimiter {
	return &ConnLimiter{l: l, per: map[netip.Addr]int{}}
}
func (c *ConnLimiter) Acquire(a netip.Addr) (func(), error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n >= c.l.Max || c.per[a] >= c.l.PerIP {
		return nil, errors.New("too many connections")
	}
	c.n++
	c.per[a]++
	return func() { c.mu.Lock(); c.n--; c.per[a]--; c.mu.Unlock() }, nil
}

type AuthLimits struct{ BaseDelay time.Duration }
type AuthLimiter struct {
	mu sync.Mutex
	l  AuthLimits
	f  map[netip.Addr]int
}

func NewAuthLimiter(l AuthLimits) *AuthLimiter { return &AuthLimiter{l: l, f: map[netip.Addr]int{}} }
func (a *AuthLimiter) Wait(ctx context.Context, addr netip.Addr, user string) error {
	a.mu.Lock()
	n := a.f[addr]
	a.mu.Unlock()
	if n == 0 {
		return nil
	}
	t := time.NewTimer(a.l.BaseDelay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (a *AuthLimiter) Failure(addr netip.Addr, user string) { a.mu.Lock(); a.f[addr]++; a.mu.Unlock() }
func (a *AuthLimiter) Success(addr netip.Addr, user string) {
	a.mu.Lock()
	delete(a.f, addr)
	a.mu.Unlock()
}
