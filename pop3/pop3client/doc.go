// Package pop3client is a POP3 client (RFC 1939) with the extensions
// modern servers offer: CAPA (RFC 2449), STLS (RFC 2595), implicit TLS
// (RFC 8314), SASL (RFC 5034), APOP, PIPELINING, RESP-CODES, and UTF8
// and LANG (RFC 6856).
//
// Dial, DialTLS or NewClient return a *Client after reading the greeting.
// Every method takes a context.Context first; its deadline and
// cancellation reach the socket. Log in with Login (chooses from CAPA),
// User, APOP or Auth (any sasl.Client), then use Stat, List, Uidl, Retr,
// Top, Dele, Rset, Noop and Quit. Download implements the "leave mail on
// server" mode: it fetches only messages whose UIDL is new and can delete
// them after a confirmed save or after a number of days.
//
// -ERR replies are returned as *pop3.Error with the RFC 2449 response code,
// so errors.Is(err, pop3.ErrInUse) and errors.As work.
//
// # Implementation notes
//
//   - Retr and Top return an io.ReadCloser that streams the message off the
//     socket through lineio.DotReader: "." at the start of a line is
//     unstuffed (RFC 1939 §3), the first line included, so a message comes
//     back byte for byte as the server stored it. Only one reader may be
//     open; other commands fail with ErrBusy until it is read to io.EOF or
//     closed (Close discards the rest and keeps the session in step).
//   - A -ERR leaves the Client usable. An I/O error, a malformed reply or a
//     cancelled context leaves the session in an unknown state: the Client
//     closes the connection and later calls return ErrClosed. Nothing the
//     session marked deleted is removed then (RFC 1939 §6).
//   - Passwords are not sent over a connection without TLS unless
//     Options.AllowInsecureAuth is set (sasl.ErrInsecureAuth); APOP, which
//     sends only a digest, is always allowed. Options.Trace writes a
//     protocol trace with PASS, APOP and AUTH redacted.
//   - RFC 6856 §2.2: User and APOP send UTF-8 names or passwords only to a
//     server that advertises "UTF8 USER" (else ErrNotSupported, nothing
//     sent); APOP then prepares the name (query string) and the secret
//     (stored string) with SASLprep before computing the digest. ASCII
//     credentials are sent as given. Lang lists the server's languages
//     and SetLang selects one; response codes are unaffected, only the
//     text of *pop3.Error changes language.
//   - StartTLS refuses a server that sends bytes between its "+OK" and the
//     handshake, and forgets the capabilities learnt before (RFC 2595 §4).
//   - Commands are pipelined (DeleMany, hence Download) only when the server
//     advertises PIPELINING (RFC 2449 §6.6).
//   - Known server deviation: Dovecot 2.3 does not stuff a dot at the start
//     of the first line of a message; such a message comes back without that
//     dot, as from any conforming client.
package pop3client
