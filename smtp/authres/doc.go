// Package authres builds and parses the Authentication-Results header
// field (RFC 8601, which obsoletes RFC 7601), and removes forged ones from
// incoming mail.
//
// # Main types
//
//   - [Header] is one field: the authserv-id of the service that added it
//     and its [Result]s (method, result, reason, [Prop]erties such as
//     header.d or smtp.mailfrom). [Header.Field] formats it for
//     prepending; [Parse] reads one.
//   - [Filter] passes a message through and drops the
//     Authentication-Results fields that claim this host's authserv-id
//     (§5), streaming, before the host adds its own.
//   - [AuthServID] reads only the authserv-id, for fields whose results
//     are malformed.
//
// # Implementation notes
//
// Formatting validates every part and quotes values that are not tokens;
// a CR, LF or other control character is an error, never written, so
// results built from message data cannot inject header fields. Parsing is
// bounded (64 KiB, 64 results, 32 properties each) and skips comments in
// one flat scan without recursion. Parsed methods, results and property
// names are lower case; values keep their case.
//
// ARC (RFC 8617, ARC-Authentication-Results) is not implemented: it is
// being moved to Historic.
//
// RFCs: 8601 (and 7601 for older fields), 2045 (value), 5322 (CFWS).
package authres
