// Package imapsort implements the protocol-independent part of IMAP SORT and
// THREAD (RFC 5256): base subject extraction, sent dates, the sort
// criteria, the ORDEREDSUBJECT and REFERENCES threading algorithms, and the
// THREAD response syntax. It also offers DISPLAYFROM and DISPLAYTO
// (RFC 5957).
//
// The IMAP server runs the SEARCH part of SORT and THREAD itself, fills a
// Message for each matching message (sequence number, UID, internal date,
// size and the raw header values the criteria need) and calls Sort,
// OrderedSubject or References. The results are pointers into its slice;
// Numbers and AppendThreads turn them into the response data, by sequence
// number or by UID. Nothing here does I/O or keeps state between calls.
//
// # Implementation notes
//
//   - Base subject (RFC 5256 §2.1): encoded words are decoded with
//     mime.DecodeWords first (an undecodable word is kept as written, the
//     soft error ignored), then steps (2)-(6) run on the UTF-8 text with
//     the ABNF of RFC 5256 §5 matched by hand, case-insensitively for "re",
//     "fw", "fwd", "(fwd)" and "[fwd:". BaseSubject also reports whether a
//     reply or forward marker was removed, as REFERENCES step 5 needs.
//   - Collation is i;ascii-casemap (RFC 4790 §9.2), as the posthorn server
//     advertises; RFC 5256 §7 asks for i;unicode-casemap with I18NLEVEL=1,
//     which is a deliberate deviation here: only ASCII letters fold, other
//     octets compare by value. Keys are computed once per message and sort
//     is by byte comparison of the keys.
//   - Sent date (RFC 5256 §2.2): mime.ParseDate of the Date field, in UTC;
//     the internal date when Date is missing or unparsable. Every comparison
//     of dates or keys that ties falls back to the sequence number, which
//     REVERSE never reverses (RFC 5256 §3).
//   - FROM, TO and CC sort by the addr-mailbox (local part) of the first
//     address (mime.ParseAddressList), or the group name for a group, as in
//     the ENVELOPE; an absent or unparsable field is the empty string, which
//     collates first.
//   - REFERENCES (RFC 5256 §4) follows the six steps literally. Message ids
//     come from mime.ParseMessageIDs with quoting removed (the §4 note on
//     normalisation); a string without "@" is no msg-id. The first message
//     (by sequence number) owns an id; later duplicates and messages without
//     an id get a unique, unreferenced one. Every link is checked against
//     loops by walking up the parents before it is made, so the result is a
//     forest holding every message exactly once. Step 1.B breaks a message's
//     existing parent link before it tries the new one, so a message that
//     cannot be linked to its last reference without a loop (for example,
//     its own id) has no parent, as in Dovecot. Dummies remain only at the top level after step 3, and have
//     at least two children.
//   - Keys (NewKeys) hold everything a message contributes that depends on
//     its header only: sent date, casemapped base subject and address keys,
//     normalised message ids. A server caches them with its parse of the
//     message and passes them in Message.Keys; Sort, OrderedSubject and
//     References then touch no header text. TestKeysSameResults holds the
//     two paths to the same output.
//   - Cost: O(n log n) for Sort and ORDEREDSUBJECT; REFERENCES is
//     O(n·refs·depth) for the loop checks, linear in practice. Tree
//     recursion depth is bounded by the depth of the threads; AppendThreads
//     writes chains of single replies iteratively.
//   - ESORT (RFC 5267) adds no ordering rules: its MIN, MAX, COUNT and ALL
//     are the first, last, number and list of Sort's result, which the
//     server formats.
package imapsort
