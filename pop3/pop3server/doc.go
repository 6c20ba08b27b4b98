// Package pop3server is a POP3 server (RFC 1939) over a pluggable Backend.
//
// A Server accepts connections, runs the AUTHORIZATION, TRANSACTION and
// UPDATE states of RFC 1939 §3 and asks its Backend only for bytes: the
// list of messages in a maildrop (UID and size), a message as an
// io.Reader, and the deletion of the messages marked at QUIT. User
// authentication goes through package sasl's credential interfaces, so one
// store can serve POP3, IMAP and SMTP AUTH alike. A store that implements
// [MaildropStore] (imapmem, maildir) becomes a Backend through
// [NewStoreBackend].
//
// # Implemented specifications
//
//   - RFC 1939: USER, PASS, APOP, STAT, LIST, RETR, DELE, NOOP, RSET,
//     QUIT, TOP, UIDL.
//   - RFC 2449: CAPA with TOP, USER, SASL, RESP-CODES, PIPELINING, UIDL,
//     EXPIRE, LOGIN-DELAY, IMPLEMENTATION; response codes [IN-USE],
//     [LOGIN-DELAY], [SYS/TEMP], [SYS/PERM] (RFC 3206) and [AUTH]
//     with AUTH-RESP-CODE (RFC 3206 §5).
//   - RFC 2595 §4: STLS. RFC 8314: implicit TLS (ServeTLS, port 995).
//   - RFC 5034: AUTH with initial response and "*" cancel; AUTH without
//     arguments lists the mechanisms as RFC 1734 clients expect.
//   - RFC 6856: the UTF8 command and capability with its USER argument
//     (USER, PASS and APOP names prepared with SASLprep as query strings,
//     the APOP secret as a stored string; prohibited characters fail like
//     a wrong password); the [UTF8] response code; STLS refused after
//     UTF8; LANG (listing, basic-filtering match of RFC 4647 §3.3.1, "*"
//     for Server.DefaultLanguage) with English built in and translations
//     from Server.Languages.
//   - The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2)
//     from load balancers in Server.ProxyTrusted.
//
// # Implementation notes
//
// Invariants a maintainer must keep:
//
//   - Messages marked with DELE are removed only by Maildrop.Delete, called
//     only from QUIT in the TRANSACTION state (RFC 1939 §6). A session that
//     drops, times out or is shut down closes its Maildrop without calling
//     Delete.
//   - The maildrop lock is a per-Server set of user names taken before
//     Backend.OpenMaildrop and released after Maildrop.Close, so a second
//     session of the same user gets -ERR [IN-USE] (RFC 2449 §8.1.2)
//     and never a second snapshot. Backends shared between processes add
//     their own lock.
//   - The session works on the snapshot returned at login. A message that
//     the store lost since then answers RETR and TOP with -ERR saying it is
//     gone (Maildrop.Open returns an error wrapping fs.ErrNotExist); DELE
//     of it succeeds and Delete ignores it.
//   - RETR and TOP stream from Maildrop.Open through a lineio.DotWriter,
//     which stuffs dots and turns bare CR or LF into CRLF, so the response
//     is well formed whatever the store holds. Once "+OK" is sent a store
//     error cannot become -ERR: the connection is closed instead, and the
//     client sees a truncated response rather than a short message.
//   - Replies are buffered and flushed only when no further command is
//     buffered (RFC 2449 §6.6 PIPELINING), or before the server blocks
//     (auth-failure delay, SASL challenge).
//   - Listeners, the accept loop, implicit TLS, the PROXY header,
//     connection limits, the Connect/Disconnect hooks and Shutdown are
//     the server shell (internal/serve) shared with the other servers;
//     Shutdown wakes a session only while it waits for a command
//     (serve.Stop's Wait and Busy), so a transaction in flight finishes.
//   - The accept loop never touches a connection's addresses: behind a
//     PROXY-protocol load balancer RemoteAddr reads the header, so the
//     limits, ConnInfo and logger are set up in the connection's own
//     goroutine, after the header and before the greeting.
//   - Response texts go through conn.reply/replyf, which translate only
//     the text after "+OK "/"-ERR " and a response code, keyed by the
//     English text or format string; status, codes, numbers and
//     multi-line data are never translated. Text that can hold non-ASCII
//     (backend error texts, user names) goes through conn.textOut, which
//     turns it into "?" until UTF8 or LANG (RFC 6856 §2.1).
//   - Passwords, AUTH payloads and message contents are never logged.
//   - USER/PASS and plaintext SASL mechanisms are offered only over TLS
//     unless AllowInsecureAuth is set (RFC 8314 §3, RFC 2595 §2.2).
//
// Deliberate choices: the idle timeout defaults to the 10 minutes RFC 1939
// §3 sets as the minimum; a message with non-ASCII headers that the Backend
// marks Message.UTF8 is refused with -ERR [UTF8] unless the client sent
// UTF8 (RFC 6856 §2.1 allows refusing instead of a surrogate message);
// LANG is accepted without UTF8, since RFC 6856 §3.2 makes its response
// and what follows UTF-8 text; sessions always start in English, whatever
// DefaultLanguage says, because nothing but ASCII may precede UTF8 or LANG.
package pop3server
