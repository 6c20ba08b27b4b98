// Package imapwire is the IMAP wire codec shared by the posthorn IMAP
// server and client: a streaming Decoder over a *bufio.Reader for the
// grammar of RFC 9051 §9 and RFC 3501 §9 (atoms, strings, literals, lists,
// numbers, sets, flags, dates, search programs, fetch attributes), and the
// Append functions that write the same grammar.
//
// # Decoder
//
// The decoder reads one command (or response) element by element; the
// caller drives it with the grammar of the command it is parsing and ends
// with ReadCRLF. Every read is bounded by Limits: bytes per line (counted
// between literals), literal size, literals per command and list nesting.
// A synchronising literal is checked against its limit before the Continue
// hook is called, so a server refuses an oversized literal before the
// client sends it (RFC 9051 §7.5, RFC 7888 §4, RFC 4469 TOOBIG).
// A literal may be read as a stream (ReadLiteralReader) so that APPEND never
// holds a whole message in memory.
//
// Grammar and limit violations are *Error values. Error.InStep tells the
// caller whether the decoder already stands at the start of the next
// command; otherwise Recover skips the rest of the failed command (including
// non-synchronising literals up to a caller-chosen size) or reports that the
// connection can no longer be kept in step and must be closed (RFC 7888 §4:
// consume the literal or send BYE). I/O errors are returned as they come from
// the reader and always end the connection.
//
// Implementation notes: the decoder keeps one scratch buffer and returns
// byte slices from it in the *Bytes methods (valid until the next call);
// string-returning methods allocate. After a literal the line limit starts
// again from zero; the whole command (lines and string literals) is bounded
// by MaxCommandBytes, and streamed message literals by the caller's limit.
//
// # Writing
//
// The Append functions append IMAP syntax to a []byte: strings as an atom,
// a quoted string when it is safe (7-bit, or UTF-8 once the session allows
// it, no CR, LF or NUL, not longer than MaxQuoted) and a literal
// otherwise; envelopes, body structures, search programs and fetch
// attributes. They are the one encoder of the package: the server's
// response writer writes their output through its bufio.Writer's
// AvailableBuffer without allocation, and the client builds its commands
// with Command, which keeps the places of its literals as structure.
//
// The server also uses them to pre-encode ENVELOPE and BODYSTRUCTURE once
// per message and write the cached form with a single copy.
package imapwire
