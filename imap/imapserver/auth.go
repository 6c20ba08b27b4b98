package imapserver

import (
	"context"
	"encoding/base64"
	"errors"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/internal/tlsutil"
	"github.com/posthorn/posthorn/sasl"
)

// STARTTLS (RFC 9051 §6.2.1).
func cmdStartTLS(s *session, tag string, uid bool) error {
	if err := s.crlf(); err != nil {
		return err
	}
	if s.tls || s.srv.TLSConfig == nil {
		return bad("TLS not available")
	}
	// Plaintext pipelined behind STARTTLS would be read as if it came
	// through TLS (the CVE-2011-0411 class): refuse and close.
	if err := tlsutil.CheckPipelined(s.conn, s.br); err != nil {
		if errors.Is(err, tlsutil.ErrPipelinedAfterSTARTTLS) {
			s.log.Warn("plaintext pipelined after STARTTLS")
			return imap.ByeError("", "Data pipelined behind STARTTLS")
		}
		return err
	}
	s.w.status(tag, imap.StatusOK, "", "", "Begin TLS negotiation now")
	if err := s.flush(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.srv.limits.LoginTimeout)
	defer cancel()
	tc, err := tlsutil.ServerUpgrade(ctx, s.conn, s.br, s.srv.tlsConfig)
	if err != nil {
		s.log.Info("STARTTLS failed", "err", err)
		return errClose
	}
	s.conn = tc
	s.tls = true
	s.setTLSState(tc)
	s.pc.Conn = s.trace.Conn(tc)
	s.br.Reset(&s.pc)
	s.w.Reset(s.pc.Conn)
	s.dec.Reset(s.br)
	// The tagged OK was sent already; nothing else is said (RFC 9051 §6.2.1:
	// the client must issue CAPABILITY again).
	return errHandled
}

// errHandled: the handler wrote its tagged response itself.
var errHandled = errors.New("imapserver: handled")

// authFailed records a failed login with the shared limiter (which
// delays the next attempts from the network and for the user) and ends
// the connection after Limits.MaxAuthFailures failures.
func (s *session) authFailed(mech, user string, err error) error {
	if h := s.srv.Hooks.Auth; h != nil {
		h(AuthEvent{Remote: s.ip, Mechanism: mech, Username: user, Err: err})
	}
	s.authFails++
	s.srv.authLimit.Failure(s.ip, user)
	s.log.Info("authentication failed", "user", user, "failures", s.authFails)
	if s.authFails >= s.srv.limits.MaxAuthFailures {
		return imap.ByeError("", "Too many authentication failures")
	}
	return no(imap.CodeAuthenticationFailed, "Authentication failed")
}

// authWait waits before a login attempt as the throttle says, whatever
// its outcome will be; an attempt the throttle refuses (a blocked address
// or user) fails without a credential check.
func (s *session) authWait(mech, user string) error {
	err := s.srv.authLimit.Wait(s.ctx, s.ip, user)
	if err == nil || s.ctx.Err() != nil {
		return err
	}
	if h := s.srv.Hooks.Auth; h != nil {
		h(AuthEvent{Remote: s.ip, Mechanism: mech, Username: user, Err: err})
	}
	s.log.Warn("authentication refused", "user", user, "err", err)
	// RFC 5530 §3: UNAVAILABLE, a temporary failure; not
	// AUTHENTICATIONFAILED, which would send the user to their password.
	return no(imap.CodeUnavailable, "Too many authentication failures; try again later")
}

// login opens the user's mail and enters the authenticated state.
func (s *session) login(tag string, id sasl.Identity) error {
	username := id.Username
	if h := s.srv.Hooks.Auth; h != nil {
		h(AuthEvent{Remote: s.ip, Mechanism: id.Mechanism, Username: username})
	}
	s.id = id
	s.info = ConnInfo{RemoteAddr: s.raw.RemoteAddr(), LocalAddr: s.raw.LocalAddr(), TLS: s.tlsState, Identity: &s.id, Service: "imap"}
	u, err := s.srv.Backend.User(s.ctx, username, &s.info)
	if err != nil {
		s.log.Warn("opening user failed", "user", username, "err", err)
		return no(imap.CodeUnavailable, "Mailbox not available")
	}
	s.user, s.username, s.state = u, username, stateAuth
	s.log = s.log.With("user", username)
	s.log.Info("logged in")
	s.w.WriteString(tag + " OK [CAPABILITY ")
	s.writeCaps()
	s.w.WriteString("] Logged in\r\n")
	return errHandled
}

