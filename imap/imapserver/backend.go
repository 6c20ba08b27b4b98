package imapserver

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/posthorn/posthorn/internal/serve"
	"github.com/posthorn/posthorn/sasl"
)

// Delimiter is the hierarchy delimiter of the mailbox names exchanged
// with a Backend. Names passed to and returned by a backend are full
// UTF-8 names (NFC), levels separated by Delimiter, with the INBOX spelt
// "INBOX" whatever case the client used (RFC 9051 §5.1).
const Delimiter = '/'

// Errors a Backend returns so that the server can answer with the right
// response code. Backends may wrap them; the server tests with errors.Is.
var (
	// ErrAuthFailed: wrong user name or password (NO [AUTHENTICATIONFAILED]).
	// It is sasl.ErrAuthFailed, so one error serves both interfaces.
	ErrAuthFailed = sasl.ErrAuthFailed
	// ErrNoSuchMailbox: the mailbox does not exist (NO [NONEXISTENT]).
	ErrNoSuchMailbox = errors.New("imapserver: no such mailbox")
	// ErrMailboxExists: CREATE or RENAME onto an existing name (NO [ALREADYEXISTS]).
	ErrMailboxExists = errors.New("imapserver: mailbox already exists")
	// ErrMailboxHasChildren: DELETE of a mailbox with inferiors that the
	// backend does not allow (NO [INUSE]).
	ErrMailboxHasChildren = errors.New("imapserver: mailbox has children")
	// ErrCannotDelete: DELETE or RENAME of INBOX, or of a special mailbox
	// (NO [CANNOT]).
	ErrCannotDelete = errors.New("imapserver: mailbox cannot be deleted or renamed")
	// ErrOverQuota: the change would exceed a quota (NO [OVERQUOTA], RFC 9208 §4.3).
	// It wraps syscall.EDQUOT, the standard "quota exceeded" error, so that
	// the SMTP and POP3 glue (smtpserver.NewStoreBackend), which does not
	// import this package, recognises it from a store too.
	ErrOverQuota error = overQuotaError{}
	// ErrTooBig: a message is larger than the backend accepts (NO [TOOBIG], RFC 4469).
	ErrTooBig = errors.New("imapserver: message too big")
	// ErrReadOnly: a change through a handle opened read-only (EXAMINE).
	ErrReadOnly = errors.New("imapserver: mailbox is read-only")
	// ErrNoSuchMessage: the message was expunged meanwhile.
	ErrNoSuchMessage = errors.New("imapserver: no such message")
	// ErrMailboxDeleted: the selected mailbox was deleted or renamed away.
	ErrMailboxDeleted = errors.New("imapserver: selected mailbox was deleted")
	// ErrUnsupportedSpecialUse: CREATE with a special-use attribute the
	// backend does not support (NO [USEATTR], RFC 6154 §3).
	ErrUnsupportedSpecialUse = errors.New("imapserver: unsupported special-use attribute")
)

// overQuotaError is ErrOverQuota: its own text, and errors.Is(err,
// syscall.EDQUOT) holds. It has an Is method rather than wrapping the
// Errno, so that errors.As does not find a net.Error (which Errno
// implements) in it and take a full mailbox for a broken connection.
type overQuotaError struct{}

func (overQuotaError) Error() string        { return "imapserver: over quota" }
func (overQuotaError) Is(target error) bool { return target == syscall.EDQUOT }

// Backend is the store behind a Server: it authenticates users and opens
// their mail. Its methods use only standard types, so that one store can
// also serve SMTP delivery and POP3.
//
// A Backend that also implements any of the sasl credential interfaces
// (sasl.PasswordVerifier, sasl.SCRAMLookup, sasl.SecretLookup,
// sasl.TokenVerifier) can be set as Credentials of the server's sasl
// Registry; the server only needs VerifyPassword (for LOGIN) and User.
type Backend interface {
	// VerifyPassword checks a password (LOGIN). It returns ErrAuthFailed
	// (possibly wrapped) when the user or the password is wrong.
	VerifyPassword(ctx context.Context, username, password string) error
	// User opens the account of an authenticated user. The server calls
	// it after LOGIN or AUTHENTICATE succeeded, with the identity to log
	// in as and what it knows of the connection (client address, TLS
	// state, info.Identity.Mechanism "LOGIN" or the SASL mechanism), and
	// calls User.Close at logout. The server never passes a nil info;
	// other callers (tests, tools) may.
	User(ctx context.Context, username string, info *ConnInfo) (User, error)
}

