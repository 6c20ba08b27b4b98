// Package serve is the server shell shared by smtpserver, imapserver and
// pop3server: the listener set, the accept loop with its backoff,
// implicit TLS, the PROXY protocol header, connection limits, the
// Connect and Disconnect hooks, and Shutdown and Close (Shell). Each
// server keeps only its protocol: it hands the shell a function that
// makes its session for an accepted connection (Config.NewConn), and the
// session embeds a Stop, through which Shutdown reaches it.
//
// Shutdown has one meaning in the three servers: stop accepting, let
// the transactions in flight finish (an SMTP DATA being received is
// completed and answered, an IMAP APPEND completed), end idle sessions
// with the protocol's goodbye (SMTP 421, IMAP BYE, POP3 -ERR), and at
// the deadline abort the rest, with the goodbye where the session is
// reading from its client, even in the middle of a transaction (RFC 5321
// §3.8), before closing them.
//
// It also declares the types the three servers share by alias:
// ConnInfo (what a backend learns about a connection) and the hook
// events ConnEvent and AuthEvent, so that the three speak one
// vocabulary.
package serve
