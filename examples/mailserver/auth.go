package main

// Message authentication: the MX checks SPF, DKIM and DMARC on what it
// receives (smtpserver.InboundAuth) and files mail the sender's DMARC
// policy quarantines into Junk; submission DKIM-signs what it accepts;
// "mailserver dns-records" prints the records to publish.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"github.com/posthorn/posthorn/imap/imapserver/maildir"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/dkim"
	"github.com/posthorn/posthorn/smtp/dmarc"
	"github.com/posthorn/posthorn/smtp/smtpserver"
	"github.com/posthorn/posthorn/smtp/spf"
)

// authConfig is what the message authentication flags set.
type authConfig struct {
	// DKIMKey is the PEM (PKCS #8) file of the DKIM signing key, made
	// when missing; "" means dkim.pem in the data directory (data.go).
	DKIMKey string
	// Selector is the DKIM selector the key is published under.
	Selector string
	// Resolver is the DNS server ("host:port") for the checks; "" uses
	// the system's (/etc/resolv.conf).
	Resolver string
	// CheckLoopback checks mail from 127.0.0.1 and ::1 too, which is
	// trusted by default (local programs and the demo's swaks line).
	CheckLoopback bool
	// Off turns the inbound checks off.
	Off bool
}

func defaultAuthConfig() authConfig { return authConfig{Selector: "posthorn"} }

// authFlags registers the flags of a on fs.
func authFlags(fs *flag.FlagSet, a *authConfig) {
	fs.StringVar(&a.DKIMKey, "dkim-key", a.DKIMKey, "DKIM signing key file (PEM, PKCS #8), made if missing (default: dkim.pem in the data directory; with -store memory a new key each run)")
	fs.StringVar(&a.Selector, "dkim-selector", a.Selector, "DKIM selector the key is published under (SELECTOR._domainkey.DOMAIN)")
	fs.StringVar(&a.Resolver, "resolver", a.Resolver, "DNS server (host:port) for SPF, DKIM and DMARC checks (default: the system's resolvers)")
	fs.BoolVar(&a.CheckLoopback, "check-loopback", a.CheckLoopback, "check SPF, DKIM and DMARC on mail from loopback clients too (trusted by default)")
	fs.BoolVar(&a.Off, "no-auth-checks", a.Off, "do not check SPF, DKIM and DMARC on inbound mail")
}

// mailAuth is the message authentication of a running server.
type mailAuth struct {
	// inbound is the MX's StoreOptions.Authenticate; nil when off.
	inbound *smtpserver.InboundAuth
	// sign is submission's StoreOptions.Inspect: it DKIM-signs.
	sign    func(ctx context.Context, c *smtpserver.ConnInfo, from smtp.Mailbox, to []smtp.Mailbox) (io.Writer, func() ([]byte, error))
	key     crypto.Signer
	keyPath string
	created bool
}

