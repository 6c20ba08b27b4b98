// Package maildir is a persistent mail store on disk in the Maildir++
// layout that Dovecot, Courier, mutt and mbsync read and write. A *Store
// implements imapserver.Backend with every optional interface imapmem
// has (CONDSTORE/QRESYNC with expunge history, QUOTA, MULTIAPPEND,
// special-use, \Recent), and serves SMTP/LMTP delivery ([Store.Deliver])
// and POP3 ([Store.OpenMaildrop]) through plain methods, like imapmem.
//
// # On disk
//
// Each user is a directory below the store's root (its name the account
// name, bytes other than letters, digits and "-_@+." written as %XX).
// That directory is the user's INBOX (cur, new, tmp), and each other
// mailbox a directory ".L1.L2" in it (see names.go for the mapping and
// its escapes). Message files are named
//
//	<time>.M<µs>P<pid>Q<n>.<host>,S=<file size>,W=<size with CRLF>:2,<flags>
//
// with the flags as Maildir info letters (D F P R S T, and a-z for the
// keywords listed in dovecot-keywords). A message that arrives with CRLF
// line ends is kept with LF, as Maildir tools expect, and served with
// CRLF; a message whose bytes would not survive that round trip (bare CR
// or LF, NUL: a binary APPEND) is kept byte for byte and marked raw in
// the index. Files of other writers are read as they are: CRLF files
// served as they are, LF or mixed files with CRLF line ends.
//
// Per mailbox, dovecot-uidlist (version 3, with the mailbox GUID) and
// dovecot-keywords are shared with Dovecot; our own index,
// posthorn-index, is an append-only log with a checksum per record that
// holds UIDs, internal dates, sizes, flags (keywords past the 26
// letters too), mod-sequences and the expunge history (index.go). Per
// user, "subscriptions" (Dovecot's version 2 format) and posthorn-user
// (special-use attributes and quota limits) are rewritten whole, through
// a new file renamed over the old one. posthorn-quota keeps each
// mailbox's usage with the directory times and index length it was
// counted at, so that a quota check after a restart reads no other
// mailbox; a mailbox whose times or index differ is counted again
// (quota.go). posthorn-recent, per mailbox, records up to which UID
// sessions have claimed \Recent (recent.go). While a POP3 session holds
// the maildrop, the user's directory holds dovecot-pop3-session.lock,
// the dotlock Dovecot's POP3 takes with pop3_lock_session = yes, so that
// the two refuse each other (poplock.go).
//
// posthorn-cache, per mailbox, holds each message's summary
// (imapserver.Summary: the encoded ENVELOPE, BODY and BODYSTRUCTURE and
// the header fields SORT and THREAD use), computed from the bytes of an
// APPEND as they are written, or from the file on first use for messages
// delivered by stream or by other programs; the index records where each
// one is. FETCH of those items, SORT and THREAD then open no message
// file, in this process or the next. The cache is derived data: written
// without fsync, every record checked (checksum, UIDVALIDITY, UID) when
// read and computed again when a crash or another program damaged it
// (summary.go).
//
// # Scale
//
// Opening a mailbox reads its index (one read; no message file, and no
// listing of cur and new when the index's last record says the
// directories are as it left them). In memory a message costs under 200
// bytes (UID, size, date, flags shared between messages with the same
// flags, its file name, where its summary is); summaries stay on disk. A
// mailbox that no session has opened costs nothing but its name.
// TestScale (POSTHORN_MAILDIR_SCALE) measures SELECT and UID FETCH of
// 100,000 messages in a fresh process.
//
// # Guarantees
//
// A message is reported delivered or appended only after its file was
// written to tmp, fsynced, renamed into new, the directory fsynced, and
// its index record fsynced: it survives a power cut, with its UID.
// Concurrent deliveries share the directory and index fsyncs (group
// commit). A crash at any point leaves a tree that opens cleanly: a torn
// index record is cut off, files the index does not know get new UIDs,
// indexed files that are gone count as expunged. A message delivered but
// not yet acknowledged when the power failed may be found whole after
// the restart (SMTP then delivers it twice), never in part. Flag changes
// and expunges are written at once but synced lazily: a power cut may
// undo the last ones.
//
// Messages added, removed or re-flagged by other programs are noticed
// when a mailbox is opened or polled after [Store.Rescan]; they get new
// UIDs, existing ones are never renumbered.
//
// An expunged message stays readable by the sessions that have not been
// told yet: its file is removed only when every handle that had it in
// view has polled the expunge or closed.
package maildir

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/mime"
	"github.com/posthorn/posthorn/sasl"
)

