// Package smtp holds the wire types shared by the SMTP/LMTP client
// (smtp/smtpclient) and server (smtp/smtpserver): replies and their typed
// error, enhanced status codes, the address grammar of RFC 5321 with the
// internationalised forms of RFC 6531, ESMTP parameters with the typed MAIL
// and RCPT options built from them, and xtext.
//
// # Main types
//
//   - [Error] is a reply carried as a Go error (errors.As works through
//     wrapping); [Reply] is any reply as read from the wire; [ReadReply] and
//     [AppendReply] are the bounded reader and the writer.
//   - [EnhancedCode] is an RFC 3463 status code (class.subject.detail).
//   - [Mailbox] is a parsed RFC 5321 Mailbox; [ParseMailbox] and
//     [ParsePath] are strict parsers, [Mailbox.String] the formatter.
//   - [Params] are ESMTP parameters; [MailOptions] and [RcptOptions] are the
//     typed forms of the parameters this suite implements (SIZE, BODY,
//     SMTPUTF8, AUTH, RET, ENVID, REQUIRETLS, NOTIFY, ORCPT).
//   - [ParseCommand], [ParseMailArg] and [ParseRcptArg] split command lines.
//
// # Implementation notes
//
// Invariant: nothing built by this package's formatters can put a CR, LF,
// NUL, '<', '>' or an extra parameter onto the wire. Every formatter
// validates its input and returns an error instead of escaping into
// something else ([Mailbox.Check], [Params.Append], [MailOptions.Params]).
// [AppendReply] replaces CR and LF in reply text with spaces, so a message
// taken from a backend error cannot split a reply.
//
// Every parser is bounded: a command line or reply line is rejected beyond
// its limit, a reply beyond a number of lines, a path beyond 256 octets
// (RFC 5321 §4.5.3.1.3), a local part beyond 64 and a domain beyond 255.
//
// Deliberate deviations: a space after "FROM:" / "TO:" is accepted (many
// clients send it although RFC 5321 §4.1.2 has none), and source routes
// ("@a,@b:user@c") are accepted and dropped as §4.1.1.3 requires.
//
// RFCs: 5321, 3463, 2034, 6531, 1870, 6152, 3030, 3461, 4954, 8689, 9422.
package smtp
