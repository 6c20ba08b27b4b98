package main

// The data directory: where the zero-configuration first run keeps what
// must survive a restart. Under it (./maildata unless -data):
//
//	mail/              the Maildir++ store (imap/imapserver/maildir), one
//	                   directory per account
//	cert.pem, key.pem  the self-signed certificate, made once (key 0600)
//	demo-account.json  the demo account's login and password (0600)
//	dkim.pem           the DKIM signing key (auth.go), made once
//	lock               held while a server runs on the directory
//
// With -store memory nothing is kept: the store is imapmem and the files
// go to a temporary directory removed at exit, as before.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
	"github.com/posthorn/posthorn/imap/imapserver/maildir"
	"github.com/posthorn/posthorn/internal/tlsutil"
	"github.com/posthorn/posthorn/pop3/pop3server"
	"github.com/posthorn/posthorn/smtp/smtpserver"
)

// The -store values.
const (
	storeMaildir = "maildir"
	storeMemory  = "memory"
)

// mailStore is what the program needs of its store; imapmem.Store and
// maildir.Store both are one. The SASL lookups (password, SCRAM keys)
// are found on it by sasl.Registry.
type mailStore interface {
	imapserver.Backend
	smtpserver.DeliveryStore
	pop3server.MaildropStore
	// DeliverTo files a message into a named mailbox (Junk).
	DeliverTo(ctx context.Context, username, mailbox string, r io.Reader, flags []string, date time.Time) (uint32, error)
	AddUser(username, password string) error
}

// siteData is the opened data directory (or the temporary one of
// -store memory).
type siteData struct {
	// dir holds the certificate, the demo account file and the DKIM key.
	dir string
	// persistent is false for -store memory: everything goes at exit.
	persistent bool
	store      mailStore
	password   string // the demo account's
	certFile   string
	tlsConfig  *tls.Config
	certs      *certReloader // the configured certificate (-config "tls"), else nil
	close      func() error
}

// demoAccount is demo-account.json: the demo account's password, kept so
// that a restart does not change it. Only the demo account is kept this
// way; it holds a password in plain, hence mode 0600.
type demoAccount struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// openData opens the data directory of cfg (making what is missing) or,
// for -store memory, a temporary one, and adds the demo account.
func openData(cfg config, logger *slog.Logger) (*siteData, error) {
	switch cfg.Store {
	case storeMemory:
		return openMemory(cfg)
	case storeMaildir, "":
		return openMaildir(cfg, logger)
	default:
		return nil, fmt.Errorf("-store %q: want %q or %q", cfg.Store, storeMaildir, storeMemory)
	}
}

func openMemory(cfg config) (*siteData, error) {
	dir, err := os.MkdirTemp("", "posthorn-mailserver-")
	if err != nil {
		return nil, err
	}
	d := &siteData{dir: dir, close: func() error { return os.RemoveAll(dir) }}
	fail := func(err error) (*siteData, error) {
		d.close()
		return nil, err
	}
	store := imapmem.New()
	if cfg.Site == nil {
		d.password = cfg.Password
		if d.password == "" {
			d.password = randomPassword()
		}
		if err := store.AddUser(cfg.User, d.password); err != nil {
			return fail(fmt.Errorf("demo account: %w", err))
		}
	}
	d.store = store
	if err := d.loadCert(cfg); err != nil {
		return fail(err)
	}
	return d, nil
}

func openMaildir(cfg config, logger *slog.Logger) (*siteData, error) {
	dir := cfg.Data
	if dir == "" {
		dir = "maildata"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	lock, err := lockData(dir)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*siteData, error) {
		lock.Close()
		return nil, err
	}
	d := &siteData{dir: dir, persistent: true}
	if cfg.Site == nil {
		pw, err := demoPassword(filepath.Join(dir, "demo-account.json"), cfg.User, cfg.Password)
		if err != nil {
			return fail(err)
		}
		d.password = pw
	}
	if err := d.loadCert(cfg); err != nil {
		return fail(err)
	}
	store, err := maildir.Open(filepath.Join(dir, "mail"), &maildir.Options{Logger: logger.With("store", "maildir")})
	if err != nil {
		return fail(fmt.Errorf("mail store: %w", err))
	}
	if cfg.Site == nil {
		if err := store.AddUser(cfg.User, d.password); err != nil {
			store.Close()
			return fail(fmt.Errorf("demo account: %w", err))
		}
	}
	d.store = store
	d.close = func() error {
		err := store.Close()
		lock.Close()
		return err
	}
	return d, nil
}

// loadCert loads the configured certificate (reloaded on SIGHUP) or the
// self-signed pair of the data directory.
func (d *siteData) loadCert(cfg config) error {
	if cfg.Site != nil && cfg.Site.certFile != "" {
		r, err := newCertReloader(cfg.Site.certFile, cfg.Site.keyFile)
		if err != nil {
			return err
		}
		d.certs, d.certFile, d.tlsConfig = r, cfg.Site.certFile, r.tlsConfig()
		return nil
	}
	var err error
	d.certFile, d.tlsConfig, err = loadOrCreateCert(d.dir, cfg.Hostname)
	return err
}

// demoPassword returns the demo account's password: the one given
// (-password), else the one kept in path for the same user, else a new
// random one. What it returns is kept in path for the next start.
func demoPassword(path, user, given string) (string, error) {
	var kept demoAccount
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &kept); err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return "", err
	}
	pw := given
	if pw == "" && kept.User == user {
		pw = kept.Password
	}
	if pw == "" {
		pw = randomPassword()
	}
	if kept.User == user && kept.Password == pw {
		return pw, nil
	}
	b, err = json.MarshalIndent(demoAccount{User: user, Password: pw}, "", "  ")
	if err != nil {
		return "", err
	}
	if err := writeFileAtomic(path, append(b, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("demo account: %w", err)
	}
	return pw, nil
}

// loadOrCreateCert reads cert.pem and key.pem from dir or, when they are
// missing, expired or do not name host, makes a self-signed certificate
// for localhost, the loopback addresses and host, and writes them there.
func loadOrCreateCert(dir, host string) (certFile string, cfg *tls.Config, err error) {
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if c, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil {
		leaf := c.Leaf
		if leaf == nil && len(c.Certificate) > 0 {
			leaf, _ = x509.ParseCertificate(c.Certificate[0])
		}
		if leaf != nil && time.Now().Before(leaf.NotAfter) && leaf.VerifyHostname(host) == nil {
			return certFile, &tls.Config{Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12}, nil
		}
	}
	// Missing, unreadable or not matching: the pair is the program's own,
	// so a new one replaces it.
	cert, err := tlsutil.NewTestCert("localhost", "127.0.0.1", "::1", host)
	if err != nil {
		return "", nil, fmt.Errorf("certificate: %w", err)
	}
	// The key first: a crash between the two leaves a pair that does not
	// match, and the next start makes a new one.
	if err := writeFileAtomic(keyFile, cert.KeyPEM, 0o600); err != nil {
		return "", nil, fmt.Errorf("certificate: %w", err)
	}
	if err := writeFileAtomic(certFile, cert.CertPEM, 0o644); err != nil {
		return "", nil, fmt.Errorf("certificate: %w", err)
	}
	return certFile, cert.ServerConfig(), nil
}

// writeFileAtomic writes data to a new file renamed over path, so that a
// crash leaves the old file or the new one, never a torn one.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	tmp := path + ".tmp"
	os.Remove(tmp) // a leftover would keep its mode
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
