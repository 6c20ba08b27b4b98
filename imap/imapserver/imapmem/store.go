// Package imapmem is a complete, concurrency-safe in-memory mail store.
//
// A *Store implements imapserver.Backend and, through plain methods that
// use only standard types, smtpserver.DeliveryStore ([Store.CheckQuota],
// [Store.DeliverMessage]) and pop3server.MaildropStore
// ([Store.LockMaildrop] and the two methods after it) too, so that one
// store backs all three servers the way Dovecot serves IMAP and POP3 from
// one maildir and takes mail over LMTP. It does not import the SMTP or
// POP3 packages; their glue is in them:
//
//	imapSrv := &imapserver.Server{Backend: store}
//	mx := &smtpserver.Server{Backend: smtpserver.NewStoreBackend(store, smtpserver.StoreOptions{Domains: []string{"example.org"}})}
//	pop := &pop3server.Server{Backend: pop3server.NewStoreBackend(store)}
//
// Implementation notes:
//
//   - Each user has one mutex (user.mu) guarding all of that user's
//     mailboxes, messages, subscriptions, quota usage, POP3 lock and the
//     pending-update queues of the open handles. Changes across two
//     mailboxes (COPY, MOVE) are therefore atomic.
//   - Every change to a mailbox bumps that mailbox's mod-sequence; the
//     changed message carries the new value (RFC 7162 §3). Expunges are
//     kept in an expunge history with their mod-sequence, for QRESYNC.
//   - An expunge hands the expunged record to every handle in its
//     UpdateExpunge (Update.Message): the content stays reachable until
//     the last session holding it has told its client, so a session
//     not told yet goes on serving it (RFC 2180 §4.1.1).
//   - A message record is immutable once published: a flag change
//     replaces the record in the mailbox's slice. So a Message handed to
//     a session never changes under it and can be read without the lock.
//     Message contents are shared between copies, with one parse cache.
//   - Changes are published to every open handle of the mailbox while
//     user.mu is held, so each handle sees changes in mod-sequence order
//     and a handle's snapshot plus its updates is always exact. Nothing
//     blocks while user.mu is held: notification is a non-blocking send.
//   - Messages are stored with CRLF line ends: a bare LF given to Append
//     or Deliver is stored as CRLF, except in a binary APPEND
//     (AppendOptions.Binary), whose content is stored as sent.
package imapmem

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/sasl"
)

// Errors of the store beyond those of imapserver.
var (
	// ErrNoSuchUser is returned for an unknown account (it wraps
	// imapserver.ErrAuthFailed where authentication is concerned). It
	// wraps fs.ErrNotExist, which is how the delivery and maildrop
	// interfaces of smtpserver and pop3server recognise it.
	ErrNoSuchUser error = &stdError{"imapmem: no such user", fs.ErrNotExist}
	// ErrUserExists is returned by AddUser for a name already taken.
	ErrUserExists = errors.New("imapmem: user already exists")
	// ErrMaildropLocked is returned by LockMaildrop while another POP3
	// session holds the user's maildrop (POP3 [IN-USE]). It wraps
	// syscall.EBUSY, which is how pop3server.NewStoreBackend recognises it.
	ErrMaildropLocked error = &stdError{"imapmem: maildrop in use", syscall.EBUSY}
)

// stdError is an error with its own text that is (errors.Is) the
// standard error the store interfaces of smtpserver and pop3server
// classify by. It does not wrap it: errors.As would then find a
// syscall.Errno, which implements net.Error, and a server could take a
// busy maildrop for a broken connection.
type stdError struct {
	msg string
	std error
}

func (e *stdError) Error() string        { return e.msg }
func (e *stdError) Is(target error) bool { return target == e.std }

// DefaultMailboxes are created for every new user, with their RFC 6154
// special-use attributes, and subscribed.
var defaultMailboxes = []struct{ name, use string }{
	{"Drafts", `\Drafts`},
	{"Sent", `\Sent`},
	{"Junk", `\Junk`},
	{"Trash", `\Trash`},
	{"Archive", `\Archive`},
}

