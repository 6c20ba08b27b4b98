package main

// Accounts of a configured server (-config): the accounts file, written
// by the useradd, passwd and userdel subcommands, and the directory that
// maps addresses to accounts and checks logins.
//
// The accounts file (accounts.json in the data directory unless
// "accounts_file") is JSON, mode 0600:
//
//	{
//	  "alice": {
//	    "scram_sha256": "SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>",
//	    "scram_sha1":   "SCRAM-SHA-1$4096:<salt>$<StoredKey>:<ServerKey>",
//	    "quota": {"storage": 1073741824, "messages": 0}
//	  }
//	}
//
// The secrets are SCRAM keys in the RFC 5803 form (sasl.SCRAMKeys), from
// which the password cannot be recovered: SCRAM logins use them as they
// are (RFC 5802 §3), and PLAIN, LOGIN, IMAP LOGIN and POP3 USER/PASS
// derive the StoredKey from the password given (SaltedPassword, then
// ClientKey, then H(ClientKey)) and compare. CRAM-MD5 (RFC 2195) and
// APOP (RFC 1939 §7) need the password itself on the server, so they are
// not offered.
//
// An account logs in with its name or with NAME@ any local domain, which
// mail clients offer as the user name (directory.account).
//
// The running server notices a changed accounts file at the next lookup
// (its size or modification time changed) and on SIGHUP: a new account
// can log in and receive mail at once; a removed one can no longer, and
// its mail stays on disk.

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp"
)

// account is one entry of the accounts file.
type account struct {
	SCRAMSHA256 string       `json:"scram_sha256"`
	SCRAMSHA1   string       `json:"scram_sha1,omitempty"`
	Quota       *quotaConfig `json:"quota,omitempty"`
}

// accountsFile is the accounts file's content, by account name.
type accountsFile map[string]account

// maxAccountsFile bounds the accounts file (some 30,000 accounts).
const maxAccountsFile = 16 << 20

// checkAccountName allows lower-case letters, digits and ".-_", starting
// with a letter or digit: a name that is also a plain local part and a
// safe directory name, and cannot smuggle a route or another domain
// ("%", "!", "@", quotes).
func checkAccountName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("account name %q: 1 to 64 characters", name)
	}
	for i, r := range name {
		ok := 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || i > 0 && (r == '.' || r == '-' || r == '_')
		if !ok {
			return fmt.Errorf("account name %q: only a-z, 0-9 and . - _ (not first)", name)
		}
	}
	return nil
}

// readAccounts reads the accounts file; a missing file has no accounts.
func readAccounts(path string) (accountsFile, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return accountsFile{}, nil
	}
	if err != nil {
		return nil, err
	}
	if len(b) > maxAccountsFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxAccountsFile)
	}
	a := accountsFile{}
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for name, acc := range a {
		if err := checkAccountName(name); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if _, err := sasl.ParseSCRAMKeys(acc.SCRAMSHA256); err != nil {
			return nil, fmt.Errorf("%s: %s: scram_sha256: %w", path, name, err)
		}
		if acc.SCRAMSHA1 != "" {
			if _, err := sasl.ParseSCRAMKeys(acc.SCRAMSHA1); err != nil {
				return nil, fmt.Errorf("%s: %s: scram_sha1: %w", path, name, err)
			}
		}
	}
	return a, nil
}

// writeAccounts replaces the accounts file atomically, mode 0600.
func writeAccounts(path string, a accountsFile) error {
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'), 0o600)
}

// newAccount derives the stored keys of password.
func newAccount(password string, quota *quotaConfig) (account, error) {
	k256, err := sasl.NewSCRAMKeys(sasl.SHA256, password, nil, 0)
	if err != nil {
		return account{}, err
	}
	k1, err := sasl.NewSCRAMKeys(sasl.SHA1, password, nil, 0)
	if err != nil {
		return account{}, err
	}
	return account{SCRAMSHA256: k256.String(), SCRAMSHA1: k1.String(), Quota: quota}, nil
}

// directory is the running server's view of the site: domains, aliases
// and the accounts file, re-read when it changes. It is the sasl
// credential backend (SCRAM keys, passwords checked against them) and
// maps recipients to accounts.
type directory struct {
	site *siteConfig
	path string
	// onAdd is called for each account that appears (to add it to the
	// store, with its quota); nil for tools.
	onAdd func(name string, quota quotaConfig) error

	mu      sync.Mutex
	modTime time.Time
	size    int64
	checked time.Time
	accts   accountsFile
	keys    map[string]map[sasl.SCRAMHash]sasl.SCRAMKeys
	added   map[string]bool
	now     func() time.Time
}

