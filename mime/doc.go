// Package mime reads, indexes and builds Internet messages (RFC 5322) and
// their MIME structure (RFC 2045, RFC 2046). It is the message layer under
// the SMTP, IMAP and POP3 packages of posthorn and is meant for
// applications too: it reads all the broken mail found in the wild without
// failing a whole message for one bad part, and writes only what the
// standards allow.
//
// # Map
//
// Reading:
//
//   - Header and ReadHeader: an ordered header that keeps the raw bytes of
//     every field (Field.Raw), so an unchanged header writes back byte for
//     byte (DKIM signatures survive); case-insensitive Get and Values,
//     unfolded values, Add, Set, Del and Prepend (for trace fields) that
//     fold at 78 characters.
//   - Reader (NewReader): a streaming walk over the part tree of a message
//     of any size, each part with its header, a transfer-decoded body and,
//     on request, a body converted to UTF-8; defects it tolerated are
//     recorded on the part (Defect, DefectKind).
//   - Index: the part tree with byte offsets of every header and body from
//     an io.ReaderAt, for IMAP's BODYSTRUCTURE, ENVELOPE, BODY[1.2.MIME],
//     BINARY[] and partial fetches (Part).
//   - Codecs for header values: DecodeWords (RFC 2047), ParseMediaType
//     (RFC 2045, RFC 2231), ParseAddressList and ParseAddress (RFC 5322
//     §3.4, RFC 6532; ParseAddressListRaw keeps encoded display names for
//     IMAP ENVELOPE), ParseMessageIDs (RFC 5322 §3.6.4), ParseDate (RFC 5322 §3.3), CharsetDecoder and
//     CharsetEncoding (every IANA and WHATWG charset label, the aliases seen
//     in mail, UTF-7); NewTransferDecoder and NewCharsetReader for bodies.
//   - Delivery reports: ReadReport and ParseDeliveryStatus (RFC 6522,
//     RFC 3464, RFC 6533), ReportBuilder to write them.
//   - Limits bounds every read (header bytes and fields, parts, depth) and
//     LimitError reports an excess.
//
// Writing:
//
//   - Builder: text, HTML with a text alternative, inline images
//     (multipart/related, Content-ID), attachments and extra header fields;
//     sets Date, Message-ID and MIME-Version; chooses 7bit,
//     quoted-printable or base64 per part; encodes non-ASCII header text
//     (RFC 2047) and file names (RFC 2231). Recipients gives the SMTP
//     envelope (Bcc included, never written to the header).
//   - MultipartWriter and NewTransferEncoder: the lower level for custom
//     structures.
//   - EncodeWords, FormatMediaType, Address.String and FormatAddressList,
//     FormatDate: the encoders the Builder uses, for writing headers by
//     hand.
//
// # Errors
//
// Errors are typed for errors.As. Most errors met while reading are soft:
// the function returns a usable result together with the error
// (*ParamError, *UnknownCharsetError, *AddressError, *MalformedFieldError
// in Header.Errors, Defect on a part). Hard errors are I/O errors and
// *LimitError where the caller asked for a hard limit.
//
// # Implementation notes
//
// Invariants a maintainer must keep:
//
//   - A Header never rewrites a field it did not change. ReadHeader stores
//     every field as a sub-slice of one buffer, line endings (CRLF, LF,
//     CRCRLF) and lines that are not fields included; only Add, Set and Del
//     change Raw. WriteTo is the concatenation of Raw plus the blank line
//     as read, so Header.RawSize equals the bytes ReadHeader consumed.
//   - No API writes CR or LF that did not come from the input or from
//     folding: Header.Add and Set refuse CR, LF and NUL in values
//     (*FieldError), the Builder refuses them in every field it writes
//     (*BuildError), and Address.String and EncodeWords turn them into
//     spaces. Header injection is impossible through this package.
//   - Every parser is bounded: header reading by Limits, the value codecs
//     by the length of their input (no recursion on input, nested comments
//     are counted, not recursed into), RFC 2231 sections by number (≤ 999).
//   - Encoded words written are at most 75 characters and never split a
//     UTF-8 sequence (RFC 2047 §2, §5); base64 and quoted-printable lines
//     at most 76; header lines are folded at white space to 78 characters
//     where possible and an unfoldable line over 998 is an error.
//   - Multipart boundaries written start with "=_", which can appear
//     neither in base64 nor in quoted-printable output, so an encoded body
//     cannot contain its delimiter.
//   - ParseAddressList and ParseDate try a fast path first
//     (address_fast.go, date_fast.go) for the forms nearly all mail uses:
//     plain `Name <local@domain>` / `local@domain` lists and the canonical
//     "Mon, 2 Jan 2006 15:04:05 -0700". A fast path must return exactly
//     what the general parser returns for everything it accepts, and
//     decline everything else; TestAddressFastPathAgrees,
//     TestDateFastPathAgrees and their fuzz targets check this. Change
//     the general parser, rerun them.
//   - There is no package-level mutable state; all tables are read-only.
//
// # Standards and deliberate deviations
//
// RFC 5322 (with the obsolete syntax of §4 on input), RFC 2045, RFC 2046,
// RFC 2047, RFC 2183, RFC 2231, RFC 2387, RFC 2392, RFC 6532, RFC 3464,
// RFC 6522, RFC 6533, RFC 9051 §7.5.2 (section numbering for Index).
// Where real mail breaks them, the readers are lenient on purpose:
//
//   - Encoded words are decoded anywhere in a value, also inside quoted
//     strings, inside parameter values and without white space around them
//     (RFC 2047 §5 forbids all three); adjacent words in one charset are
//     joined as bytes before charset decoding, which repairs multibyte
//     characters split across words. CR and LF decoded from a word become
//     spaces.
//   - Text labelled US-ASCII or UTF-8 that is not valid UTF-8 is read as
//     Windows-1252; ISO-8859-1 is read as Windows-1252 and GB2312 as GBK,
//     as browsers do (WHATWG Encoding).
//   - Parameters: unquoted values may hold specials and spaces, a missing
//     ";" before "name=" is inserted, a duplicate keeps the first value, a
//     name without value is dropped; RFC 2231 sections may come in any
//     order.
//   - Addresses: "Doe, Jane <jane@example.com>" is one mailbox named
//     "Doe, Jane"; a mailbox without a display name takes one from a
//     trailing comment; "<>" is accepted as the null address.
//   - Dates: besides RFC 5322 §4.3, missing seconds, weekday or zone
//     (UTC), full names, month first, AM/PM, "+hh:mm" zones, common named
//     zones and RFC 3339 are read; military zones are read as -0000 as
//     §4.3 says.
//   - Headers: LF-only and CRCRLF line ends, a leading continuation line,
//     lines without a colon and an mbox "From " line are kept (so the
//     header still writes back unchanged) and reported.
//
// The writers deviate in one point: Address.String writes a non-ASCII
// local part in UTF-8 (RFC 6532), which needs SMTPUTF8 to be sent; there
// is no ASCII form of it.
package mime