// ConnInfo describes the client connection of a session: addresses, TLS
// state, the identity that logged in, and Service "imap". It is the same
// type as smtpserver.ConnInfo and pop3server.ConnInfo.
type ConnInfo = serve.ConnInfo

// CommandInfo describes a command for Server.CommandFilter.
type CommandInfo struct {
	// Name is the command's name, upper case ("FETCH"); UID is set for
	// the UID form.
	Name string
	UID  bool
	// Username is the logged-in user, "" before login.
	Username string
	// Conn is the connection (nil fields before login).
	Conn *ConnInfo
}

// MailboxInfo describes one mailbox for LIST.
type MailboxInfo struct {
	// Name is the full UTF-8 name, levels separated by Delimiter.
	Name string
	// SpecialUse holds RFC 6154 attributes such as `\Sent` or `\Trash`.
	SpecialUse []string
	// Subscribed reports whether the user subscribed to the name.
	Subscribed bool
	// NoSelect marks a name that exists only as a level of the hierarchy.
	NoSelect bool
	// NoInferiors marks a mailbox under which no children can be created.
	NoInferiors bool
	// NonExistent marks a subscribed name with no mailbox behind it
	// (RFC 5258 \NonExistent); only Subscribed is meaningful then.
	NonExistent bool
}

// CreateOptions are the options of CREATE.
type CreateOptions struct {
	// SpecialUse holds the RFC 6154 §3 USE attributes requested.
	SpecialUse []string
}

// MailboxStatus is the state of a mailbox, for STATUS and SELECT.
type MailboxStatus struct {
	Messages      uint32 // number of messages
	UIDNext       uint32 // next UID to be assigned
	UIDValidity   uint32 // UIDVALIDITY
	Unseen        uint32 // messages without \Seen
	Deleted       uint32 // messages with \Deleted (RFC 9051 STATUS DELETED)
	Size          int64  // total size in octets (RFC 8438 STATUS SIZE)
	HighestModSeq uint64 // RFC 7162 HIGHESTMODSEQ; 0 = the store keeps none
	// Recent counts the messages no session has claimed as \Recent yet
	// (IMAP4rev1 STATUS RECENT, RFC 3501 §6.3.10); 0 from a store that
	// does not keep \Recent. See Snapshot.RecentFrom.
	Recent uint32
}

// AppendOptions are the message attributes given with APPEND.
type AppendOptions struct {
	// Flags to set on the new message (`\Recent` is never given).
	Flags []string
	// Date is the internal date; the zero Time means now.
	Date time.Time
	// Binary reports that the message came as a literal8 (~{n},
	// RFC 3516 §4.4): it may hold bare line ends, and a store keeps it
	// as sent. The server has re-encoded as base64 any part that held
	// NUL, which IMAP cannot send in BODY[] (a CTE change the RFC allows;
	// BINARY[] still gives the octets appended).
	Binary bool
}

// AppendResult tells the client where an APPEND put the message
// (RFC 4315 APPENDUID).
type AppendResult struct {
	UIDValidity uint32
	UID         uint32
}

// CopyResult maps source to destination UIDs (RFC 4315 COPYUID).
// SourceUIDs[i] was copied to DestUIDs[i]; messages that had been
// expunged meanwhile are left out.
type CopyResult struct {
	UIDValidity uint32
	SourceUIDs  []uint32
	DestUIDs    []uint32
}