// Errors of the store beyond those of imapserver.
var (
	// ErrNoSuchUser is returned for an account not added with AddUser.
	// It is fs.ErrNotExist to errors.Is, which is how smtpserver's and
	// pop3server's store interfaces recognise it.
	ErrNoSuchUser error = &stdError{"maildir: no such user", fs.ErrNotExist}
	// ErrUserExists is returned by AddUser for a name already added.
	ErrUserExists = errors.New("maildir: user already exists")
	// ErrMaildropLocked is returned by LockMaildrop while another POP3
	// session holds the user's maildrop; it is syscall.EBUSY to errors.Is.
	ErrMaildropLocked error = &stdError{"maildir: maildrop in use", syscall.EBUSY}
)

// stdError has its own text and is (errors.Is) a standard error without
// wrapping it (see imapmem: a wrapped syscall.Errno is a net.Error to
// errors.As).
type stdError struct {
	msg string
	std error
}

func (e *stdError) Error() string        { return e.msg }
func (e *stdError) Is(target error) bool { return target == e.std }

var defaultMailboxes = []struct{ name, use string }{
	{"Drafts", `\Drafts`},
	{"Sent", `\Sent`},
	{"Junk", `\Junk`},
	{"Trash", `\Trash`},
	{"Archive", `\Archive`},
}

var knownSpecialUse = []string{`\Drafts`, `\Sent`, `\Junk`, `\Trash`, `\Archive`, `\All`, `\Flagged`}

// Options configure a Store. The zero value is fine.
type Options struct {
	// Logger receives the store's warnings (repairs after a crash,
	// unreadable files); nil means slog.Default().
	Logger *slog.Logger

	// MaildropLockWait is how long LockMaildrop waits for a POP3 lock
	// another program (a Dovecot on the same tree) holds before it
	// answers ErrMaildropLocked; 0 means 2 s, negative not at all.
	MaildropLockWait time.Duration

	// SummaryMemory bounds the octets of message summaries (what FETCH
	// ENVELOPE, BODYSTRUCTURE and header sections, SEARCH of header keys,
	// SORT and THREAD read) the store keeps decoded in memory once read
	// from its summary cache files; beyond it they are read and decoded
	// per use. 0 means 64 MiB, negative none.
	SummaryMemory int64

	fs fileSystem // tests: the power-cut layer
}

// Store is a Maildir++ mail store rooted at one directory. All methods
// are safe for concurrent use. Accounts are not kept on disk: the program
// adds them (AddUser) at start, as it would configure a password
// database; their mail is.
type Store struct {
	root   string
	fs     fileSystem
	logger *slog.Logger
	now    func() time.Time
	// cacheSlack is the waste a summary cache may hold beyond what its
	// messages use before a checkpoint rewrites it (summary.go).
	cacheSlack int64
	// summaryMem is what the summaries kept decoded in memory take
	// (summary.go, keepSummary), summaryMemMax its bound.
	summaryMem    *atomic.Int64
	summaryMemMax int64
	// indexers are the parsers' buffers for summaries (summary.go).
	indexers sync.Pool
	host     string
	pid      int
	// lockHost is the host name as Dovecot writes it in dotlocks
	// (gethostname), popLockWait how long LockMaildrop waits.
	lockHost    string
	popLockWait time.Duration
	seq         atomic.Uint64

	mu           sync.Mutex
	users        map[string]*user
	lastValidity uint32
	closed       bool

	stopWatch chan struct{}
	watchDone chan struct{}

	readBufs sync.Pool // *[]byte of crlfReaders (POP3 RETR and TOP)
	writers  sync.Pool // *bufio.Writer of 64 KiB, for deliveries
	inBufs   sync.Pool // *[]byte of maxSummarized capacity, lfWriter.in
}

// watchInterval is how often folders that sessions wait on (IDLE) are
// looked at for other programs' changes: two stats per folder.
const watchInterval = 2 * time.Second

