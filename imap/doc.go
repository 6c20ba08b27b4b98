// Package imap holds the types shared by the posthorn IMAP server
// (imap/imapserver) and client (imap/imapclient): sequence and UID sets,
// flags, mailbox attributes and names, envelopes, body structures, search
// criteria, STATUS and FETCH item names, response codes and the typed
// *Error that carries a NO, BAD or BYE reply.
//
// The package contains no I/O. The wire codec lives in an internal package;
// the types here are what the codec produces and consumes, so a server and a
// client speak in the same words.
//
// # Implemented specifications
//
//   - RFC 9051 IMAP4rev2 and RFC 3501 IMAP4rev1 (formal syntax in §9 of each)
//   - RFC 3501 §5.1.3 modified UTF-7 mailbox names (EncodeMailboxName,
//     DecodeMailboxName); RFC 6855 UTF8=ACCEPT names are plain UTF-8
//   - RFC 3348 CHILDREN, RFC 5258 LIST-EXTENDED and RFC 6154 SPECIAL-USE
//     mailbox attributes
//   - RFC 4315 UIDPLUS, RFC 4469 and RFC 7888 (TOOBIG), RFC 5530 response codes
//   - RFC 4731 ESEARCH and RFC 5182 SEARCHRES ("$" sets, RETURN (SAVE))
//   - RFC 7162 CONDSTORE/QRESYNC (MODSEQ search key, HIGHESTMODSEQ, MODIFIED,
//     NOMODSEQ, CLOSED)
//   - RFC 8438 STATUS=SIZE, RFC 9208 QUOTA (OVERQUOTA, DELETED-STORAGE),
//     RFC 3516 BINARY fetch items
//
// # Implementation notes
//
// Sets keep "*" symbolic (the value Star, zero) until a caller resolves
// them against the largest number in use, because its meaning changes as
// messages arrive and leave (RFC 9051 §9, seq-number). Ranges are stored
// with the smaller end first; "4:2" and "2:4" are the same set.
//
// Envelope and BodyStructure strings are kept as they appear in the message
// (RFC 9051 §7.5.2 requires ENVELOPE strings without decoding of encoded
// words); decoding is the caller's choice.
package imap
