// Package sasl implements the Simple Authentication and Security Layer
// (RFC 4422) for the posthorn SMTP, IMAP and POP3 clients and servers: the
// client and the server side of PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1,
// SCRAM-SHA-256 and their -PLUS variants, OAUTHBEARER, XOAUTH2, EXTERNAL and
// ANONYMOUS, with SASLprep and TLS channel binding.
//
// # Overview
//
// A [Client] and a [Server] each run one exchange of one mechanism. They
// see decoded payloads only: base64, line framing, the "*" cancel and the
// protocol's replies belong to the protocol packages.
//
// A protocol server keeps one [Registry] (the configuration: a credential
// backend in Registry.Credentials, which mechanisms may be offered, limits)
// and, per connection, a [ConnState]:
//
//	cs := sasl.ConnState{TLS: isTLS, RemoteAddr: addr}
//	if tlsConn != nil {
//		st := tlsConn.ConnectionState()
//		cs.TLSState = &st
//		cs.ChannelBinding = sasl.ChannelBindingFromTLS(&st) // once per connection
//	}
//	mechs := reg.Offer(cs)             // for EHLO AUTH / CAPABILITY AUTH= / CAPA SASL
//	srv, err := reg.NewServer(name, cs) // on AUTH / AUTHENTICATE; ErrUnsupportedMechanism if not offered
//
// and then drives srv.Next as shown at [Server]. A protocol client gets the
// server's list, calls [Choose] (or a constructor such as [NewSCRAMClient]),
// sends Start's mechanism and initial response, answers every challenge with
// Next, and after the outcome asks a [Completer] for its verdict.
//
// # Errors
//
// Servers return errors of three classes, which protocol servers map to
// their replies:
//
//   - errors.Is(err, ErrAuthFailed): wrong credentials, unknown user, or
//     authorization refused (then also ErrNotAuthorized). SMTP 535 5.7.8,
//     IMAP NO [AUTHENTICATIONFAILED], POP3 -ERR [AUTH]. Typed details
//     (*SCRAMError, *OAuthError) are wrapped inside for logs.
//   - errors.As(err, **ProtocolError) or errors.Is(err, ErrUnexpectedMessage):
//     the client sent something malformed. SMTP 501 5.5.2, IMAP BAD.
//   - anything else: the credential backend failed (a database is down).
//     SMTP 454 4.7.0, IMAP NO [UNAVAILABLE], POP3 -ERR [SYS/TEMP].
//
// Clients return *ProtocolError for malformed challenges, *IterationCountError,
// ErrMutualAuth, ErrChannelBinding and ErrUnsupportedMechanism; the server's
// own error reports (*SCRAMError, *OAuthError) come from Completer.Complete,
// because the client answers them (with an empty response or the %x01 of
// RFC 7628 §3.2.3) instead of aborting, so that the server can report the
// failure properly.
//
// # Implementation notes
//
//   - Next never returns done together with data. SCRAM's server-final
//     message ("v=" or "e=") is an ordinary challenge; the client's empty
//     answer completes the exchange (RFC 4422 §5 item 9, for protocols
//     without additional data with success, which covers SMTP, POP3 and
//     IMAP without SASL-IR-style success data). Likewise errors the client
//     must see (SCRAM "e=", the OAUTHBEARER error JSON) are challenges, and
//     the call after them fails.
//   - A Server is single-use and remembers its first failure: every later
//     call returns the same error.
//   - Every server checks each response against Registry.MaxMessage before
//     parsing, and every field against its own limit (PLAIN 1024 bytes per
//     field, ANONYMOUS 255 characters).
//   - Secrets are compared in constant time (crypto/subtle, hmac.Equal).
//     Nothing in this package logs; credential methods get a context with
//     the ConnState (ConnStateFromContext) and must not log secrets either.
//   - SCRAM servers need stored keys (SCRAMLookup), never a password; an
//     unknown user gets a stable fake salt from a per-Registry random key
//     and fails at the proof (RFC 5802 §5.1). PLAIN and LOGIN can verify
//     against the same stored keys.
//   - Channel binding: tls-exporter on TLS 1.3 (RFC 9266), tls-unique on
//     TLS 1.2 when crypto/tls provides it. A ChannelBinding is consumed by
//     the first -PLUS exchange that uses it (RFC 9266 §4.1), on both sides.
//   - Downgrade: a SCRAM client that can bind but did not see -PLUS sends
//     "y"; a server that offered -PLUS on that connection then fails with
//     "server-does-support-channel-binding" (RFC 5802 §6).
//   - Plaintext mechanisms (PLAIN, LOGIN, OAUTHBEARER, XOAUTH2) are offered
//     and chosen only over TLS unless AllowPlaintext; CRAM-MD5 and ANONYMOUS
//     only when listed explicitly; SCRAM only with SCRAMLookup; EXTERNAL
//     only with a TLS client certificate.
//   - The SCRAM client bounds the server's iteration count (default 4096 to
//     1,000,000) before doing any work.
//   - No package-level mutable state; a Registry is safe for concurrent use.
//
// See saslprep.go for how SASLprep relates to PRECIS OpaqueString.
//
// # Standards
//
//   - RFC 4422 SASL; Appendix A EXTERNAL
//   - RFC 4616 PLAIN
//   - RFC 2195 CRAM-MD5
//   - RFC 5802 SCRAM, RFC 7677 SCRAM-SHA-256
//   - RFC 5929 tls-unique, RFC 9266 tls-exporter, RFC 7627 Extended Master Secret
//   - RFC 7628 OAUTHBEARER; XOAUTH2 as documented by Google
//   - RFC 4505 ANONYMOUS
//   - RFC 4013 SASLprep (RFC 3454 stringprep), RFC 8265 PRECIS OpaqueString
//   - RFC 5803 text form of stored SCRAM keys (SCRAMKeys.String)
//   - LOGIN: draft-murchison-sasl-login
//
// Deliberate deviations: the OAUTHBEARER server rejects the "n,user=...,"
// header of RFC 7628 §4.4's example, which is not valid GS2 (RFC 5801);
// SASLprep uses current Unicode tables rather than Unicode 3.2.
package sasl