// LOGIN (RFC 9051 §6.2.3).
func cmdLogin(s *session, tag string, uid bool) error {
	if err := s.dec.SP(); err != nil {
		return err
	}
	user, err := s.dec.ReadAString()
	if err != nil {
		return err
	}
	if err := s.dec.SP(); err != nil {
		return err
	}
	pass, err := s.dec.ReadAString()
	if err != nil {
		return err
	}
	if err := s.crlf(); err != nil {
		return err
	}
	if !s.canLogin() {
		return no(imap.CodePrivacyRequired, "LOGIN is disabled without TLS; use STARTTLS")
	}
	if err := s.authWait("LOGIN", user); err != nil {
		return err
	}
	if err := s.srv.Backend.VerifyPassword(s.ctx, user, pass); err != nil {
		if !errors.Is(err, ErrAuthFailed) {
			s.log.Warn("password check failed", "user", user, "err", err)
			return no(imap.CodeUnavailable, "Authentication temporarily unavailable")
		}
		return s.authFailed("LOGIN", user, err)
	}
	s.srv.authLimit.Success(s.ip, user)
	return s.login(tag, sasl.Identity{Username: user, Mechanism: "LOGIN", AuthcID: user})
}

// AUTHENTICATE (RFC 9051 §6.2.2) with SASL-IR (RFC 4959).
func cmdAuthenticate(s *session, tag string, uid bool) error {
	if err := s.dec.SP(); err != nil {
		return err
	}
	mech, err := s.dec.ReadAtomUpper()
	if err != nil {
		return err
	}
	var ir []byte
	if ok, err := s.dec.AtEOL(); err != nil {
		return err
	} else if !ok {
		if err := s.dec.SP(); err != nil {
			return err
		}
		b, err := s.readSASLLine()
		if err != nil {
			return err
		}
		if b == nil {
			return bad("invalid initial response")
		}
		ir = b
	}
	if err := s.crlf(); err != nil {
		return err
	}
	cs := s.saslConnState()
	if !s.srv.registry.Offers(mech, cs) {
		if !s.canLogin() {
			return no(imap.CodePrivacyRequired, "Mechanism not available without TLS")
		}
		return no(imap.CodeCannot, "Unsupported authentication mechanism")
	}
	if err := s.authWait(mech, ""); err != nil {
		return err
	}
	srv, err := s.srv.registry.NewServer(mech, cs)
	if err != nil {
		return no(imap.CodeCannot, "Unsupported authentication mechanism")
	}
	resp := ir
	for {
		chal, done, err := srv.Next(s.ctx, resp)
		if err != nil {
			var pe *sasl.ProtocolError
			switch {
			case errors.Is(err, sasl.ErrAborted):
				return bad("Authentication aborted")
			case errors.As(err, &pe):
				return bad("Malformed SASL message")
			case errors.Is(err, sasl.ErrAuthFailed):
				return s.authFailed(mech, srv.Identity().AuthcID, err)
			}
			s.log.Warn("SASL failed", "mech", mech, "err", err)
			return no(imap.CodeUnavailable, "Authentication temporarily unavailable")
		}
		if done {
			s.srv.authLimit.Success(s.ip, srv.Identity().Username)
			id := srv.Identity()
			id.Mechanism = mech
			return s.login(tag, id)
		}
		s.w.WriteString("+ ")
		s.w.WriteString(base64.StdEncoding.EncodeToString(chal))
		s.w.crlf()
		if err := s.flush(); err != nil {
			return err
		}
		line, err := s.readSASLLine()
		if err != nil {
			return err
		}
		if err := s.crlf(); err != nil {
			return err
		}
		if line == nil {
			return bad("Authentication aborted") // "*", RFC 9051 §6.2.2
		}
		resp = line
	}
}

// readSASLLine reads a base64 SASL message: "=" or "" for an empty one,
// "*" for a cancel (nil result); an invalid one is a BAD error.
func (s *session) readSASLLine() ([]byte, error) {
	if ok, err := s.dec.AtEOL(); err != nil {
		return nil, err
	} else if ok {
		return []byte{}, nil
	}
	if ok, err := s.dec.Byte('*'); err != nil {
		return nil, err
	} else if ok {
		return nil, nil
	}
	b, err := s.dec.ReadAtomBytes()
	if err != nil {
		return nil, err
	}
	if len(b) == 1 && b[0] == '=' {
		return []byte{}, nil
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(b)))
	n, err := base64.StdEncoding.Decode(out, b)
	if err != nil {
		return nil, bad("Invalid base64")
	}
	return out[:n], nil
}