// User is the mail of one authenticated user.
type User interface {
	// Username returns the account name.
	Username() string
	// ListMailboxes returns all the user's mailboxes, in any order. The
	// server matches LIST patterns and computes \HasChildren itself. It
	// never modifies the slice, so a backend may return one it keeps.
	ListMailboxes(ctx context.Context) ([]MailboxInfo, error)
	// Status returns the state of a mailbox without selecting it.
	Status(ctx context.Context, name string) (MailboxStatus, error)
	// CreateMailbox creates a mailbox (and missing parent levels).
	CreateMailbox(ctx context.Context, name string, opts CreateOptions) error
	// DeleteMailbox deletes a mailbox and its messages.
	DeleteMailbox(ctx context.Context, name string) error
	// RenameMailbox renames a mailbox and its inferiors. Renaming INBOX
	// moves its messages to the new name and leaves INBOX empty
	// (RFC 9051 §6.3.6).
	RenameMailbox(ctx context.Context, oldName, newName string) error
	// Subscribe adds a name to the subscriptions; the mailbox need not exist.
	Subscribe(ctx context.Context, name string) error
	// Unsubscribe removes a name from the subscriptions.
	Unsubscribe(ctx context.Context, name string) error
	// Append adds a message to a mailbox. r yields exactly size octets
	// of the raw message, with CRLF line ends. Other sessions with the
	// mailbox open learn of it through their Mailbox handles.
	Append(ctx context.Context, name string, r io.Reader, size int64, opts AppendOptions) (AppendResult, error)
	// OpenMailbox opens a mailbox for SELECT (readOnly false) or EXAMINE
	// (readOnly true). The handle takes a snapshot of the mailbox and,
	// from the same instant, records every later change for Poll, so
	// that no change is lost or reported twice.
	OpenMailbox(ctx context.Context, name string, readOnly bool) (Mailbox, error)
	// Close releases the user; the server calls it once, at logout.
	Close() error
}

// Snapshot is the state of a mailbox at the instant a Mailbox handle
// was opened.
type Snapshot struct {
	// UIDs of the messages in ascending order: UIDs[i] has sequence number i+1.
	// The server never writes to its elements, so a backend may share the
	// array between handles (then with len == cap, so that the server's
	// appends copy it).
	UIDs []uint32
	// UIDValidity must never be reused for other contents under the same
	// mailbox name (RFC 9051 §2.3.1.1): within one value a UID names one
	// message for good. The server relies on it to share SORT and THREAD
	// work between sessions (sort_cache.go).
	UIDValidity uint32
	UIDNext     uint32
	// HighestModSeq is the mod-sequence of the last change (RFC 7162).
	HighestModSeq uint64
	// Unseen counts messages without \Seen; FirstUnseen is the UID of the
	// first of them (0 if none), for IMAP4rev1's [UNSEEN n].
	Unseen      uint32
	FirstUnseen uint32
	// Keywords in use in the mailbox, for the FLAGS response.
	Keywords []string
	// RecentFrom supports IMAP4rev1's \Recent (RFC 3501 §2.3.2): the
	// messages of the snapshot with a UID >= RecentFrom are recent in
	// this session; 0 means none (a store that does not keep \Recent
	// leaves it 0). A message is recent in exactly one session, the
	// first to learn of it, so a store keeps per mailbox the first UID
	// not claimed yet: a read-write open (SELECT) reports it here and,
	// atomically with the snapshot, moves it to UIDNext; a read-only
	// open (EXAMINE) reports it and claims nothing (RFC 3501 §6.3.2).
	RecentFrom uint32
}

// UpdateKind says what an Update reports.
type UpdateKind uint8

// Kinds of Update.
const (
	// UpdateNew: a message was added (EXISTS).
	UpdateNew UpdateKind = iota + 1
	// UpdateExpunge: a message was expunged (EXPUNGE / VANISHED).
	UpdateExpunge
	// UpdateFlags: a message's flags changed (FETCH FLAGS).
	UpdateFlags
	// UpdateDeleted: the mailbox itself was deleted or renamed away; the
	// server ends the selection.
	UpdateDeleted
)

// Update is one change to a mailbox, as recorded for an open handle.
// Updates are delivered in the order the changes happened; their ModSeq
// values ascend.
type Update struct {
	Kind UpdateKind
	UID  uint32
	// Flags are the message's flags after an UpdateFlags change.
	Flags  []string
	ModSeq uint64
	// Own is set when the change was made through the handle that
	// receives the update (the session that ran the command).
	Own bool
	// Recent marks an UpdateNew message as \Recent in this session
	// (RFC 3501 §2.3.2): the store sets it on the first Poll of a
	// read-write handle that returns the message, unless another session
	// claimed it first (see Snapshot.RecentFrom); a read-only handle
	// sees it set for messages not claimed yet, without claiming them.
	Recent bool
	// Message is, for an UpdateExpunge, the message as it was when
	// expunged, still readable through Open: the server keeps serving
	// it to a session that has not been told of the expunge yet (RFC
	// 2180 §4.1.1; see Mailbox). nil when the store cannot keep it; the
	// server then answers a FETCH of it with [EXPUNGEISSUED].
	Message Message
}