// watch notices other programs' changes to the folders sessions have
// open, so that a session in IDLE hears of them without polling.
func (s *Store) watch() {
	defer close(s.watchDone)
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stopWatch:
			return
		case <-t.C:
		}
		s.mu.Lock()
		users := make([]*user, 0, len(s.users))
		for _, u := range s.users {
			users = append(users, u)
		}
		s.mu.Unlock()
		for _, u := range users {
			u.mu.Lock()
			for _, mb := range u.mailboxes {
				if len(mb.handles) > 0 && len(mb.incoming) == 0 {
					if err := mb.rescanLocked(); err != nil {
						s.logger.Warn("maildir: rescan", "mailbox", mb.name, "user", u.name, "err", err)
					}
				}
			}
			u.mu.Unlock()
		}
	}
}

// Open opens (creating it if needed) a store rooted at dir.
func Open(dir string, opts *Options) (*Store, error) {
	if opts == nil {
		opts = &Options{}
	}
	s := &Store{root: filepath.Clean(dir), fs: opts.fs, logger: opts.Logger, now: time.Now, pid: os.Getpid(), users: map[string]*user{}, cacheSlack: 1 << 20, summaryMem: new(atomic.Int64)}
	s.indexers.New = func() any { return new(mime.Indexer) }
	if s.fs == nil {
		s.fs = osFS{}
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	h, _ := os.Hostname()
	if h == "" {
		h = "localhost"
	}
	// Maildir: "/" and ":" in the host part are written as octal escapes.
	s.host = strings.NewReplacer("/", `\057`, ":", `\072`, ",", `\054`).Replace(h)
	s.lockHost = h
	switch s.summaryMemMax = opts.SummaryMemory; {
	case s.summaryMemMax == 0:
		s.summaryMemMax = defaultSummaryMem
	case s.summaryMemMax < 0:
		s.summaryMemMax = 0
	}
	switch s.popLockWait = opts.MaildropLockWait; {
	case s.popLockWait == 0:
		s.popLockWait = defaultPOPLockWait
	case s.popLockWait < 0:
		s.popLockWait = 0
	}
	if err := mkdirAll(s.fs, s.root); err != nil {
		return nil, err
	}
	s.stopWatch, s.watchDone = make(chan struct{}), make(chan struct{})
	go s.watch()
	return s, nil
}

func mkdirAll(fsys fileSystem, dir string) error {
	if _, err := fsys.Stat(dir); err == nil {
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirAll(fsys, parent); err != nil {
			return err
		}
	}
	if err := fsys.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return fsys.SyncDir(filepath.Dir(dir))
}

// Close writes what is kept lazily (dovecot-uidlist) and closes the
// index files. The store must not be used afterwards.
func (s *Store) Close() error {
	s.mu.Lock()
	users := make([]*user, 0, len(s.users))
	for _, u := range s.users {
		users = append(users, u)
	}
	wasClosed := s.closed
	s.closed = true
	s.mu.Unlock()
	if !wasClosed {
		close(s.stopWatch)
		<-s.watchDone
	}
	var first error
	for _, u := range users {
		u.mu.Lock()
		for _, mb := range u.mailboxes {
			if err := mb.closeLocked(); err != nil && first == nil {
				first = err
			}
		}
		// After the S records: the usage as the next start finds it.
		u.saveQuotaLocked()
		u.mu.Unlock()
	}
	return first
}

// newValidity hands out UIDVALIDITY values: the current time, but
// always ascending, so that a mailbox created again never repeats one.
func (s *Store) newValidity() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := uint32(s.now().Unix())
	if v <= s.lastValidity {
		v = s.lastValidity + 1
	}
	s.lastValidity = v
	return v
}

// uniqueBase returns a new Maildir base name (without the size fields).
func (s *Store) uniqueBase() string {
	now := s.now()
	return fmt.Sprintf("%d.M%dP%dQ%d.%s", now.Unix(), now.Nanosecond()/1000, s.pid, s.seq.Add(1), s.host)
}

