package main

// The running parts of a configured server (-config): the directory of
// accounts, the outbound queue, the spool for messages in flight, the
// certificate that SIGHUP reloads.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
	"github.com/posthorn/posthorn/imap/imapserver/maildir"
	"github.com/posthorn/posthorn/pop3/pop3server"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/posthorn/posthorn/smtp/smtpqueue"
	"github.com/posthorn/posthorn/smtp/smtpserver"
)

// site is a configured server's state beyond the store.
type site struct {
	cfg    *siteConfig
	dir    *directory
	store  mailStore
	mauth  *mailAuth
	queue  *smtpqueue.Queue // nil when relaying is off
	spool  string           // temporary files of messages in flight
	certs  *certReloader    // nil with the self-signed pair
	logger *slog.Logger
	stop   func()
	// selector is the DKIM selector; submission signs with mauth.key.
	selector string
	// hostname names this server, in the Message-ID submission adds.
	hostname string
}

// quotaSetter is the store's SetQuota (maildir and imapmem have it).
type quotaSetter interface {
	SetQuota(username string, storage, messages int64) error
}

// startSite loads the accounts into the store, opens the queue and
// starts its delivery and the SIGHUP reloads; stop undoes it.
func startSite(ctx context.Context, cfg config, data *siteData, mauth *mailAuth, logger *slog.Logger) (*site, error) {
	s := &site{cfg: cfg.Site, store: data.store, mauth: mauth, certs: data.certs, logger: logger, selector: cfg.Auth.Selector, hostname: cfg.Hostname}
	s.spool = filepath.Join(data.dir, "spool")
	if err := os.MkdirAll(s.spool, 0o700); err != nil {
		return nil, err
	}
	// Leftovers of a crash were never acknowledged.
	if ents, err := os.ReadDir(s.spool); err == nil {
		for _, e := range ents {
			os.Remove(filepath.Join(s.spool, e.Name()))
		}
	}
	added := map[string]quotaConfig{}
	onAdd := func(name string, q quotaConfig) error {
		if old, ok := added[name]; ok && old == q {
			return nil
		}
		if _, ok := added[name]; !ok {
			if err := s.store.AddUser(name, ""); err != nil && !isUserExists(err) {
				return err
			}
		}
		if qs, ok := s.store.(quotaSetter); ok {
			if err := qs.SetQuota(name, q.Storage, q.Messages); err != nil {
				return err
			}
		}
		added[name] = q
		return nil
	}
	// The accounts file is under the configured data directory even
	// with "store": "memory" (whose data.dir is a temporary one), where
	// the subcommands write it.
	dir, err := newDirectory(cfg.Site, cfg.Site.accountsPath(cfg.Data), onAdd)
	if err != nil {
		return nil, err
	}
	s.dir = dir
	if len(dir.names()) == 0 {
		logger.Warn("no accounts yet: add one with \"mailserver useradd -config FILE NAME\"", "accounts", dir.path)
	}

	runCtx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if cfg.Site.relay {
		// Direct delivery: EHLO with our name (receivers check it against
		// the PTR record), STARTTLS when offered, MTA-STS applied (RFC 8461).
		var next smtpqueue.Transport = &smtpqueue.MX{
			Options: smtpclient.DeliverOptions{Options: smtpclient.Options{LocalName: cfg.Hostname}},
			STS:     &smtpqueue.MTASTS{},
		}
		if cfg.Site.tuneMX != nil {
			cfg.Site.tuneMX(next.(*smtpqueue.MX))
		}
		if cfg.Site.transport != nil {
			next = cfg.Site.transport
		}
		q, err := smtpqueue.Open(filepath.Join(data.dir, "queue"), &smtpqueue.Options{
			Hostname:   cfg.Hostname,
			Transport:  &relayTransport{s: s, next: next},
			Postmaster: "postmaster@" + cfg.Site.domains[0],
			Logger:     logger.With("queue", "outbound"),
			OnEvent:    cfg.Site.queueEvent,
		})
		if err != nil {
			cancel()
			return nil, fmt.Errorf("queue: %w", err)
		}
		s.queue = q
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := q.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, smtpqueue.ErrClosed) {
				logger.Error("queue", "err", err)
			}
		}()
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-hup:
				s.reload()
			}
		}
	}()
	s.stop = func() {
		signal.Stop(hup)
		cancel()
		wg.Wait()
		if s.queue != nil {
			if err := s.queue.Close(); err != nil {
				logger.Warn("closing the queue", "err", err)
			}
		}
	}
	return s, nil
}

// reload is SIGHUP: the certificate and the accounts file again.
func (s *site) reload() {
	if s.certs != nil {
		if err := s.certs.load(); err != nil {
			s.logger.Error("SIGHUP: certificate not reloaded, keeping the old one", "err", err)
		} else {
			s.logger.Info("SIGHUP: certificate reloaded", "cert", s.certs.certFile)
		}
	}
	if err := s.dir.reload(); err != nil {
		s.logger.Error("SIGHUP: accounts not reloaded", "err", err)
	} else {
		s.logger.Info("SIGHUP: accounts reloaded", "accounts", len(s.dir.names()))
	}
}