// Message is read access to one message. Its UID, dates and size never
// change; Flags and ModSeq are the values at the instant the Message
// was returned. Implementations must be safe for concurrent use.
type Message interface {
	UID() uint32
	Flags() []string
	InternalDate() time.Time
	// Size is the size of the raw message (CRLF line ends).
	Size() int64
	ModSeq() uint64
	// Open returns the raw message. It stays readable even if the
	// message is expunged after Open returned.
	Open() (io.ReaderAt, error)
}

// ParseCache is an optional interface of Message: a slot where the
// server keeps what it parsed from the message (part index, ENVELOPE,
// BODYSTRUCTURE), so a message is parsed once, not once per FETCH. A
// store shares the slot between all copies of the same content.
//
// The slot holds a small handle (a few dozen bytes) for as long as the
// message lives; the parse behind it, about 1-5 KiB, is dropped again
// when the server's parses together pass Limits.ParseCacheBytes, least
// recently used first. The server never keeps a message alive through
// its cache: an expunged message's parse is freed with the message.
//
// A store that keeps these items in an index of its own, or that does
// not want them kept in memory at all, opts out by not implementing
// ParseCache: the server then parses such a message on each use (only
// FETCH of a structure or section, SEARCH of header or body, and SORT
// need a parse).
type ParseCache interface {
	// LoadParsed returns what StoreParsed stored, or nil.
	LoadParsed() any
	// StoreParsed keeps v; concurrent callers store equal values.
	StoreParsed(v any)
}

// Summary is what a store that indexes its messages on disk keeps of
// each one, so that the server answers FETCH ENVELOPE, BODY and
// BODYSTRUCTURE, and SORT and THREAD, without opening the message: the
// replies encoded byte for byte as the server would encode them (RFC 9051
// §7.5.2) and the unfolded header fields RFC 5256 sorts and threads on.
// Summarize computes one.
type Summary struct {
	Envelope, Body, BodyStructure []byte
	Subject, Date, From, To, Cc   string
	MessageID, InReplyTo          string
	References                    string
	// Header is the message's header as it is in the message, up to and
	// with the empty line that ends it: SEARCH of header keys (SUBJECT,
	// FROM, HEADER, SENTSINCE...) reads it instead of the message.
	Header []byte

	// view is the server's parse of Header, made on first use: a store
	// that keeps its summaries in memory has it parsed once.
	view atomic.Pointer[summaryView]
}

// Summarizer is an optional interface of Message for stores that keep a
// Summary of each message in an index of their own (issue #20: the parse
// cache must not hold a second copy of what the store keeps). The server
// asks for it before opening the message for ENVELOPE, BODY,
// BODYSTRUCTURE, SORT, THREAD or a SEARCH of header keys; it still
// opens the message for body sections and SEARCH of BODY or TEXT.
type Summarizer interface {
	// Summary returns the message's summary, computing and indexing it
	// first if the store has none yet; nil if it cannot (the server then
	// parses the message itself). The result is shared: callers must not
	// modify it.
	Summary() *Summary
}

// FlagOp is the operation of STORE.
type FlagOp uint8

// STORE operations (RFC 9051 §6.4.6).
const (
	FlagsSet    FlagOp = iota // FLAGS
	FlagsAdd                  // +FLAGS
	FlagsRemove               // -FLAGS
)

// FlagChange is the outcome of a STORE for one message.
type FlagChange struct {
	UID    uint32
	Flags  []string // flags after the change
	ModSeq uint64
}

// StoreResult is the outcome of Mailbox.SetFlags.
type StoreResult struct {
	// Changed lists the messages whose flags changed, plus those that
	// matched but were left as they were (ModSeq unchanged).
	Changed []FlagChange
	// Modified lists the UIDs refused because their mod-sequence was
	// greater than UNCHANGEDSINCE (RFC 7162 §3.1.3 MODIFIED).
	Modified []uint32
}

