package main

// The configuration file (-config FILE): JSON, read with encoding/json,
// unknown keys refused. Without it the program runs the zero-configuration
// demo (main.go). With it, every key below takes its default when absent;
// flags given on the command line override the file. A complete example
// with every key is mailserver.example.json next to this file;
// "mailserver check-config -config FILE" checks one.
//
//	{
//	  "hostname": "mail.example.org",   // greeting, Received:, DKIM/DNS; default: os.Hostname()
//	  "domains": ["example.org"],       // required: the local mail domains; the first is the primary
//	  "aliases": {                      // address -> account name(s); default none
//	    "info@example.org": "alice",    //   one address
//	    "team@example.org": ["alice", "bob"],  // a copy for each
//	    "@example.org": "alice"         //   catch-all: any other address of the domain
//	  },
//	  "recipient_delimiter": "+",       // plus-addressing: alice+tag@ is alice@; "" turns it off; default "+"
//	  "postmaster": "alice",            // account for postmaster@ every domain (RFC 5321 §4.5.1); default: the first account by name
//	  "data_dir": "/var/lib/posthorn",  // mail (Maildir), queue, keys, lock; default "maildata"
//	  "store": "maildir",               // "maildir" or "memory"; default "maildir"
//	  "accounts_file": "",              // default: accounts.json in data_dir (written by useradd/passwd/userdel)
//	  "listen": {                       // "" turns a listener off; defaults are the standard ports:
//	    "smtp": ":25", "submission": ":587", "submissions": ":465",
//	    "imap": ":143", "imaps": ":993", "pop3": ":110", "pop3s": ":995",
//	    "web": ""                       // web inbox: off unless set (loopback only unless web_public)
//	  },
//	  "web_public": false,
//	  "tls": {                          // PEM files, re-read on SIGHUP; default: a self-signed pair in data_dir
//	    "cert": "/etc/letsencrypt/live/mail.example.org/fullchain.pem",
//	    "key": "/etc/letsencrypt/live/mail.example.org/privkey.pem"
//	  },
//	  "dkim": {"key": "", "selector": "posthorn"},  // key default: dkim.pem in data_dir, made if missing
//	  "checks": {"off": false, "check_loopback": false, "resolver": ""},  // inbound SPF/DKIM/DMARC
//	  "submission": {
//	    "sender_check": "own",          // "own": MAIL FROM and From: must be the account's addresses;
//	                                    // "domain": any address of the local domains; "off"; default "own"
//	    "relay": true                   // queue mail for other domains (smtp/smtpqueue, direct to MX); default true
//	  },
//	  "scram_plus": false,              // offer SCRAM-*-PLUS (channel binding); default false, see below
//	  "limits": {"max_message_size": 33554432, "max_recipients": 100,   // SMTP, and IMAP APPEND for the size
//	             "max_connections": 1000, "max_connections_per_ip": 20},  // 0: the server's default (shown)
//	  "default_quota": {"storage": 0, "messages": 0},  // for accounts without their own; 0 is unlimited
//	  "log": {"format": "text", "level": "info"}       // format "text" or "json"; level debug/info/warn/error
//	}
//
// Ports below 1024 need privileges: build the program and give it the
// one capability it needs rather than running it as root:
//
//	go build -o /usr/local/bin/mailserver ./examples/mailserver
//	setcap cap_net_bind_service=+ep /usr/local/bin/mailserver
//
// An alias names local accounts, one or several; forwarding to another
// server is not offered. One DKIM key signs for every
// local domain, with d= the From: domain (relay.go).
//
// Accounts are not in this file: "mailserver useradd NAME" writes them to
// the accounts file with SCRAM-SHA-256 and SCRAM-SHA-1 keys (RFC 5803
// form), never the password (accounts.go). An account NAME receives
// NAME@ every local domain.
//
// Certificates: there is no built-in ACME (it needs golang.org/x/crypto,
// which this module does not depend on). Get the certificate with certbot
// or lego and have their renewal hook send SIGHUP:
//
//	certbot certonly --standalone -d mail.example.org \
//	    --deploy-hook 'pkill -HUP -x mailserver'
//	lego --domains mail.example.org --http run \
//	    --run-hook 'kill -HUP $(pidof mailserver)'   # renew: --renew-hook
//
// SIGHUP re-reads the certificate and key (and the accounts file): TLS
// handshakes from then on use the new pair (tls.Config.GetCertificate),
// connections already open are not touched. A pair that fails to load
// keeps the old one and is logged.
//
// SCRAM-PLUS is off by default: NeoMutt (2022, through libgsasl) takes
// SCRAM-SHA-256-PLUS whenever a server offers it, cannot supply the
// channel binding, fails and does not fall back, while it works with
// plain SCRAM-SHA-256 or PLAIN over TLS, as with Dovecot and Postfix,
// which do not offer -PLUS. TLS already protects these logins; set
// "scram_plus": true (or -scram-plus) when your clients bind channels.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp/smtpqueue"
)

