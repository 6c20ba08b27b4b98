package pop3server

import (
	"bufio"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/posthorn/posthorn/internal/limit"
	"github.com/posthorn/posthorn/internal/proxyproto"
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
		s.hostname = s.Hostname
		if s.hostname == "" {
			if h, err := os.Hostname(); err == nil && h != "" {
				s.hostname = h
			} else {
				s.hostname = "localhost"
			}
		}
		if s.TLSConfig != nil {
			s.tlsConfig = tlsutil.ServerConfig(s.TLSConfig, "pop3")
		}
		s.auth = s.Auth
		if s.auth == nil && s.Backend != nil {
			s.auth = &sasl.Registry{Credentials: backendCredentials(s.Backend), AllowPlaintext: s.AllowInsecureAuth, Hostname: s.hostname}
		}
		s.connLim = limit.NewConnLimiter(limit.ConnLimits{Max: s.Limits.MaxConns, PerIP: s.Limits.MaxConnsPerIP})
		if s.Limits.AuthFailureDelay >= 0 {
			s.authLim = limit.NewAuthLimiter(limit.AuthLimits{BaseDelay: s.Limits.AuthFailureDelay})
		}
		s.listeners = make(map[net.Listener]struct{})
		s.conns = make(map[*conn]struct{})
		s.locks = make(map[string]struct{})
	})
}

// Serve accepts connections on l and serves each in its own goroutine. It
// returns ErrServerClosed after Shutdown. With ProxyTrusted set, l must be
// a plain TCP listener (use ServeTLS for implicit TLS).
func (s *Server) Serve(l net.Listener) error {
	return s.serve(proxyproto.NewListener(l, proxyproto.Config{Trusted: s.ProxyTrusted, HeaderTimeout: s.ProxyHeaderTimeout}), false)
}

// ServeTLS serves implicit TLS (RFC 8314 §3.3, port 995) on l using
// TLSConfig.
func (s *Server) ServeTLS(l net.Listener) error {
	s.init()
	if s.tlsConfig == nil {
		return errors.New("pop3server: ServeTLS needs TLSConfig")
	}
	// The PROXY header comes before the TLS handshake.
	return s.serve(tlsutil.NewListener(proxyproto.NewListener(l, proxyproto.Config{Trusted: s.ProxyTrusted, HeaderTimeout: s.ProxyHeaderTimeout}), s.tlsConfig), true)
}

// ListenAndServe listens on Addr (default ":110") and calls Serve.
func (s *Server) ListenAndServe() error {
	addr := s.Addr
	if addr == "" {
		addr = ":110"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(l)
}

// ListenAndServeTLS listens on Addr (default ":995") and calls ServeTLS.
func (s *Server) ListenAndServeTLS() error {
	addr := s.Addr
	if addr == "" {
		addr = ":995"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.ServeTLS(l)
}

func (s *Server) serve(l net.Listener, implicitTLS bool) error {
	s.init()
	if s.Backend == nil {
		l.Close()
		return errors.New("pop3server: Server.Backend is nil")
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		l.Close()
	}()
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		// Everything that needs the peer address runs in the
		// connection's goroutine: behind a proxy, the address is known
		// only once the PROXY header has been read.
		go s.accept(nc, implicitTLS)
	}
}

func (s *Server) accept(nc net.Conn, implicitTLS bool) {
	if err := proxyproto.CheckHeader(nc); err != nil {
		s.logger.Info("pop3 bad PROXY header", "proxy", proxyproto.PeerAddr(nc), "err", err)
		nc.Close()
		return
	}
	ip := limit.AddrOf(nc.RemoteAddr())
	release, err := s.connLim.Acquire(ip)
	if err != nil {
		if h := s.Hooks.Connect; h != nil {
			h(ConnEvent{Remote: ip, Refused: "too many connections"})
		}
		// RFC 2449 §8.1: [SYS/TEMP] tells the client to try later. On an
		// implicit-TLS listener the line would be garbage before the
		// handshake, so just close.
		if !implicitTLS {
			nc.SetWriteDeadline(time.Now().Add(time.Second))
			nc.Write([]byte("-ERR [SYS/TEMP] too many connections\r\n"))
		}
		nc.Close()
		s.logger.Warn("pop3 connection refused", "remote", nc.RemoteAddr().String(), "err", err)
		return
	}
	c := s.newConn(nc, implicitTLS)
	if !s.track(c) {
		release()
		nc.Close()
		if h := s.Hooks.Connect; h != nil {
			h(ConnEvent{Remote: ip, Refused: "shutting down"})
		}
		return
	}
	defer release()
	if h := s.Hooks.Connect; h != nil {
		h(ConnEvent{Remote: ip})
	}
	if h := s.Hooks.Disconnect; h != nil {
		start := time.Now()
		defer func() { h(ConnEvent{Remote: ip, Duration: time.Since(start)}) }()
	}
	c.serve()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if s.closed && len(s.conns) == 0 && s.connsDone != nil {
		close(s.connsDone)
		s.connsDone = nil
	}
}

// Shutdown stops accepting connections, asks every session to end at its
// next command boundary (a session in the middle of a RETR finishes it),
// and waits for them until ctx is done; then it closes the rest. Sessions
// ended this way do not enter the UPDATE state: nothing is deleted.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	s.closed = true
	for l := range s.listeners {
		l.Close()
	}
	var done chan struct{}
	if len(s.conns) > 0 {
		if s.connsDone == nil {
			s.connsDone = make(chan struct{})
		}
		done = s.connsDone
	}
	for c := range s.conns {
		c.interrupt()
	}
	s.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.cancel()
			c.nc.Close()
		}
		s.mu.Unlock()
		return ctx.Err()
	}
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