// setupAuth loads or makes the DKIM key (in dir unless -dkim-key) and
// builds the inbound checks.
func setupAuth(cfg config, dir string, logger *slog.Logger) (*mailAuth, error) {
	a := cfg.Auth
	path := a.DKIMKey
	if path == "" {
		path = filepath.Join(dir, "dkim.pem")
	}
	key, created, err := loadOrCreateKey(path)
	if err != nil {
		return nil, fmt.Errorf("DKIM key: %w", err)
	}
	opts := &dkim.SignOptions{Domain: cfg.Domain, Selector: a.Selector, Key: key}
	if _, err := dkim.NewSigner(opts); err != nil { // the options, checked once
		return nil, fmt.Errorf("DKIM: %w", err)
	}
	m := &mailAuth{key: key, keyPath: path, created: created}
	m.sign = func(ctx context.Context, c *smtpserver.ConnInfo, from smtp.Mailbox, to []smtp.Mailbox) (io.Writer, func() ([]byte, error)) {
		// The signer hashes the message as it streams into the store;
		// its field goes on top (RFC 6376 §5.6), above Received:.
		s, err := dkim.NewSigner(opts)
		if err != nil {
			return nil, func() ([]byte, error) { return nil, err }
		}
		return s, func() ([]byte, error) {
			if err := s.Close(); err != nil {
				// The key was checked at start, so this is the message
				// (no From: field, RFC 6376 §5.4): it goes unsigned.
				logger.Warn("DKIM: message not signed", "err", err)
				return nil, nil
			}
			return []byte(s.Field()), nil
		}
	}
	if a.Off {
		return m, nil
	}
	client := &dns.Client{}
	if a.Resolver != "" {
		ap, err := netip.ParseAddrPort(a.Resolver)
		if err != nil {
			return nil, fmt.Errorf("-resolver: %w", err)
		}
		client.Servers = []netip.AddrPort{ap}
	}
	m.inbound = &smtpserver.InboundAuth{
		AuthServID: cfg.Hostname,
		SPF:        &spf.Checker{Resolver: client, Receiver: cfg.Hostname},
		DKIM:       &dkim.VerifyOptions{Resolver: client},
		DMARC:      &dmarc.Evaluator{Resolver: client},
		// A forwarded message fails SPF and may still pass DKIM: let
		// DMARC decide rather than refuse SPF fail outright.
		ApplyDMARC: true,
		// RFC 7208 §2.3 recommends checking the HELO identity too; it
		// is recorded (smtp.helo), and stands in for MAIL FROM for the
		// null sender (§2.4).
		CheckHelo: true,
	}
	if !a.CheckLoopback {
		m.inbound.Trusted = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	return m, nil
}

// banner prints what a newcomer needs to know.
func (m *mailAuth) banner(out io.Writer, cfg config) {
	state := "on (SPF, DKIM, DMARC; loopback trusted)"
	switch {
	case m.inbound == nil:
		state = "off"
	case cfg.Auth.CheckLoopback:
		state = "on (SPF, DKIM, DMARC; loopback checked too)"
	}
	fmt.Fprintf(out, "  checks    inbound %s; Authentication-Results recorded, DMARC reject refused, quarantine filed into Junk\n", state)
	fmt.Fprintf(out, "  dkim      submission signs as d=%s s=%s, key %s\n", cfg.Domain, cfg.Auth.Selector, m.keyPath)
	if cfg.Site != nil {
		fmt.Fprintf(out, "  dns       mailserver dns-records -config %s\n", shellQuote(cfg.Site.path))
		return
	}
	fmt.Fprintf(out, "  dns       go run ./examples/mailserver dns-records -domain %s -hostname %s -dkim-key %s\n", cfg.Domain, cfg.Hostname, shellQuote(m.keyPath))
}

// loadOrCreateKey reads a PKCS #8 PEM key from path or, when there is no
// file, makes an RSA-2048 key (RFC 8301 §3.2; ed25519 alone is not yet
// verified everywhere) and writes it there, readable by the owner only.
func loadOrCreateKey(path string) (key crypto.Signer, created bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err := dkim.GenerateKey(dkim.RSASHA256)
		if err != nil {
			return nil, false, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, false, err
		}
		data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, false, err
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return nil, false, err
		}
		return key, true, f.Close()
	}
	if err != nil {
		return nil, false, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, false, fmt.Errorf("%s: not a PEM PRIVATE KEY (PKCS #8)", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, false, fmt.Errorf("%s: key type %T cannot sign", path, k)
	}
	return s, false, nil
}

// writeDNSRecords writes the zone-file lines to publish for domain: MX,
// SPF (RFC 7208), the DKIM key (RFC 6376 §3.6.1), DMARC (RFC 9989),
// MTA-STS (RFC 8461) with its policy file, TLS-RPT (RFC 8460), and the
// PTR record the address's owner publishes.
func writeDNSRecords(w io.Writer, domain, hostname, selector string, pub crypto.PublicKey) error {
	dkimTXT, err := dkim.TXTRecord(domain, selector, pub)
	if err != nil {
		return err
	}
	d := strings.TrimSuffix(domain, ".") + "."
	h := strings.TrimSuffix(hostname, ".") + "."
	// RFC 8461 §3.2: the policy file; §3.1: the TXT id changes with it,
	// so it is made from the policy's text (1 to 32 letters and digits).
	policy := "version: STSv1\nmode: testing\nmx: " + strings.TrimSuffix(hostname, ".") + "\nmax_age: 604800\n"
	sum := sha256.Sum256([]byte(policy))
	stsID := hex.EncodeToString(sum[:10])
	_, err = fmt.Fprintf(w, `; DNS records for %[5]s. %[2]s needs A/AAAA records.
%[1]s	IN MX 10 %[2]s
; SPF: only the hosts of the MX records send mail for %[5]s.
%[1]s	IN TXT "v=spf1 mx -all"
; DKIM: the public key of the signing key (selector %[3]s).
%[4]s
; DMARC: refuse mail that fails both SPF and DKIM alignment, and send
; aggregate reports to postmaster. Start with p=none to watch the reports first.
_dmarc.%[1]s	IN TXT "v=DMARC1; p=reject; rua=mailto:postmaster@%[5]s"
; MTA-STS (RFC 8461): senders deliver to %[8]s over verified TLS only. Serve
; this policy at https://mta-sts.%[5]s/.well-known/mta-sts.txt (mta-sts.%[5]s
; needs an address and a certificate), and change the id whenever you change
; it. mode: testing only reports failures; enforce once TLS-RPT shows none.
;	%[6]s
_mta-sts.%[1]s	IN TXT "v=STSv1; id=%[7]s"
; TLS-RPT (RFC 8460): senders report TLS failures delivering to %[5]s.
_smtp._tls.%[1]s	IN TXT "v=TLSRPTv1; rua=mailto:postmaster@%[5]s"
; PTR: the owner of each address of %[8]s (your hosting provider)
; publishes a PTR record naming it; receivers check that name and address match.
; For 192.0.2.25 that is:
;	25.2.0.192.in-addr.arpa.	IN PTR %[2]s
`, d, h, selector, dkimTXT, strings.TrimSuffix(domain, "."), strings.ReplaceAll(strings.TrimSuffix(policy, "\n"), "\n", "\n;\t"), stsID, strings.TrimSuffix(hostname, "."))
	return err
}