// fileConfig is the configuration file.
type fileConfig struct {
	Hostname           string                  `json:"hostname"`
	Domains            []string                `json:"domains"`
	Aliases            map[string]aliasTargets `json:"aliases"`
	RecipientDelimiter *string                 `json:"recipient_delimiter"`
	Postmaster         string                  `json:"postmaster"`
	DataDir            string                  `json:"data_dir"`
	Store              string                  `json:"store"`
	AccountsFile       string                  `json:"accounts_file"`
	Listen             *listenConfig           `json:"listen"`
	WebPublic          bool                    `json:"web_public"`
	TLS                struct {
		Cert string `json:"cert"`
		Key  string `json:"key"`
	} `json:"tls"`
	DKIM struct {
		Key      string `json:"key"`
		Selector string `json:"selector"`
	} `json:"dkim"`
	Checks struct {
		Off           bool   `json:"off"`
		CheckLoopback bool   `json:"check_loopback"`
		Resolver      string `json:"resolver"`
	} `json:"checks"`
	Submission struct {
		SenderCheck string `json:"sender_check"`
		Relay       *bool  `json:"relay"`
	} `json:"submission"`
	ScramPlus    bool        `json:"scram_plus"`
	Limits       limitConfig `json:"limits"`
	DefaultQuota quotaConfig `json:"default_quota"`
	Log          struct {
		Format string `json:"format"`
		Level  string `json:"level"`
	} `json:"log"`
}

// listenConfig holds the listen addresses; a nil field takes the
// default of the configuration file, "" turns the listener off.
type listenConfig struct {
	SMTP        *string `json:"smtp"`
	Submission  *string `json:"submission"`
	Submissions *string `json:"submissions"`
	IMAP        *string `json:"imap"`
	IMAPS       *string `json:"imaps"`
	POP3        *string `json:"pop3"`
	POP3S       *string `json:"pop3s"`
	Web         *string `json:"web"`
}

// limitConfig bounds connections and messages; 0 takes the servers'
// defaults.
type limitConfig struct {
	MaxMessageSize      int64 `json:"max_message_size"`
	MaxRecipients       int   `json:"max_recipients"`
	MaxConnections      int   `json:"max_connections"`
	MaxConnectionsPerIP int   `json:"max_connections_per_ip"`
}

// quotaConfig is a storage quota in octets and messages; 0 is unlimited.
type quotaConfig struct {
	Storage  int64 `json:"storage"`
	Messages int64 `json:"messages"`
}

// The submission sender checks ("sender_check").
const (
	senderOwn    = "own"
	senderDomain = "domain"
	senderOff    = "off"
)

// siteConfig is the production configuration that run uses beyond the
// flags of the zero-configuration demo: present when -config was given.
type siteConfig struct {
	path        string
	domains     []string
	aliases     map[string][]string // lower-case address or "@domain" -> accounts
	delimiter   string
	postmaster  string
	accounts    string // the accounts file
	certFile    string
	keyFile     string
	senderCheck string
	relay       bool
	limits      limitConfig
	quota       quotaConfig

	// transport, when set (tests), replaces direct MX delivery for
	// the queue's remote recipients.
	transport smtpqueue.Transport
	// tuneMX, when set (tests), adjusts the direct delivery (resolver,
	// port).
	tuneMX func(*smtpqueue.MX)
	// queueEvent, when set, receives the queue's events (ops.go: logs
	// and metrics).
	queueEvent func(smtpqueue.Event)
}

// maxConfigSize bounds the configuration file.
const maxConfigSize = 1 << 20

// loadConfigFile reads path and applies it to cfg (defaults first).
func loadConfigFile(path string, cfg *config) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return parseConfig(path, b, cfg)
}

