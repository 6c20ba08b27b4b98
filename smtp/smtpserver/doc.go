// Package smtpserver implements an SMTP (RFC 5321), submission (RFC 6409)
// and LMTP (RFC 2033) server over a pluggable [Backend].
//
// A [Server] accepts connections and runs one goroutine per connection.
// For each connection it asks the Backend for a [Session] and calls its
// Mail, Rcpt and Data methods as the client's transactions arrive; the
// backend stores bytes, the server does the protocol. Optional interfaces
// extend a Session: [AuthSession] (learn or veto the AUTH identity) and
// [LMTPSession] (one result per recipient). BDAT chunks (RFC 3030) reach
// Data as one stream, so a backend needs nothing to support CHUNKING.
//
// A mail store that also serves IMAP and POP3 (imapmem, maildir) plugs in
// through [NewStoreBackend]: it implements [DeliveryStore], which uses only
// standard types, and the backend maps recipients to accounts, checks
// quotas at RCPT and streams each message into the store once. An MX sets
// [StoreOptions.Authenticate] to check SPF, DKIM and DMARC on the way
// ([InboundAuth]): in the same single pass, with the results in an
// Authentication-Results field on top of the stored message.
//
// Extensions: PIPELINING, 8BITMIME, SMTPUTF8, SIZE, ENHANCEDSTATUSCODES,
// AUTH (through package sasl), STARTTLS, implicit TLS ([Server.ServeTLS]),
// CHUNKING, BINARYMIME, DSN (parameters passed to the backend), REQUIRETLS
// (only under TLS), LIMITS, XCLIENT (only for [Server.XCLIENTTrusted]).
// Behind a load balancer, the PROXY protocol (HAProxy's proxy-protocol.txt,
// versions 1 and 2) from [Server.ProxyTrusted] carries the client address.
//
// # Implementation notes
//
// Invariants a maintainer must keep:
//
//   - Replies are queued in a bufio.Writer and flushed only when the
//     bufio.Reader under the command parser has to read from the socket
//     (flushReader), that is when the client has nothing more pipelined.
//     So a pipelined group gets its replies in one write (RFC 2920 §3.2)
//     and no reply is ever left unsent while the server waits.
//   - A message is answered only after its real end: DATA is decoded by
//     internal/lineio's DotReader, which accepts nothing but <CRLF>.<CRLF>
//     as the end and reports bare CR/LF and size errors only after it has
//     consumed the body; after the backend returns, the server closes the
//     DotReader, which drains the rest. BDAT chunks are always consumed in
//     full, even when refused. Nothing from inside a body can ever be read
//     as a command (SMTP smuggling).
//   - STARTTLS is refused, and the connection closed, when any byte is
//     buffered behind the command (CVE-2011-0411); after the handshake all
//     session state is forgotten (RFC 3207 §4.2).
//   - Backend methods run on the connection's goroutine, except Data for a
//     message sent in several BDAT chunks, which runs on a helper goroutine
//     while the connection goroutine feeds it through a pipe and does
//     nothing else until the helper is done. (A message in one BDAT LAST
//     chunk is read synchronously, without the pipe.) A panic in a backend ends that session with 421.
//   - ConnInfo is owned by the connection goroutine; backends read it from
//     Session methods.
//   - The Received: field goes at the head of Data's reader, except for
//     NewStoreBackend's sessions (the unexported traceTaker), which hand it
//     to the store at commit with the other header lines to prepend.
//   - Listeners, the accept loop, implicit TLS, the PROXY header,
//     connection limits, the Connect/Disconnect hooks and Shutdown are
//     the server shell (internal/serve) shared with the other servers;
//     Shutdown wakes a session only while it waits for a command
//     (serve.Stop's Wait and Busy), so a transaction in flight finishes.
//   - The accept loop never touches a connection's addresses: behind a
//     PROXY-protocol load balancer, RemoteAddr reads the header, so the
//     limits, ConnInfo and logger are set up in the connection's own
//     goroutine, after the header and before the greeting.
//
// Limits are on by default ([Limits]): line length, message size,
// recipients, messages per connection, connections in all and per client
// network (internal/limit, IPv6 counted per /64), errors per session, and
// authentication failures, which are delayed per connection and, through a
// limiter shared by all connections, per client network.
//
// Deliberate choices: VRFY answers 252 and EXPN 502 (RFC 5321 §3.5.3,
// §7.3); MAIL requires EHLO/HELO first unless AllowMessageBeforeHello;
// a bad BDAT size closes the connection since the chunk cannot be skipped.
package smtpserver
