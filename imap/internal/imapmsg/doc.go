// Package imapmsg computes IMAP FETCH data and evaluates SEARCH keys from a
// stored message: ENVELOPE and BODYSTRUCTURE/BODY (RFC 9051 §7.5.2),
// BODY[section]<partial> with HEADER, HEADER.FIELDS (NOT), TEXT and MIME,
// BINARY[section] and BINARY.SIZE (RFC 3516), RFC822.* items, and the
// header, body, text, size and date keys of SEARCH (RFC 9051 §6.4.4). The
// base subject and sent date of SORT and THREAD (RFC 5256 §2.1, §2.2) are
// imap/internal/imapsort's, which matches Dovecot.
//
// A Message wraps the raw message (an io.ReaderAt with its size, CRLF line
// ends, as the server serves it) and its part index from mime.Index. Nothing
// is held in memory but the index: sections are io.Readers over the stored
// bytes, and BINARY decodes on the fly.
//
// # Implementation notes
//
//   - ENVELOPE strings are the header values as written (unfolded), encoded
//     words included: RFC 9051 §7.5.2 does not decode them, and clients do.
//     Address display names lose their RFC 5322 quoting and comments but
//     keep encoded words. An address without a domain gets the host
//     "MISSING_DOMAIN" so it cannot be mistaken for a group marker.
//   - BODYSTRUCTURE type, subtype, parameter names and encodings are sent in
//     upper case as in the RFC's examples; parameter values as decoded by the
//     mime package (RFC 2231 joined), sorted by name for a stable output.
//   - Body line counts are the number of line breaks in the body, as Dovecot
//     reports them (the CRLF before a boundary belongs to the delimiter).
//     The tests compare ENVELOPE, BODYSTRUCTURE and sections with a live
//     Dovecot, which agrees byte for byte apart from the case of tokens and
//     the order of parameters.
//   - BINARY decodes base64 and quoted-printable; BINARY.SIZE decodes once
//     to count (a server may cache it). Other encodings are NO [UNKNOWN-CTE].
//   - Encode pre-encodes ENVELOPE, BODY and BODYSTRUCTURE once; the server
//     caches the bytes per message and writes them with one copy. The bytes
//     are valid in every session (8-bit strings become literals).
//   - Flag, UID, sequence-number and mod-sequence keys are evaluated with
//     the metadata the server passes in (Meta); content keys open the
//     message only when the cheaper keys have not decided the result.
//   - BODY and TEXT search only text leaves (and the headers of enclosed
//     messages), never attachments or images. An ASCII needle against a
//     us-ascii, utf-8 or iso-8859-1 part is matched on the part's bytes,
//     transfer-decoded into buffers the Matcher reuses and lower-cased in
//     place for ASCII only; this is exact because only U+212A and U+0130
//     lower-case to ASCII, and a part holding either takes the slow path
//     (charset decoding and full Unicode lower-casing, streamed). Header
//     keys search one-line values without encoded words in place the same
//     way. The fast decoders are fuzzed against the mime package's.
package imapmsg
