// Package smtpclient is an SMTP (RFC 5321) and LMTP (RFC 2033) client:
// one-call submission ([Submit], [Submitter] with a small connection pool),
// direct MX delivery ([Deliver]) and a [Client] with one method per command.
//
// Every call takes a context.Context whose cancellation and deadline act on
// the socket, and each command also has its own timeout from RFC 5321
// §4.5.3.2 ([Timeouts]): a slow server gets 10 minutes after the final dot,
// not one deadline for the whole transaction, since giving up there causes
// duplicate deliveries.
//
// [Client.Send] does a whole transaction: MAIL, every RCPT and DATA in one
// write when the server offers PIPELINING (RFC 2920), BDAT when it offers
// CHUNKING (RFC 3030; small messages go in the same write as the
// envelope), BODY=8BITMIME or BINARYMIME and SMTPUTF8 chosen from the
// message, SIZE declared and checked, DSN and REQUIRETLS parameters passed
// on. The message is an io.ReaderAt with its size, so Deliver can send it
// to several hosts.
//
// # Implementation notes
//
//   - Nothing a caller passes reaches the wire unchecked: addresses are
//     parsed with smtp.ParseMailbox and re-formatted, parameters are built
//     from typed options and validated, and writeLine refuses CR/LF as a
//     last defence.
//   - Message data sent with DATA goes through internal/lineio's DotWriter,
//     which dot-stuffs and turns every bare CR or LF into CRLF: the client
//     never sends a bare line ending or a premature end of data. Binary
//     content is sent unchanged only with BDAT and BINARYMIME.
//   - A message with 8-bit data for a server without 8BITMIME is converted
//     (RFC 6152 §3): each 8-bit leaf part is re-encoded, text as
//     quoted-printable and the rest as base64, using package mime's part
//     index; everything else is copied byte for byte. A message that cannot
//     be converted (8-bit header, binary part) fails with ErrNeeds8BitMIME.
//   - After STARTTLS the old bufio.Reader is dropped, so nothing the server
//     (or an attacker) sent in plaintext before the handshake is read as a
//     TLS-protected reply; EHLO is sent again (RFC 3207 §4.2).
//   - An I/O error, a timeout or a 421 reply makes the Client unusable
//     (ErrClosed afterwards); a 4xx/5xx reply does not.
//   - TLS policies: Submit requires TLS (implicit on port 465, STARTTLS
//     otherwise) with certificate verification (RFC 8314, RFC 7817);
//     Deliver uses STARTTLS opportunistically (RFC 7435) unless REQUIRETLS
//     asks for verified TLS (RFC 8689 §4.2.1). No password or token is sent
//     without TLS (Login and Auth with PLAIN, LOGIN, OAUTHBEARER, XOAUTH2
//     fail with sasl.ErrInsecureAuth) unless Options.AllowInsecureAuth is
//     set; there is no exemption for loopback. Options.Trace writes a
//     protocol trace with AUTH exchanges redacted and message data elided.
package smtpclient