// newDirectory loads the accounts file.
func newDirectory(site *siteConfig, path string, onAdd func(string, quotaConfig) error) (*directory, error) {
	d := &directory{site: site, path: path, onAdd: onAdd, added: map[string]bool{}, now: time.Now}
	if err := d.reload(); err != nil {
		return nil, err
	}
	return d, nil
}

// reload re-reads the accounts file and adds the new accounts to the
// store.
func (d *directory) reload() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.reloadLocked()
}

func (d *directory) reloadLocked() error {
	st, err := os.Stat(d.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		st = nil
	case err != nil:
		return err
	}
	a, err := readAccounts(d.path)
	if err != nil {
		return err
	}
	keys := map[string]map[sasl.SCRAMHash]sasl.SCRAMKeys{}
	for name, acc := range a {
		m := map[sasl.SCRAMHash]sasl.SCRAMKeys{}
		k, _ := sasl.ParseSCRAMKeys(acc.SCRAMSHA256) // checked by readAccounts
		m[sasl.SHA256] = k
		if acc.SCRAMSHA1 != "" {
			k, _ := sasl.ParseSCRAMKeys(acc.SCRAMSHA1)
			m[sasl.SHA1] = k
		}
		keys[name] = m
	}
	if d.onAdd != nil {
		names := make([]string, 0, len(a))
		for n := range a {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			q := d.site.quota
			if a[n].Quota != nil {
				q = *a[n].Quota
			}
			if err := d.onAdd(n, q); err != nil {
				return fmt.Errorf("account %s: %w", n, err)
			}
			d.added[n] = true
		}
	}
	d.accts, d.keys = a, keys
	d.modTime, d.size = time.Time{}, -1
	if st != nil {
		d.modTime, d.size = st.ModTime(), st.Size()
	}
	d.checked = d.now()
	return nil
}

// current returns the accounts, re-reading the file when it changed
// (looked at no more than once a second). A file that fails to read
// keeps the accounts known.
func (d *directory) current() (accountsFile, map[string]map[sasl.SCRAMHash]sasl.SCRAMKeys) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if now := d.now(); now.Sub(d.checked) >= time.Second {
		d.checked = now
		st, err := os.Stat(d.path)
		changed := err == nil && (!st.ModTime().Equal(d.modTime) || st.Size() != d.size) ||
			errors.Is(err, fs.ErrNotExist) && d.size != -1
		if changed {
			_ = d.reloadLocked() // on error: keep what we have; SIGHUP reports it
		}
	}
	return d.accts, d.keys
}

// exists reports whether name is an account.
func (d *directory) exists(name string) bool {
	a, _ := d.current()
	_, ok := a[name]
	return ok
}