// Store is an in-memory mail store. The zero value is not usable; call New.
// All methods are safe for concurrent use.
type Store struct {
	mu    sync.Mutex
	users map[string]*user
	// nextValidity hands out UIDVALIDITY values, unique per store, so a
	// mailbox deleted and created again never repeats one.
	nextValidity uint32
	now          func() time.Time
	spoolDir     string // for DeliverMessage; "" = os.TempDir
	// spoolBufs holds *[]byte of spool.DefaultMemLimit octets for
	// DeliverMessage's spools.
	spoolBufs sync.Pool
}

// SetSpoolDir sets the directory where DeliverMessage spools a message
// larger than 64 KiB while it arrives; "" (the default) means
// os.TempDir. Choose a directory on disk: on a tmpfs the spool would be
// held in memory after all.
func (s *Store) SetSpoolDir(dir string) {
	s.mu.Lock()
	s.spoolDir = dir
	s.mu.Unlock()
}

// New returns an empty store. UIDVALIDITY values start from the current
// Unix time so that a client caching a previous run's state resyncs.
func New() *Store {
	return &Store{
		users:        make(map[string]*user),
		nextValidity: uint32(time.Now().Unix()),
		now:          time.Now,
	}
}

func (s *Store) newValidity() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextValidity++
	return s.nextValidity
}

type user struct {
	store *Store
	name  string

	mu            sync.Mutex
	password      string // "" = no password login
	scram         map[sasl.SCRAMHash]sasl.SCRAMKeys
	mailboxes     map[string]*mailbox
	subscriptions map[string]bool
	// list is ListMailboxes' answer, sorted, kept until a mailbox or a
	// subscription changes (nil then): a LIST of many mailboxes costs
	// no sort and no copy.
	list          []imapserver.MailboxInfo
	popLocked     bool
	quotaStorage  int64 // 0 = unlimited
	quotaMessages int64 // 0 = unlimited
	usedStorage   int64
	usedMessages  int64
}

// AddUser creates an account with a password and the default mailboxes
// (INBOX, Drafts, Sent, Junk, Trash, Archive; all subscribed). An empty
// password disables password logins for the account.
func (s *Store) AddUser(username, password string) error {
	if username == "" {
		return fmt.Errorf("imapmem: empty user name")
	}
	s.mu.Lock()
	if _, ok := s.users[username]; ok {
		s.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUserExists, username)
	}
	u := &user{
		store:         s,
		name:          username,
		password:      password,
		mailboxes:     make(map[string]*mailbox),
		subscriptions: make(map[string]bool),
	}
	s.users[username] = u
	s.mu.Unlock()

	u.mu.Lock()
	defer u.mu.Unlock()
	u.createLocked("INBOX", nil)
	u.subscriptions["INBOX"] = true
	for _, d := range defaultMailboxes {
		u.createLocked(d.name, []string{d.use})
		u.subscriptions[d.name] = true
	}
	return nil
}

// AddUserSCRAM creates an account that stores only SCRAM keys (no
// password: LOGIN and PLAIN fail, SCRAM-SHA-* work), with the default
// mailboxes. Keys come from sasl.NewSCRAMKeys.
func (s *Store) AddUserSCRAM(username string, keys map[sasl.SCRAMHash]sasl.SCRAMKeys) error {
	if err := s.AddUser(username, ""); err != nil {
		return err
	}
	u, err := s.user(username)
	if err != nil {
		return err
	}
	u.mu.Lock()
	u.scram = make(map[sasl.SCRAMHash]sasl.SCRAMKeys, len(keys))
	for h, k := range keys {
		u.scram[h] = k
	}
	u.mu.Unlock()
	return nil
}

