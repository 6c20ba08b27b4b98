// Package imapserver is an IMAP4rev2 (RFC 9051) and IMAP4rev1 (RFC 3501)
// server: the protocol engine over a pluggable Backend.
//
// The Backend stores bytes: raw messages with CRLF line ends, flags,
// UIDs, per-mailbox mod-sequences and an expunge history, mailbox
// metadata and subscriptions, and publishes every change to the open
// Mailbox handles. The server does the protocol: it keeps each session's
// sequence-number map, computes FETCH items from the raw message and
// runs SEARCH itself. Package imapmem is an in-memory Backend.
package imapserver