// names lists the accounts, sorted.
func (d *directory) names() []string {
	a, _ := d.current()
	n := make([]string, 0, len(a))
	for k := range a {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// account returns the account a login name names: the name itself, or
// for NAME@DOMAIN of a local domain the account NAME (mail clients offer
// the address as the user name). Aliases are not login names.
func (d *directory) account(login string) string {
	local, domain, ok := strings.Cut(login, "@")
	if !ok || !d.local(domain) {
		return login
	}
	if name := strings.ToLower(local); d.exists(name) {
		return name
	}
	return login
}

// LookupSCRAM implements sasl.SCRAMLookup.
func (d *directory) LookupSCRAM(ctx context.Context, username string, h sasl.SCRAMHash) (sasl.SCRAMKeys, error) {
	_, keys := d.current()
	k, ok := keys[d.account(username)][h]
	if !ok {
		return sasl.SCRAMKeys{}, sasl.ErrUnknownUser
	}
	return k, nil
}

// VerifyPassword implements sasl.PasswordVerifier (PLAIN, LOGIN, IMAP
// LOGIN, POP3 USER/PASS) against the stored SCRAM-SHA-256 keys: the
// password is salted and iterated as a SCRAM client would (RFC 5802
// §3), and the StoredKey it gives compared in constant time.
func (d *directory) VerifyPassword(ctx context.Context, username, password string) error {
	_, keys := d.current()
	k, ok := keys[d.account(username)][sasl.SHA256]
	if !ok {
		// Spend the time a known user costs.
		sasl.NewSCRAMKeys(sasl.SHA256, password, []byte("posthorn-unknown"), sasl.DefaultSCRAMIterations) //nolint:errcheck
		return sasl.ErrAuthFailed
	}
	got, err := sasl.NewSCRAMKeys(sasl.SHA256, password, k.Salt, k.Iterations)
	if err != nil || subtle.ConstantTimeCompare(got.StoredKey, k.StoredKey) != 1 {
		return sasl.ErrAuthFailed
	}
	return nil
}

// errNoSuchUser is what resolve returns for an address of a local domain
// that no account or alias takes: 550 5.1.1 at RCPT.
var errNoSuchUser = fmt.Errorf("no such user: %w", fs.ErrNotExist)

// errRelayDenied refuses a recipient outside the local domains.
var errRelayDenied = smtp.NewError(550, smtp.EnhancedCode{5, 7, 1}, "Relaying denied: this server accepts mail only for its own domains")

// local reports whether domain is one of the local domains.
func (d *directory) local(domain string) bool {
	return slices.Contains(d.site.domains, strings.ToLower(strings.TrimSuffix(domain, ".")))
}

// postmaster is the account that takes postmaster@ every domain.
func (d *directory) postmaster() string {
	if d.site.postmaster != "" {
		return d.site.postmaster
	}
	if n := d.names(); len(n) > 0 {
		return n[0]
	}
	return ""
}

// resolve maps a recipient to the account that receives its mail:
//
//  1. <postmaster> and postmaster@ a local domain: the postmaster account
//     (RFC 5321 §4.5.1);
//  2. an alias of the address;
//  3. an account of the local part;
//  4. with plus-addressing, 2 and 3 for the part before the delimiter;
//  5. the domain's catch-all alias.
//
// Other domains get errRelayDenied, other addresses errNoSuchUser. The
// local part is compared without case (accounts are lower-case). A
// local part with "%", "!", "@" or a quoted one never names an account
// (checkAccountName), so the old relay tricks (user%other@, a!b!user@,
// "user@other"@) find no account; a catch-all takes them as local mail,
// never relaying them.
func (d *directory) resolve(to smtp.Mailbox) (string, error) {
	if to.IsPostmaster() {
		return d.postmasterOr()
	}
	if !d.local(to.Domain) {
		return "", errRelayDenied
	}
	domain := strings.ToLower(strings.TrimSuffix(to.Domain, "."))
	local := strings.ToLower(to.Local)
	if local == "postmaster" {
		return d.postmasterOr()
	}
	if acct, ok := d.lookup(local, domain); ok {
		return acct, nil
	}
	if sep := d.site.delimiter; sep != "" {
		if base, _, ok := strings.Cut(local, sep); ok && base != "" {
			if acct, ok := d.lookup(base, domain); ok {
				return acct, nil
			}
		}
	}
	if acct, ok := d.alias("@" + domain); ok {
		return acct, nil
	}
	return "", errNoSuchUser
}

// listPrefix starts the name resolve returns for an alias of several
// accounts; members expands it. No account name contains ":".
const listPrefix = "list:"

// alias resolves an alias key: its account, or for several accounts
// the list name. ok is false when the key is no alias or none of its
// accounts exists.
func (d *directory) alias(key string) (string, bool) {
	targets, ok := d.site.aliases[key]
	if !ok {
		return "", false
	}
	if len(targets) == 1 {
		return targets[0], d.exists(targets[0])
	}
	return listPrefix + key, len(d.members(listPrefix+key)) > 0
}

// members returns the accounts that receive mail resolved to name: the
// existing accounts of a list, or name itself.
func (d *directory) members(name string) []string {
	key, ok := strings.CutPrefix(name, listPrefix)
	if !ok {
		return []string{name}
	}
	var out []string
	for _, t := range d.site.aliases[key] {
		if d.exists(t) {
			out = append(out, t)
		}
	}
	return out
}

func (d *directory) postmasterOr() (string, error) {
	if p := d.postmaster(); p != "" && d.exists(p) {
		return p, nil
	}
	return "", errNoSuchUser
}

// lookup finds local@domain as an alias or an account.
func (d *directory) lookup(local, domain string) (string, bool) {
	if _, ok := d.site.aliases[local+"@"+domain]; ok {
		return d.alias(local + "@" + domain)
	}
	if d.exists(local) {
		return local, true
	}
	return "", false
}

// owns reports whether account may send as addr (the submission sender
// check): under "own", addr must resolve to the account by rules 2 to 4
// of resolve (its own addresses, its aliases, their plus forms; not a
// catch-all, which would let it pose as anyone of the domain); under
// "domain", addr must be of a local domain; under "off", anything goes.
func (d *directory) owns(account string, addr smtp.Mailbox) bool {
	switch d.site.senderCheck {
	case senderOff:
		return true
	case senderDomain:
		return !addr.IsNull() && d.local(addr.Domain)
	}
	if addr.IsNull() || !d.local(addr.Domain) {
		return false
	}
	domain := strings.ToLower(strings.TrimSuffix(addr.Domain, "."))
	local := strings.ToLower(addr.Local)
	if acct, ok := d.lookup(local, domain); ok {
		return acct == account
	}
	if sep := d.site.delimiter; sep != "" {
		if base, _, ok := strings.Cut(local, sep); ok && base != "" {
			acct, ok := d.lookup(base, domain)
			return ok && acct == account
		}
	}
	return false
}
