package tlsutil

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// ALPN protocol identifiers for the mail protocols, as registered with IANA
// for use with RFC 7301.
const (
	ALPNIMAP = "imap"
	ALPNPOP3 = "pop3"
	ALPNSMTP = "smtp"
)

// ServerConfig returns a copy of base (which may be nil) for a server of the
// protocol named by alpn: TLS 1.2 or newer, and NextProtos set to alpn
// alone so that a client offering only foreign protocols (http/1.1, h2, …)
// fails the handshake (ALPACA). An empty alpn leaves NextProtos as in base.
// Unless base lists CipherSuites, TLS 1.2 offers only the AEAD suites
// (AES-GCM and ChaCha20-Poly1305 with ECDHE; TLS 1.3 has no others), not
// Go's CBC-SHA1 ones: this is the configuration of submission, IMAP and
// POP3, whose clients are ours to require it of. Certificates and
// everything else come from base.
func ServerConfig(base *tls.Config, alpn string) *tls.Config {
	cfg := OpportunisticServerConfig(base, alpn)
	if len(cfg.CipherSuites) == 0 {
		cfg.CipherSuites = AEADCipherSuites()
	}
	return cfg
}

// OpportunisticServerConfig is ServerConfig with Go's default TLS 1.2
// cipher suites, for the SMTP MX listener: a sender whose opportunistic
// STARTTLS handshake fails delivers in plaintext instead (RFC 7435 §3),
// so refusing its older suites would only lower its protection.
func OpportunisticServerConfig(base *tls.Config, alpn string) *tls.Config {
	cfg := cloneConfig(base)
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	if alpn != "" {
		cfg.NextProtos = []string{alpn}
	}
	return cfg
}

// AEADCipherSuites returns the TLS 1.2 cipher suites ServerConfig
// offers: ECDHE key exchange with an AEAD cipher, in Go's preference
// order.
func AEADCipherSuites() []uint16 {
	return []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	}
}

// ClientConfig returns a copy of base (which may be nil) for a client of
// the protocol named by alpn: TLS 1.2 or newer, ServerName set to
// serverName when that is not empty, and NextProtos set to alpn when that
// is not empty.
func ClientConfig(base *tls.Config, serverName, alpn string) *tls.Config {
	cfg := cloneConfig(base)
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	if serverName != "" {
		cfg.ServerName = serverName
	}
	if alpn != "" {
		cfg.NextProtos = []string{alpn}
	}
	return cfg
}

func cloneConfig(base *tls.Config) *tls.Config {
	if base == nil {
		return &tls.Config{}
	}
	return base.Clone()
}

// SNIError is the handshake error when a client asks, through SNI, for a
// host name the server does not serve.
type SNIError struct {
	// ServerName is the name the client sent.
	ServerName string
}

// Error describes the error.
func (e *SNIError) Error() string {
	return fmt.Sprintf("tlsutil: client asked for unknown server name %q", e.ServerName)
}

// ServerNames returns a copy of cfg whose handshake fails with *[SNIError]
// when the client sends an SNI host name not in names. Names compare without
// regard to case and a trailing dot; "*.example.org" matches one label
// under example.org. A client that sends no SNI (it connected by IP address,
// RFC 6066 §3 forbids literal addresses in SNI) is accepted. The name the
// client sent is in tls.ConnectionState.ServerName either way.
//
// An existing GetConfigForClient in cfg runs after the check.
func ServerNames(cfg *tls.Config, names ...string) *tls.Config {
	cfg = cloneConfig(cfg)
	allowed := make([]string, len(names))
	for i, n := range names {
		allowed[i] = normName(n)
	}
	next := cfg.GetConfigForClient
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if hello.ServerName != "" && !nameAllowed(allowed, normName(hello.ServerName)) {
			return nil, &SNIError{ServerName: hello.ServerName}
		}
		if next != nil {
			return next(hello)
		}
		return nil, nil
	}
	return cfg
}

func normName(s string) string {
	return strings.ToLower(strings.TrimSuffix(s, "."))
}

func nameAllowed(allowed []string, name string) bool {
	for _, a := range allowed {
		if a == name {
			return true
		}
		if rest, ok := strings.CutPrefix(a, "*."); ok {
			if i := strings.IndexByte(name, '.'); i > 0 && name[i+1:] == rest {
				return true
			}
		}
	}
	return false
}
