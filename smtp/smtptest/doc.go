// Package smtptest runs real SMTP servers inside tests, in the manner of
// net/http/httptest: one line starts a server on a loopback port that
// captures every message it accepts, a test waits for mail without polling,
// and faults make an application's failure paths testable.
//
//	srv := smtptest.NewServer(t)         // closed by t.Cleanup
//	sendReceipt(srv.Addr)                // the code under test
//	msgs, err := srv.WaitForMessages(ctx, 1, smtptest.To("bob@example.org"))
//	// msgs[0].Subject, msgs[0].Text, msgs[0].Attachments, msgs[0].Raw ...
//
// # Servers
//
// NewServer listens on 127.0.0.1 (or [::1]) and offers STARTTLS with a
// certificate made once per process; ClientTLSConfig trusts it, so a test
// never turns certificate verification off. NewTLSServer serves implicit
// TLS (RFC 8314), as a port 465 does. NewUnstartedServer returns a server
// to configure (its fields, or Server for anything smtpserver offers)
// before Start or StartTLS.
//
// # One store with IMAP and POP3
//
// By default captured mail stays in the test server. Set Store to a
// smtpserver.DeliveryStore (imapmem.Store, or the Store of an
// imap/imaptest or pop3/pop3test server) and accepted mail is delivered
// there as well, to the account named by each recipient's local part, so a
// test can read it back over IMAP or POP3. This package imports nothing of
// IMAP or POP3.
//
// # Faults
//
// Faults (see Fault) reject MAIL, RCPT or the message with a chosen reply,
// on every attempt, the n-th, the first k, or those a predicate picks;
// refuse connections; delay replies; drop the connection in the middle of
// DATA. Extensions can be withheld (Server.DisableExtensions) and AUTH or
// TLS required (RequireAuth, RequireTLS).
//
// A Server is safe for concurrent use and holds no package-level state but
// the process certificate; Close (or the test's cleanup) leaves no
// goroutine behind.
package smtptest
