package pop3server

import (
	"bufio"
	"cmp"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/posthorn/posthorn/internal/limit"
	"github.com/posthorn/posthorn/internal/proxyproto"
	"github.com/posthorn/posthorn/internal/serve"
	"github.com/posthorn/posthorn/internal/tlsutil"
	"github.com/posthorn/posthorn/sasl"
)

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.Limits = s.Limits.withDefaults()
		s.logger = s.Logger
		if s.logger == nil {
			s.logger = slog.New(slog.DiscardHandler)
		}
		s.hostname = serve.Hostname(s.Hostname)
		if s.TLSConfig != nil {
			s.tlsConfig = tlsutil.ServerConfig(s.TLSConfig, "pop3")
		}
		s.auth = s.Auth
		if s.auth == nil && s.Backend != nil {
			s.auth = &sasl.Registry{Credentials: backendCredentials(s.Backend), AllowPlaintext: s.AllowInsecureAuth, Hostname: s.hostname}
		}
		switch {
		case s.AuthThrottle != nil:
			s.authLim = s.AuthThrottle
		case s.Limits.AuthFailureDelay >= 0:
			s.authLim = limit.NewAuthLimiter(limit.AuthLimits{BaseDelay: s.Limits.AuthFailureDelay})
		}
		s.locks = make(map[string]struct{})
		s.sh = serve.New(serve.Config{
			Name:             "pop3server",
			TLS:              s.tlsConfig,
			ErrClosed:        ErrServerClosed,
			Proxy:            proxyproto.Config{Trusted: s.ProxyTrusted, HeaderTimeout: s.ProxyHeaderTimeout},
			Limits:           limit.ConnLimits{Max: s.Limits.MaxConnections, PerIP: s.Limits.MaxConnectionsPerIP},
			HandshakeTimeout: time.Minute,
			Logger:           s.logger,
			Connect:          s.Hooks.Connect,
			Disconnect:       s.Hooks.Disconnect,
			// RFC 2449 §8.1: [SYS/TEMP] tells the client to try later.
			Refusal: func(why string) string { return "-ERR [SYS/TEMP] " + why + "\r\n" },
			NewConn: func(nc net.Conn, ip netip.Addr) serve.Conn { return s.newConn(nc, ip) },
		})
	})
}

// ListenAndServe listens on Addr (":110" when empty) and calls Serve.
func (s *Server) ListenAndServe() error { return s.start(nil, cmp.Or(s.Addr, ":110"), false) }

// ListenAndServeTLS listens on Addr (":995" when empty) and calls
// ServeTLS.
func (s *Server) ListenAndServeTLS() error { return s.start(nil, cmp.Or(s.Addr, ":995"), true) }

// Serve accepts connections on l and serves each in its own goroutine. It
// returns ErrServerClosed after Shutdown or Close. With ProxyTrusted set,
// l must be a plain TCP listener (use ServeTLS for implicit TLS).
func (s *Server) Serve(l net.Listener) error { return s.start(l, "", false) }

// ServeTLS serves implicit TLS (RFC 8314 §3.3) on l using TLSConfig.
// With ProxyTrusted set, the PROXY header is read before the TLS
// handshake.
func (s *Server) ServeTLS(l net.Listener) error { return s.start(l, "", true) }

// start serves l, or a listener on addr when l is nil.
func (s *Server) start(l net.Listener, addr string, implicitTLS bool) error {
	if s.Backend == nil {
		return errors.New("pop3server: Server.Backend is nil")
	}
	return s.shell().Start(l, addr, implicitTLS)
}

// Shutdown stops accepting connections and asks every session to end at
// its next command boundary with "-ERR [SYS/TEMP]" (a session in the
// middle of a RETR finishes it first), and waits for them. When ctx is
// done first, the rest are told the same where they are reading from
// the client, their connections are closed, and Shutdown returns
// ctx.Err(). Sessions ended this way do not enter the UPDATE state
// (RFC 1939 §6): nothing is deleted, and their maildrops are released.
func (s *Server) Shutdown(ctx context.Context) error { return s.shell().Shutdown(ctx) }

// Close closes the listeners and every connection at once, without a
// reply. As with Shutdown, nothing is deleted.
func (s *Server) Close() error { return s.shell().Close() }

// shell returns the server shell (internal/serve), made on first use.
func (s *Server) shell() *serve.Shell {
	s.init()
	return s.sh
}

// lock takes the server-wide maildrop lock of user (RFC 1939 §8).
func (s *Server) lock(user string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, busy := s.locks[user]; busy {
		return false
	}
	s.locks[user] = struct{}{}
	return true
}

func (s *Server) unlock(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.locks, user)
}

// credentials returns what verifies passwords and secrets.
func (s *Server) credentials() any {
	if s.Auth != nil && s.Auth.Credentials != nil {
		return s.Auth.Credentials
	}
	return backendCredentials(s.Backend)
}

// passwords returns the verifier for USER/PASS, or nil.
func (s *Server) passwords() func(ctx context.Context, user, pass string) error {
	switch cr := s.credentials().(type) {
	case sasl.PasswordVerifier:
		return cr.VerifyPassword
	case sasl.SecretLookup:
		return func(ctx context.Context, user, pass string) error {
			secret, err := cr.LookupSecret(ctx, user)
			if err != nil {
				return err
			}
			if subtle.ConstantTimeCompare([]byte(secret), []byte(pass)) != 1 {
				return sasl.ErrAuthFailed
			}
			return nil
		}
	}
	return nil
}

// verifyPassword checks USER/PASS credentials, prepared with SASLprep as
// query strings (RFC 6856 §2.2).
func (s *Server) verifyPassword(ctx context.Context, user, pass string) error {
	verify := s.passwords()
	if verify == nil {
		return sasl.ErrAuthFailed
	}
	u, err := sasl.SASLprepQuery(user)
	if err != nil || u == "" {
		return sasl.ErrAuthFailed
	}
	p, err := sasl.SASLprepQuery(pass)
	if err != nil || p == "" {
		return sasl.ErrAuthFailed
	}
	return verify(ctx, u, p)
}

// apopOffered reports whether APOP is enabled and can be served.
func (s *Server) apopOffered() bool {
	_, ok := s.credentials().(sasl.SecretLookup)
	return s.EnableAPOP && ok
}

func (s *Server) nextConnID() uint64 { return s.connID.Add(1) }

// upgrade runs the server side of STLS.
func (s *Server) upgrade(ctx context.Context, nc net.Conn, br *bufio.Reader) (*tls.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return tlsutil.ServerUpgrade(ctx, nc, br, s.tlsConfig)
}
