// Package tlsutil holds the TLS plumbing shared by the SMTP, IMAP and POP3
// servers and clients: STARTTLS upgrades, implicit-TLS listeners, hardened
// configurations, and a self-signed certificate for tests and demos.
//
// # STARTTLS
//
// [ServerUpgrade] refuses the upgrade with [ErrPipelinedAfterSTARTTLS] when
// the client sent bytes after the STARTTLS command that the server has
// already buffered: they were sent in plaintext and must not be taken as
// commands of the TLS session (CVE-2011-0411 and its relatives; RFC 3207
// §4, RFC 2595 §3.1, RFC 9051 §6.2.1: the client must not send commands
// until TLS is established). The caller closes the connection.
//
// Buffered bytes that begin like a TLS handshake record (byte 22, then 3)
// are not plaintext: some clients send the ClientHello right behind the
// command, and ServerUpgrade feeds them to the handshake, which RFC 9051
// §6.2.1 allows (its option 1) and which TLS authenticates. RFC 3207 §4
// lets a pipelining SMTP client (RFC 2920) send STARTTLS only as the last
// command of a group, so nothing but TLS may follow it.
//
// The check has limits, written down here so no one relies on more:
//
//   - ServerUpgrade checks the bufio.Reader that read the STARTTLS line.
//     That is complete for injection: the server reads commands only
//     through that reader, so plaintext that reached the command parser
//     before the handshake is exactly what is buffered there. Bytes that
//     arrive later go to the TLS handshake, which fails on them: they
//     cannot be mistaken for commands.
//   - [CheckPipelined] also looks at the socket, with a read deadline of
//     one millisecond. Call it before writing the "ready to start TLS"
//     reply: at that moment a conforming client has sent nothing, so any
//     readable byte is pipelined. After the reply the client's ClientHello
//     may legitimately be there, so the check is meaningless then. Bytes in
//     flight that arrive after the check are not seen; they break the
//     handshake as above.
//
// [ClientUpgrade] is the client side. Its caller must drop the bufio.Reader
// it used before the upgrade and wrap the returned *tls.Conn in a new one:
// whatever the server (or a man in the middle) sent after the STARTTLS
// reply and before the handshake is then discarded, never read as a
// TLS-protected response (the response-injection variant described in
// "Why TLS is better without STARTTLS", USENIX Security 2021).
// [DiscardBuffered] drops and counts those bytes for a log line.
//
// # Configurations
//
// [ServerConfig] and [ClientConfig] clone a base configuration and set TLS
// 1.2 as the minimum and the protocol's ALPN identifier. The server fails
// the handshake when the client offers ALPN protocols and none is ours
// (crypto/tls sends the no_application_protocol alert, RFC 7301 §3.2): a
// browser talking http/1.1 to the mail port cannot be used for a
// cross-protocol attack (ALPACA, 2021). A client that offers no ALPN at all
// is accepted, as most mail clients do not. [ServerNames] adds an SNI check
// against a list of host names.
//
// The configurations leave session tickets and Extended Master Secret as
// crypto/tls sets them, so channel binding keeps working: tls-exporter
// (RFC 9266) on TLS 1.3 and tls-unique (RFC 5929) on TLS 1.2 when crypto/tls
// provides it. The sasl package reads the binding data from the
// tls.ConnectionState.
//
// # Implicit TLS
//
// [NewListener] wraps a listener so that every accepted connection is a
// *tls.Conn (RFC 8314 ports 465, 993, 995). The handshake runs on the first
// Read or Write, in the connection's goroutine, so a slow client never holds
// up Accept; servers should call HandshakeContext with a deadline.
package tlsutil