// parseConfig applies the configuration file b (read from path) to cfg.
func parseConfig(path string, b []byte, cfg *config) error {
	if len(b) > maxConfigSize {
		return fmt.Errorf("%s: larger than %d bytes", path, maxConfigSize)
	}
	var f fileConfig
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if dec.More() {
		return fmt.Errorf("%s: more than one JSON value", path)
	}
	if err := applyConfig(&f, cfg); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	cfg.Site.path = path
	return nil
}

// applyConfig checks f and sets cfg from it.
func applyConfig(f *fileConfig, cfg *config) error {
	s := &siteConfig{aliases: map[string][]string{}, delimiter: "+", senderCheck: senderOwn, relay: true}
	if len(f.Domains) == 0 {
		return errors.New(`"domains": at least one local domain is required`)
	}
	for _, d := range f.Domains {
		d = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
		if !validDomain(d) {
			return fmt.Errorf(`"domains": %q is not a domain name`, d)
		}
		if slices.Contains(s.domains, d) {
			return fmt.Errorf(`"domains": %q twice`, d)
		}
		s.domains = append(s.domains, d)
	}
	if f.RecipientDelimiter != nil {
		s.delimiter = *f.RecipientDelimiter
		if len(s.delimiter) > 1 || strings.ContainsAny(s.delimiter, "@\" \\") {
			return fmt.Errorf(`"recipient_delimiter": %q: want one character such as "+" or "-", or ""`, s.delimiter)
		}
	}
	for addr, targets := range f.Aliases {
		a := strings.ToLower(addr)
		local, domain, ok := strings.Cut(a, "@")
		if !ok || strings.Contains(domain, "@") || !slices.Contains(s.domains, domain) {
			return fmt.Errorf(`"aliases": %q: want local@domain or @domain (catch-all) of a local domain`, addr)
		}
		if local != "" && strings.ContainsAny(local, " \"\\") {
			return fmt.Errorf(`"aliases": %q: the local part must be a plain one`, addr)
		}
		if len(targets) == 0 || len(targets) > maxAliasTargets {
			return fmt.Errorf(`"aliases": %q: want 1 to %d accounts`, addr, maxAliasTargets)
		}
		for _, target := range targets {
			if err := checkAccountName(target); err != nil {
				return fmt.Errorf(`"aliases": %q: target: %w`, addr, err)
			}
		}
		s.aliases[a] = slices.Compact(slices.Sorted(slices.Values(targets)))
	}
	if f.Postmaster != "" {
		if err := checkAccountName(f.Postmaster); err != nil {
			return fmt.Errorf(`"postmaster": %w`, err)
		}
	}
	s.postmaster = f.Postmaster
	switch f.Submission.SenderCheck {
	case "":
	case senderOwn, senderDomain, senderOff:
		s.senderCheck = f.Submission.SenderCheck
	default:
		return fmt.Errorf(`"submission": "sender_check": %q: want "own", "domain" or "off"`, f.Submission.SenderCheck)
	}
	if f.Submission.Relay != nil {
		s.relay = *f.Submission.Relay
	}
	if (f.TLS.Cert == "") != (f.TLS.Key == "") {
		return errors.New(`"tls": give both "cert" and "key", or neither (a self-signed pair)`)
	}
	s.certFile, s.keyFile = f.TLS.Cert, f.TLS.Key
	if f.Limits.MaxMessageSize < 0 || f.Limits.MaxRecipients < 0 || f.Limits.MaxConnections < 0 || f.Limits.MaxConnectionsPerIP < 0 {
		return errors.New(`"limits": negative value`)
	}
	s.limits = f.Limits
	if f.DefaultQuota.Storage < 0 || f.DefaultQuota.Messages < 0 {
		return errors.New(`"default_quota": negative value`)
	}
	s.quota = f.DefaultQuota
	switch f.Log.Format {
	case "", "text", "json":
	default:
		return fmt.Errorf(`"log": "format": %q: want "text" or "json"`, f.Log.Format)
	}
	if _, err := parseLevel(f.Log.Level); err != nil {
		return fmt.Errorf(`"log": %w`, err)
	}

	cfg.Site = s
	cfg.Domain = s.domains[0]
	cfg.Hostname = f.Hostname
	if cfg.Hostname == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		cfg.Hostname = h
	}
	if f.DataDir != "" {
		cfg.Data = f.DataDir
	}
	if f.Store != "" {
		cfg.Store = f.Store
	}
	s.accounts = f.AccountsFile
	// The standard ports (RFC 5321 25, RFC 8314 465, RFC 6409 587, RFC 9051
	// 143 and 993, RFC 1939 110 and 995); the web inbox is off.
	cfg.SMTP, cfg.Submission, cfg.SubmissionTLS = ":25", ":587", ":465"
	cfg.IMAP, cfg.IMAPTLS, cfg.POP3, cfg.POP3TLS, cfg.Web = ":143", ":993", ":110", ":995", ""
	if l := f.Listen; l != nil {
		for _, p := range []struct {
			v   *string
			dst *string
			key string
		}{{l.SMTP, &cfg.SMTP, "smtp"}, {l.Submission, &cfg.Submission, "submission"}, {l.Submissions, &cfg.SubmissionTLS, "submissions"},
			{l.IMAP, &cfg.IMAP, "imap"}, {l.IMAPS, &cfg.IMAPTLS, "imaps"}, {l.POP3, &cfg.POP3, "pop3"}, {l.POP3S, &cfg.POP3TLS, "pop3s"}, {l.Web, &cfg.Web, "web"}} {
			if p.v == nil {
				continue
			}
			if *p.v != "" {
				if _, _, err := net.SplitHostPort(*p.v); err != nil {
					return fmt.Errorf(`"listen": %q: %w`, p.key, err)
				}
			}
			*p.dst = *p.v
		}
	}
	cfg.WebPublic = f.WebPublic
	cfg.Auth.DKIMKey = f.DKIM.Key
	if f.DKIM.Selector != "" {
		cfg.Auth.Selector = f.DKIM.Selector
	}
	cfg.Auth.Off, cfg.Auth.CheckLoopback, cfg.Auth.Resolver = f.Checks.Off, f.Checks.CheckLoopback, f.Checks.Resolver
	cfg.ScramPlus = f.ScramPlus
	cfg.LogFormat, cfg.LogLevel = f.Log.Format, f.Log.Level
	cfg.User, cfg.Password = "", ""
	return nil
}

