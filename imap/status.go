package imap

// StatusItem is a STATUS data item name (RFC 9051 §6.3.11).
type StatusItem string

// Status items.
const (
	StatusMessages       StatusItem = "MESSAGES"
	StatusUIDNext        StatusItem = "UIDNEXT"
	StatusUIDValidity    StatusItem = "UIDVALIDITY"
	StatusUnseen         StatusItem = "UNSEEN"
	StatusDeleted        StatusItem = "DELETED"         // RFC 9051
	StatusSize           StatusItem = "SIZE"            // RFC 8438, RFC 9051
	StatusRecent         StatusItem = "RECENT"          // IMAP4rev1 only
	StatusHighestModSeq  StatusItem = "HIGHESTMODSEQ"   // RFC 7162
	StatusAppendLimit    StatusItem = "APPENDLIMIT"     // RFC 7889
	StatusDeletedStorage StatusItem = "DELETED-STORAGE" // RFC 9208
)

// Known reports whether the item is one this package names.
func (s StatusItem) Known() bool {
	switch s {
	case StatusMessages, StatusUIDNext, StatusUIDValidity, StatusUnseen, StatusDeleted,
		StatusSize, StatusRecent, StatusHighestModSeq, StatusAppendLimit, StatusDeletedStorage:
		return true
	}
	return false
}

// StatusData is the answer to STATUS (RFC 9051 §7.3.5): a value per
// requested item. Fields for items that were not requested are nil.
type StatusData struct {
	Mailbox        string
	Messages       *uint32
	UIDNext        *uint32
	UIDValidity    *uint32
	Unseen         *uint32
	Deleted        *uint32
	Size           *int64
	Recent         *uint32
	HighestModSeq  *uint64
	AppendLimit    *uint64 // nil also when NIL (no limit) was sent
	DeletedStorage *int64
}
