// Package dkim signs and verifies DomainKeys Identified Mail signatures
// (RFC 6376) with the algorithms RFC 8301 and RFC 8463 leave standing:
// rsa-sha256 and ed25519-sha256.
//
// # Main types
//
//   - [Verifier] is an io.Writer a received message passes through on its
//     way to the store (one pass, memory bounded by the header limit, key
//     lookups running while a large body streams); [Verify] wraps it for an
//     io.Reader. Each DKIM-Signature field gets a [Result] whose [Status]
//     uses the result words of RFC 8601, ready for Authentication-Results.
//   - [Signer] hashes a message in one pass and returns the DKIM-Signature
//     field to put in front of it; [SignReaderAt] and [Sign] write the
//     signed message from a stored message or through a spool.
//   - [Resolver] is the one DNS method the verifier needs (TXT lookup);
//     *net.Resolver satisfies it, and so can a caching client or a map.
//   - [GenerateKey], [KeyRecordFor] and [TXTRecord] make a key and print
//     the DNS record to publish for it.
//   - [ParseSignature] and [ParseKeyRecord] are the bounded parsers.
//
// # Security choices
//
//   - rsa-sha1 signatures are a permanent error wrapping [ErrSHA1] (RFC
//     8301 §3.1); RSA keys under 1024 bits one wrapping [ErrKeyTooSmall]
//     (§3.2). Keys over 8192 bits are refused to bound verification cost.
//   - l= (body length) is reported in [Result]; when content follows the
//     signed length the status is [Policy], never [Pass] (RFC 6376 §8.2).
//     The signer never emits l=.
//   - The signer over-signs by default: each signed field name appears in
//     h= once more than in the message, so a field added in transit, or
//     one that was absent, breaks the signature (RFC 6376 §8.15).
//   - A DNS failure other than "no such record" is [TempError], never a
//     pass or fail (RFC 6376 §6.1.2).
//   - Parsers are bounded: tag lists to 64 tags and 16 KiB, h= to 128
//     names, the header to 1 MiB (by default) and 1000 fields, signatures
//     per message to 8 (by default), TXT records considered per key to 8,
//     RSA keys to 8192 bits. Selecting the signed fields is therefore
//     cheap even for a message built to make it expensive.
//
// # Implementation notes
//
// The body canonicalizer is a streaming state machine: it holds back only
// a CR that may start a CRLF, whitespace that may turn out to be trailing
// (relaxed), and a count of empty lines that may turn out to be trailing.
// Signatures that share body canonicalization and l= share one body hash.
// Bare LF line ends are taken as CRLF, as they become on the wire; a CR
// not followed by LF is content.
//
// The signer builds the DKIM-Signature field once, folded, with an empty
// b=, hashes exactly that text, and then appends the signature value; the
// field is therefore correct under simple header canonicalization too.
// DKIM-Signature itself is never over-signed (a later signature would
// break this one).
//
// ARC (RFC 8617) is deliberately not implemented: it is being moved to
// Historic. Nor is the obsolete DomainKeys (RFC 4870).
//
// Interoperability: signatures made here verify with OpenDKIM 2.11 and
// OpenDKIM's verify here (tests run its test mode when it is installed).
// OpenDKIM 2.11.0~beta2 makes Ed25519 signatures with simple header
// canonicalization that fail verification, its own included.
//
// RFCs: 6376, 8301, 8463; 8601 for result names.
package dkim
