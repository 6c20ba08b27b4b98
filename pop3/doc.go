// Package pop3 holds the wire types shared by the POP3 client
// (pop3/pop3client) and server (pop3/pop3server): status lines with
// RFC 2449 response codes, the typed *Error for -ERR replies, command lines
// with their length limits, and CAPA capability lists.
//
// # Implemented specifications
//
//   - RFC 1939 (POP3): command and status-line syntax.
//   - RFC 2449 (POP3 extension mechanism): CAPA, RESP-CODES, and the
//     length limits of §4 (commands up to 255 octets including CRLF, first
//     response line up to 512 octets including CRLF).
//   - RFC 5034 (SASL): the "+ " continuation line.
//   - RFC 6856 (UTF8): the UTF8 response code, the USER argument of the
//     UTF8 capability (Capabilities.UTF8User) and LANG listings
//     (ParseLanguage).
//
// # Implementation notes
//
// RFC 1939 §3 limits each argument to 40 characters. This package applies
// that limit to the arguments whose syntax is fixed (message numbers, line
// counts, keywords), but not to USER, PASS, APOP names or AUTH arguments:
// RFC 2449 §4 raised the command limit to 255 octets so that capabilities
// can use it, RFC 5034 §4 puts AUTH initial responses under the 255-octet
// limit, and UTF-8 user names (RFC 6856) or long passwords routinely exceed
// 40 octets. Those arguments are bounded by the line limit only. The PASS
// argument is the rest of the line, spaces included (RFC 1939 §7).
//
// Parsers in this package never allocate more than the line they are
// given and report malformed input as *SyntaxError.
package pop3
