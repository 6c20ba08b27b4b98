package imapserver

import (
	"context"
	"errors"
)

// ErrHistoryExpired is returned by ExpungeHistory.ExpungedSince when the
// store no longer remembers the expunges back to the mod-sequence asked
// for (RFC 7162 §5.3 allows a store to expire old records). The server
// then reports every UID of the client's set that is not in the mailbox,
// narrowed by the client's sequence match data (RFC 7162 §3.2.5.2,
// §3.2.6).
var ErrHistoryExpired = errors.New("imapserver: expunge history expired")

// ChangeIndex is an optional interface of Mailbox for CONDSTORE and
// QRESYNC (RFC 7162): the messages changed after a mod-sequence, found
// without looking at every message. Without it the server asks for all
// messages of the view and compares their mod-sequences, which costs
// time proportional to the mailbox for a resync that may concern a few
// messages.
type ChangeIndex interface {
	// ChangedSince returns the messages whose mod-sequence is greater
	// than modSeq, as they are now, ascending by UID; expunged messages
	// are left out. It may include messages added after the handle was
	// opened: the server keeps only those in its view. The server may
	// reuse the returned slice.
	ChangedSince(ctx context.Context, modSeq uint64) ([]Message, error)
}

// ModSeqKeeper is an optional interface of Backend. A backend whose
// KeepsModSeq returns false keeps no mod-sequences for any mailbox, and
// the server then offers neither CONDSTORE nor QRESYNC. A backend that
// does not implement it is assumed to keep them where its snapshots say
// so (Snapshot.HighestModSeq not 0); for the other mailboxes the server
// answers NOMODSEQ (RFC 7162 §3.1.2.2).
type ModSeqKeeper interface {
	KeepsModSeq() bool
}