func newGUID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type user struct {
	s    *Store
	name string
	dir  string

	mu            sync.Mutex
	password      string
	scram         map[sasl.SCRAMHash]sasl.SCRAMKeys
	mailboxes     map[string]*mailbox // every mailbox, loaded on first use
	subscriptions map[string]bool
	specialUse    map[string][]string
	popLocked     bool
	quotaStorage  int64
	quotaMessages int64
	reserved      int64 // octets of deliveries between quota check and commit
	reservedMsgs  int64
	// quotaCache is posthorn-quota: usage of mailboxes not loaded.
	quotaCache map[string]quotaEntry
	commit     committer
}

type userMeta struct {
	SpecialUse    map[string][]string `json:"special_use,omitempty"`
	QuotaStorage  int64               `json:"quota_storage,omitempty"`
	QuotaMessages int64               `json:"quota_messages,omitempty"`
}

// AddUser makes an account known to the store, with a password (empty:
// no password logins). Its mail directory is created, with the default
// mailboxes (Drafts, Sent, Junk, Trash, Archive; special-use, subscribed)
// when it did not exist; an existing one is used as it is.
func (s *Store) AddUser(username, password string) error {
	d, err := userDirName(username)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if _, ok := s.users[username]; ok {
		s.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUserExists, username)
	}
	u := &user{s: s, name: username, dir: filepath.Join(s.root, d), password: password}
	u.commit.u = u
	s.users[username] = u
	s.mu.Unlock()

	u.mu.Lock()
	defer u.mu.Unlock()
	if err := u.loadLocked(); err != nil {
		s.mu.Lock()
		delete(s.users, username)
		s.mu.Unlock()
		return err
	}
	return nil
}

// loadLocked creates or reads the user's directory.
func (u *user) loadLocked() error {
	fsys := u.s.fs
	_, err := fsys.Stat(u.dir)
	fresh := errors.Is(err, fs.ErrNotExist)
	if err != nil && !fresh {
		return err
	}
	u.mailboxes = map[string]*mailbox{}
	u.subscriptions = map[string]bool{}
	u.specialUse = map[string][]string{}
	u.loadQuotaLocked()
	if fresh {
		if err := u.makeMaildirLocked(u.dir); err != nil {
			return err
		}
		u.mailboxes["INBOX"] = u.newMailbox("INBOX", u.dir)
		u.subscriptions["INBOX"] = true
		for _, d := range defaultMailboxes {
			if err := u.createLocked(d.name, []string{d.use}); err != nil {
				return err
			}
			u.subscriptions[d.name] = true
		}
		if err := u.saveSubscriptionsLocked(); err != nil {
			return err
		}
		return fsys.SyncDir(filepath.Dir(u.dir))
	}
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := fsys.Mkdir(filepath.Join(u.dir, sub), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	u.mailboxes["INBOX"] = u.newMailbox("INBOX", u.dir)
	ents, err := fsys.ReadDir(u.dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, trashPrefix) {
			// A DELETE interrupted by a crash: finish it.
			fsys.RemoveAll(filepath.Join(u.dir, n))
			continue
		}
		if !e.IsDir() {
			continue
		}
		if name, ok := folderName(n); ok && name != "INBOX" {
			u.mailboxes[name] = u.newMailbox(name, filepath.Join(u.dir, n))
		}
	}
	if data, err := fsys.ReadFile(filepath.Join(u.dir, metaName)); err == nil {
		var m userMeta
		if json.Unmarshal(data, &m) == nil {
			u.quotaStorage, u.quotaMessages = m.QuotaStorage, m.QuotaMessages
			for n, use := range m.SpecialUse {
				u.specialUse[n] = use
			}
		}
	}
	if data, err := fsys.ReadFile(filepath.Join(u.dir, subscriptionsName)); err == nil {
		for _, n := range parseSubscriptions(string(data)) {
			u.subscriptions[n] = true
		}
	}
	return nil
}

const (
	metaName          = "posthorn-user"
	subscriptionsName = "subscriptions"
	trashPrefix       = "posthorn-deleted-"
)

func (u *user) makeMaildirLocked(dir string) error {
	fsys := u.s.fs
	if err := fsys.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := fsys.Mkdir(filepath.Join(dir, sub), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		// Maildir++ folders carry an empty "maildirfolder" file.
	}
	if dir != u.dir {
		f, err := fsys.OpenFile(filepath.Join(dir, "maildirfolder"), os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			f.Close()
		}
	}
	return fsys.SyncDir(dir)
}