// dnsRecordsMain is the "dns-records" subcommand: it prints the records
// to publish, with the DKIM key of -dkim-key (made if missing, so the
// server started later with the same -dkim-key signs with it).
func dnsRecordsMain(args []string, out, errOut io.Writer) int {
	fs := flag.NewFlagSet("mailserver dns-records", flag.ContinueOnError)
	fs.SetOutput(errOut)
	cfg := defaultConfig()
	fs.StringVar(&cfg.Domain, "domain", cfg.Domain, "the mail domain")
	fs.StringVar(&cfg.Hostname, "hostname", cfg.Hostname, "the server's host name (the MX)")
	authFlags(fs, &cfg.Auth)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if cfg.Auth.DKIMKey == "" {
		fmt.Fprintln(errOut, "mailserver dns-records: -dkim-key is required: the file of the key the server signs with (made if missing)")
		return 2
	}
	key, created, err := loadOrCreateKey(cfg.Auth.DKIMKey)
	if err != nil {
		fmt.Fprintln(errOut, "mailserver dns-records:", err)
		return 1
	}
	if created {
		fmt.Fprintf(errOut, "made a new DKIM key in %s: start the server with -dkim-key %s\n", cfg.Auth.DKIMKey, cfg.Auth.DKIMKey)
	}
	if err := writeDNSRecords(out, cfg.Domain, cfg.Hostname, cfg.Auth.Selector, key.Public()); err != nil {
		fmt.Fprintln(errOut, "mailserver dns-records:", err)
		return 1
	}
	return 0
}

// withJunkFiling returns the store the MX delivers into: the Maildir
// store files the messages the sender's DMARC policy quarantines into
// Junk itself, at commit (it reads smtpserver.InboundVerdict); the
// memory store is wrapped in junkFiling.
func withJunkFiling(store mailStore) mailStore {
	if _, ok := store.(*maildir.Store); ok {
		return store
	}
	return junkFiling{store}
}

// junkFiling delivers the messages the sender's DMARC policy quarantines
// (smtpserver.AuthVerdict.Quarantine) into each recipient's Junk mailbox,
// flagged $Junk, and the rest as the store does. The verdict is known
// only once the whole message has arrived, so a checked message is read
// into memory first.
type junkFiling struct {
	mailStore
}

func (j junkFiling) DeliverMessage(ctx context.Context, users []string, body io.Reader, header func() []byte) ([]error, error) {
	v := smtpserver.InboundVerdict(ctx)
	if v == nil {
		return j.mailStore.DeliverMessage(ctx, users, body, header)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	if !v.Quarantine {
		return j.mailStore.DeliverMessage(ctx, users, bytes.NewReader(b), header)
	}
	h := header()
	msg := append(append(make([]byte, 0, len(h)+len(b)), h...), b...)
	res := make([]error, len(users))
	now := time.Now()
	for i, u := range users {
		_, res[i] = j.mailStore.DeliverTo(ctx, u, "Junk", bytes.NewReader(msg), []string{"$Junk"}, now)
	}
	return res, nil
}