// isUserExists reports the stores' "user exists" error.
func isUserExists(err error) bool {
	return errors.Is(err, maildir.ErrUserExists) || errors.Is(err, imapmem.ErrUserExists)
}

// imapBackend is the store as the IMAP Backend, with LOGIN checked by
// the servers' credentials (the store has no passwords) and the login
// name mapped to the account.
type imapBackend struct {
	mailStore
	dir      *directory
	password sasl.PasswordVerifier
}

func (b imapBackend) VerifyPassword(ctx context.Context, username, password string) error {
	return b.password.VerifyPassword(ctx, username, password)
}

// loginNames maps a login name to its account (directory.account) before
// inner, the credentials with the abuse limits, sees it: NAME@DOMAIN in
// any case is one account with one count of failures, not a fresh
// budget per spelling.
type loginNames struct {
	inner any // sasl.PasswordVerifier and sasl.SCRAMLookup
	dir   *directory
}

func (l loginNames) VerifyPassword(ctx context.Context, username, password string) error {
	return l.inner.(sasl.PasswordVerifier).VerifyPassword(ctx, l.dir.account(username), password)
}

func (l loginNames) LookupSCRAM(ctx context.Context, username string, h sasl.SCRAMHash) (sasl.SCRAMKeys, error) {
	return l.inner.(sasl.SCRAMLookup).LookupSCRAM(ctx, l.dir.account(username), h)
}

// User opens the account of a login name (NAME or NAME@DOMAIN).
func (b imapBackend) User(ctx context.Context, username string, info *imapserver.ConnInfo) (imapserver.User, error) {
	return b.mailStore.User(ctx, b.dir.account(username), info)
}

// pop3Backend opens the maildrop of a login name's account.
type pop3Backend struct {
	pop3server.Backend
	dir *directory
}

func (b pop3Backend) OpenMaildrop(ctx context.Context, username string, conn *pop3server.ConnInfo) (pop3server.Maildrop, error) {
	return b.Backend.OpenMaildrop(ctx, b.dir.account(username), conn)
}

// KeepsModSeq passes the store's imapserver.ModSeqKeeper on.
func (b imapBackend) KeepsModSeq() bool {
	k, ok := b.mailStore.(imapserver.ModSeqKeeper)
	return ok && k.KeepsModSeq()
}

// certReloader serves the certificate of certFile and keyFile through
// tls.Config.GetCertificate and loads them again on SIGHUP, so renewed
// certificates are used without a restart or a dropped connection.
type certReloader struct {
	certFile, keyFile string
	mu                sync.RWMutex
	cert              *tls.Certificate
}

func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certReloader) load() error {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	r.mu.Lock()
	r.cert = &c
	r.mu.Unlock()
	return nil
}

func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cert, nil
}

// tlsConfig is the servers' configuration over r.
func (r *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{GetCertificate: r.getCertificate, MinVersion: tls.VersionTLS12}
}

var _ smtpserver.Backend = (*submissionBackend)(nil)

// smtpLimits are the SMTP servers' limits from "limits" (0: default).
func (c *siteConfig) smtpLimits() smtpserver.Limits {
	return smtpserver.Limits{
		MaxMessageSize:      c.limits.MaxMessageSize,
		MaxRecipients:       c.limits.MaxRecipients,
		MaxConnections:      c.limits.MaxConnections,
		MaxConnectionsPerIP: c.limits.MaxConnectionsPerIP,
	}
}

// readLimits applies "limits" to the IMAP and POP3 servers: the
// connection limits as for SMTP, and max_message_size to IMAP APPEND.
func (c *siteConfig) readLimits(imapSrv *imapserver.Server, pop3Srv *pop3server.Server) {
	l := c.limits
	imapSrv.Limits.MaxConnections, imapSrv.Limits.MaxConnectionsPerIP = l.MaxConnections, l.MaxConnectionsPerIP
	imapSrv.Limits.MaxAppend = l.MaxMessageSize
	pop3Srv.Limits.MaxConnections, pop3Srv.Limits.MaxConnectionsPerIP = l.MaxConnections, l.MaxConnectionsPerIP
}

// siteBanner prints what a configured server serves.
func siteBanner(out io.Writer, cfg config, data *siteData, certFile string) {
	fmt.Fprintf(out, "  config    %s (domains %s)\n", cfg.Site.path, strings.Join(cfg.Site.domains, ", "))
	fmt.Fprintf(out, "  accounts  %s (mailserver useradd -config %s NAME)\n", cfg.Site.accountsPath(cfg.Data), shellQuote(cfg.Site.path))
	if data.certs != nil {
		fmt.Fprintf(out, "  cert      %s (reloaded on SIGHUP)\n", certFile)
	} else {
		fmt.Fprintf(out, "  cert      %s (self-signed: set \"tls\" in the configuration for a real one)\n", certFile)
	}
	relay := "off"
	if cfg.Site.relay {
		relay = "on (queue in " + filepath.Join(data.dir, "queue") + ")"
	}
	fmt.Fprintf(out, "  relay     submission to other domains %s; sender check %q\n", relay, cfg.Site.senderCheck)
}