func (u *user) saveMetaLocked() error {
	m := userMeta{SpecialUse: u.specialUse, QuotaStorage: u.quotaStorage, QuotaMessages: u.quotaMessages}
	data, _ := json.MarshalIndent(m, "", "\t")
	return writeFileAtomic(u.s.fs, filepath.Join(u.dir, metaName), data, true)
}

// Subscriptions, Dovecot's version 2 format: "V\t2\n\n", then one name
// per line with its levels separated by tabs.
func (u *user) saveSubscriptionsLocked() error {
	names := make([]string, 0, len(u.subscriptions))
	for n := range u.subscriptions {
		names = append(names, n)
	}
	sort.Strings(names)
	b := []byte("V\t2\n\n")
	for _, n := range names {
		b = append(b, strings.ReplaceAll(n, string(imapserver.Delimiter), "\t")...)
		b = append(b, '\n')
	}
	return writeFileAtomic(u.s.fs, filepath.Join(u.dir, subscriptionsName), b, true)
}

func parseSubscriptions(data string) []string {
	lines := strings.Split(data, "\n")
	v2 := len(lines) > 0 && lines[0] == "V\t2"
	var out []string
	for i, l := range lines {
		if l == "" || (v2 && i == 0) {
			continue
		}
		var n string
		if v2 {
			n = strings.ReplaceAll(l, "\t", string(imapserver.Delimiter))
		} else if name, ok := folderName("." + l); ok {
			n = name // Courier's format: storage names, "." between levels
		} else if strings.EqualFold(l, "INBOX") {
			n = "INBOX"
		} else {
			continue
		}
		if c, err := checkName(n); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// writeFileAtomic writes a file through a temporary one renamed over
// it; with sync, the data and then the rename are made durable.
func writeFileAtomic(fsys fileSystem, path string, data []byte, sync bool) error {
	tmp := path + ".posthorn-tmp"
	f, err := fsys.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.Rename(tmp, path)
	}
	if err == nil && sync {
		err = fsys.SyncDir(filepath.Dir(path))
	}
	if err != nil {
		fsys.Remove(tmp)
	}
	return err
}

// SetQuota sets a user's limits: storage in octets and number of
// messages over all mailboxes; 0 is unlimited. They are kept on disk.
func (s *Store) SetQuota(username string, storage, messages int64) error {
	u, err := s.user(username)
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.quotaStorage, u.quotaMessages = storage, messages
	return u.saveMetaLocked()
}

// HasUser reports whether the account was added.
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

// KeepsModSeq reports true: every mailbox keeps mod-sequences
// (imapserver.ModSeqKeeper; CONDSTORE and QRESYNC are offered).
func (s *Store) KeepsModSeq() bool { return true }

// VerifyPassword implements imapserver.Backend and sasl.PasswordVerifier.
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

// LookupSCRAM returns a user's SCRAM keys, derived from the password on
// first use and kept in memory. It implements sasl.SCRAMLookup.
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
			u.scram = map[sasl.SCRAMHash]sasl.SCRAMKeys{}
		}
		u.scram[hash] = k
	}
	u.mu.Unlock()
	return k, nil
}

// LookupSecret implements sasl.SecretLookup (CRAM-MD5, APOP).
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

// User implements imapserver.Backend.
func (s *Store) User(ctx context.Context, username string, conn *imapserver.ConnInfo) (imapserver.User, error) {
	u, err := s.user(username)
	if err != nil {
		return nil, err
	}
	return &userSession{u: u}, nil
}

// quotaCheckLocked reports ErrOverQuota if n more messages of size
// octets would exceed the limits.
func (u *user) quotaCheckLocked(n, size int64) error {
	if u.quotaMessages == 0 && u.quotaStorage == 0 {
		return nil
	}
	st, msgs, err := u.usageLocked()
	if err != nil {
		return err
	}
	if u.quotaMessages > 0 && msgs+n > u.quotaMessages {
		return fmt.Errorf("%w: message count limit %d", imapserver.ErrOverQuota, u.quotaMessages)
	}
	if u.quotaStorage > 0 && st+size > u.quotaStorage {
		return fmt.Errorf("%w: storage limit %d octets", imapserver.ErrOverQuota, u.quotaStorage)
	}
	return nil
}