// LookupSCRAM returns a user's SCRAM keys. It implements
// sasl.SCRAMLookup. For a user with a password the keys are derived
// from it on first use and kept.
func (s *Store) LookupSCRAM(ctx context.Context, username string, hash sasl.SCRAMHash) (sasl.SCRAMKeys, error) {
	u, err := s.user(username)
	if err != nil {
		return sasl.SCRAMKeys{}, sasl.ErrAuthFailed
	}
	u.mu.Lock()
	k, ok := u.scram[hash]
	pw := u.password
	u.mu.Unlock()
	if ok {
		return k, nil
	}
	if pw == "" {
		return sasl.SCRAMKeys{}, sasl.ErrAuthFailed
	}
	k, err = sasl.NewSCRAMKeys(hash, pw, nil, 0)
	if err != nil {
		return sasl.SCRAMKeys{}, err
	}
	u.mu.Lock()
	if u.password == pw {
		if u.scram == nil {
			u.scram = make(map[sasl.SCRAMHash]sasl.SCRAMKeys)
		}
		u.scram[hash] = k
	}
	u.mu.Unlock()
	return k, nil
}

// SetPassword changes a user's password.
func (s *Store) SetPassword(username, password string) error {
	u, err := s.user(username)
	if err != nil {
		return err
	}
	u.mu.Lock()
	u.password = password
	u.scram = nil
	u.mu.Unlock()
	return nil
}

// SetQuota sets a user's limits: total storage in octets and number of
// messages over all mailboxes; 0 means unlimited (RFC 9208 STORAGE and
// MESSAGE). Appends, copies and deliveries that would exceed a limit
// fail with imapserver.ErrOverQuota and change nothing.
func (s *Store) SetQuota(username string, storage, messages int64) error {
	u, err := s.user(username)
	if err != nil {
		return err
	}
	u.mu.Lock()
	u.quotaStorage, u.quotaMessages = storage, messages
	u.mu.Unlock()
	return nil
}

// HasUser reports whether the account exists (for RCPT TO checks).
func (s *Store) HasUser(username string) bool {
	_, err := s.user(username)
	return err == nil
}

func (s *Store) user(username string) (*user, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[username]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoSuchUser, username)
	}
	return u, nil
}

// VerifyPassword checks a password. It implements
// imapserver.Backend and sasl.PasswordVerifier; failures wrap
// imapserver.ErrAuthFailed and say nothing about which part was wrong.
func (s *Store) VerifyPassword(ctx context.Context, username, password string) error {
	u, err := s.user(username)
	if err != nil {
		return imapserver.ErrAuthFailed
	}
	u.mu.Lock()
	want := u.password
	u.mu.Unlock()
	if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(password)) != 1 {
		return imapserver.ErrAuthFailed
	}
	return nil
}

// LookupSecret returns a user's password, for mechanisms that need the
// shared secret (CRAM-MD5, APOP). It implements sasl.SecretLookup.
func (s *Store) LookupSecret(ctx context.Context, username string) (string, error) {
	u, err := s.user(username)
	if err != nil {
		return "", imapserver.ErrAuthFailed
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.password == "" {
		return "", imapserver.ErrAuthFailed
	}
	return u.password, nil
}

// User opens an authenticated user's mail. It implements imapserver.Backend.
func (s *Store) User(ctx context.Context, username string, info *imapserver.ConnInfo) (imapserver.User, error) {
	u, err := s.user(username)
	if err != nil {
		return nil, err
	}
	return &userSession{u: u}, nil
}

// quotaCheckLocked reports ErrOverQuota if adding n messages of size
// octets would exceed the user's limits.
func (u *user) quotaCheckLocked(n, size int64) error {
	if u.quotaMessages > 0 && u.usedMessages+n > u.quotaMessages {
		return fmt.Errorf("%w: message count limit %d", imapserver.ErrOverQuota, u.quotaMessages)
	}
	if u.quotaStorage > 0 && u.usedStorage+size > u.quotaStorage {
		return fmt.Errorf("%w: storage limit %d octets", imapserver.ErrOverQuota, u.quotaStorage)
	}
	return nil
}

// canonicalName spells INBOX in upper case whatever the case given.
func canonicalName(name string) string {
	if strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	if len(name) > 6 && strings.EqualFold(name[:6], "INBOX/") {
		return "INBOX" + name[5:]
	}
	return name
}