// maxAliasTargets bounds the accounts of one alias.
const maxAliasTargets = 1000

// aliasTargets is an alias's value: one account name, or a list of them.
type aliasTargets []string

func (t *aliasTargets) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*t = aliasTargets{one}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New("an alias is an account name or a list of them")
	}
	*t = list
	return nil
}

// accountsPath is the accounts file of a configured server.
func (s *siteConfig) accountsPath(dataDir string) string {
	if s != nil && s.accounts != "" {
		return s.accounts
	}
	if dataDir == "" {
		dataDir = "maildata"
	}
	return filepath.Join(dataDir, "accounts.json")
}

// validDomain is a loose check of a domain name (letters, digits, hyphens,
// dots; ASCII or U-labels as given).
func validDomain(d string) bool {
	if d == "" || len(d) > 253 || strings.HasPrefix(d, ".") || strings.Contains(d, "..") {
		return false
	}
	for _, r := range d {
		if r != '.' && r != '-' && r < 0x80 && !('a' <= r && r <= 'z' || '0' <= r && r <= '9') {
			return false
		}
	}
	return true
}

// configPath finds -config in args (before the flags are parsed, so that
// the file sets the defaults the flags then override).
func configPath(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "config" {
			continue
		}
		if hasVal {
			return val
		}
		if i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// mechanisms returns the SASL mechanisms the servers offer: SCRAM
// (the -PLUS variants only with scramPlus, see the package notes above),
// then PLAIN and LOGIN over TLS. No CRAM-MD5 and no APOP: they need the
// password itself, which a configured server does not keep.
func mechanisms(scramPlus bool) []string {
	m := []string{sasl.SCRAMSHA256, sasl.SCRAMSHA1, sasl.Plain, sasl.Login}
	if scramPlus {
		m = append([]string{sasl.SCRAMSHA256Plus, sasl.SCRAMSHA1Plus}, m...)
	}
	return m
}

// parseLevel parses a log level name; "" is info.
func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if s == "" {
		return slog.LevelInfo, nil
	}
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// newLogger makes the program's logger: text (the default) or JSON
// lines on w.
func newLogger(w io.Writer, format, level string) *slog.Logger {
	l, _ := parseLevel(level) // checked when the configuration was read
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