// Mailbox is one session's handle on a selected mailbox. It is not
// required to be safe for concurrent use: each session uses its own.
//
// Expunged messages: a session may only tell its client of an expunge
// between commands, never during FETCH, STORE or SEARCH by sequence
// number (RFC 9051 §7.5.1), so other sessions go on naming a message
// for a while after it was expunged. The server keeps serving such a
// message's data, as it was when expunged, until the session has sent
// the EXPUNGE (RFC 2180 §4.1.1), and answers OK [EXPUNGEISSUED]; only
// a FETCH of nothing but messages it cannot serve fails with NO
// [EXPUNGEISSUED]. For that a store puts the expunged Message in the
// UpdateExpunge it records for every handle, and its content must stay
// readable as long as the server holds it (an open file descriptor, or
// deletion deferred until every handle has been told); flag changes to
// such a message are refused by leaving it out of SetFlags's result.
type Mailbox interface {
	// Name returns the mailbox name.
	Name() string
	// ReadOnly reports whether the handle was opened by EXAMINE.
	ReadOnly() bool
	// Snapshot returns the state recorded when the handle was opened.
	Snapshot() Snapshot
	// Poll returns the changes recorded since the last Poll (or since
	// the snapshot) and forgets them. A backend may leave out flag
	// changes made through this same handle, which SetFlags reported.
	Poll() []Update
	// SetNotify sets a function called whenever Poll has something new
	// (for IDLE); nil stops the calls. fn may be called from any
	// goroutine, with store locks held: it must return at once and must
	// not call the Mailbox. Calls may be coalesced. A session waiting in
	// IDLE uses it to wake its one goroutine without a second one.
	SetNotify(fn func())
	// Messages returns the messages with the given UIDs (ascending),
	// leaving out those that were expunged meanwhile (the server finds
	// them in the UpdateExpunge that Poll returns).
	Messages(ctx context.Context, uids []uint32) ([]Message, error)
	// SetFlags changes the flags of the given messages. unchangedSince,
	// if not 0, is RFC 7162's UNCHANGEDSINCE. Flag names are compared
	// case-insensitively; `\Recent` is ignored.
	SetFlags(ctx context.Context, uids []uint32, op FlagOp, flags []string, unchangedSince uint64) (StoreResult, error)
	// Copy copies messages to another mailbox of the same user.
	Copy(ctx context.Context, uids []uint32, dest string) (CopyResult, error)
	// Move moves messages to another mailbox, atomically (RFC 6851):
	// they are expunged here (reported through Poll) and appear there.
	Move(ctx context.Context, uids []uint32, dest string) (CopyResult, error)
	// Expunge removes the messages flagged \Deleted; with uids not nil,
	// only those among them (UID EXPUNGE, RFC 4315). The expunges are
	// reported through Poll, to this handle too.
	Expunge(ctx context.Context, uids []uint32) error
	// Close stops recording changes.
	Close() error
}

// ExpungeHistory is an optional interface of Mailbox for QRESYNC
// (RFC 7162 §3.2.5): the UIDs expunged after a mod-sequence. Without it
// the server reports every known UID missing from the mailbox.
type ExpungeHistory interface {
	// ExpungedSince returns the UIDs expunged with a mod-sequence
	// greater than modSeq, ascending; or ErrHistoryExpired when the
	// store no longer remembers expunges that far back (RFC 7162 §5.3).
	ExpungedSince(ctx context.Context, modSeq uint64) ([]uint32, error)
}

// AppendMessage is one message of a MULTIAPPEND.
type AppendMessage struct {
	Body io.Reader
	Size int64
	AppendOptions
}

// MultiAppender is an optional interface of User for MULTIAPPEND
// (RFC 3502): all messages are added, or none.
type MultiAppender interface {
	AppendMulti(ctx context.Context, name string, msgs []AppendMessage) ([]AppendResult, error)
}

// QuotaResource is the usage and limit of one quota resource (RFC 9208 §5).
type QuotaResource struct {
	Name  string // "STORAGE" (in KiB on the wire) or "MESSAGE"
	Usage int64
	Limit int64
}

// Quotaer is an optional interface of User for QUOTA (RFC 9208).
type Quotaer interface {
	// Quota returns the user's quota root resources; none = no quota.
	Quota(ctx context.Context) ([]QuotaResource, error)
}
