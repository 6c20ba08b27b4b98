package testpeer

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Dovecot is a private Dovecot 2.3 instance: IMAP, POP3 and LMTP on
// 127.0.0.1, Maildir storage, self-signed certificate, users with {PLAIN}
// passwords so that every SASL mechanism it knows works (PLAIN, LOGIN,
// CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256). Addresses are "127.0.0.1:port".
type Dovecot struct {
	Dir      string         // the instance's folder (config, mail, log)
	CertFile string         // PEM certificate, its own CA
	Roots    *x509.CertPool // pool holding CertFile
	LogFile  string         // every Dovecot log line
	IMAP     string         // STARTTLS offered, not required
	IMAPS    string         // implicit TLS
	POP3     string         // STLS offered, not required
	POP3S    string         // implicit TLS
	LMTP     string         // LMTP, STARTTLS offered
	Auth     string         // Dovecot's auth protocol, for Postfix
	// Submission is the submission service (STARTTLS, AUTH), when
	// DovecotOptions.SubmissionRelay turned it on; "" otherwise.
	Submission string
	Users      map[string]string

	env []string // the script's settings, for Restart
}

// Restart stops the instance and starts it again on the same ports and
// folder, dropping every connection.
func (d *Dovecot) Restart(t testing.TB) {
	t.Helper()
	if out, err := runScript(t, "dovecot.sh", d.env, "start", d.Dir); err != nil {
		t.Fatalf("dovecot.sh start (restart): %v\n%s", err, out)
	}
}

// TLSConfig returns a client configuration that trusts the instance's
// certificate.
func (d *Dovecot) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: d.Roots, ServerName: "localhost", MinVersion: tls.VersionTLS12}
}

// DovecotOptions adjusts a Dovecot instance. The zero value gives users
// alice/alicepw and bob/bobpw and a 100M quota.
type DovecotOptions struct {
	Users map[string]string // user name (lower case) → password
	Quota string            // STORAGE quota, e.g. "100M"
	// SubmissionRelay, when set ("127.0.0.1:port"), turns on Dovecot's
	// submission service (Debian package dovecot-submissiond), relaying
	// to that SMTP server; its address is Dovecot.Submission.
	SubmissionRelay string
	// ExtraConfig is appended to dovecot.conf (later settings win; a
	// section named again, such as "namespace inbox { ... }", is merged).
	ExtraConfig string
}

// StartDovecot starts a private Dovecot for the test, or skips it when
// Dovecot is not installed (Debian packages dovecot-core dovecot-imapd
// dovecot-pop3d dovecot-lmtpd).
func StartDovecot(t testing.TB, opts DovecotOptions) *Dovecot {
	t.Helper()
	for _, p := range []string{"dovecot", "doveconf"} {
		if _, err := exec.LookPath(p); err != nil {
			skip(t, "dovecot not installed (Debian packages dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd)")
		}
	}
	if opts.Users == nil {
		opts.Users = map[string]string{"alice": "alicepw", "bob": "bobpw"}
	}
	var users []string
	for u, p := range opts.Users {
		users = append(users, u+":"+p)
	}
	// dovecot.sh's start check logs in the first user only, which makes
	// that user's home: the same one every run, not the map's pick.
	sort.Strings(users)
	dir := filepath.Join(t.TempDir(), "dovecot")
	var out []byte
	var err error
	var ports []int
	var env []string
	for attempt := 0; attempt < 2; attempt++ {
		ports = freePorts(t, 7)
		env = []string{
			"DOVECOT_IMAP_PORT=" + strconv.Itoa(ports[0]),
			"DOVECOT_IMAPS_PORT=" + strconv.Itoa(ports[1]),
			"DOVECOT_POP3_PORT=" + strconv.Itoa(ports[2]),
			"DOVECOT_POP3S_PORT=" + strconv.Itoa(ports[3]),
			"DOVECOT_LMTP_PORT=" + strconv.Itoa(ports[4]),
			"DOVECOT_AUTH_PORT=" + strconv.Itoa(ports[5]),
			"DOVECOT_USERS=" + strings.Join(users, " "),
		}
		if opts.SubmissionRelay != "" {
			env = append(env, "DOVECOT_SUBMISSION_PORT="+strconv.Itoa(ports[6]), "DOVECOT_SUBMISSION_RELAY="+opts.SubmissionRelay)
		}
		if opts.Quota != "" {
			env = append(env, "DOVECOT_QUOTA="+opts.Quota)
		}
		if opts.ExtraConfig != "" {
			env = append(env, "DOVECOT_EXTRA_CONF="+opts.ExtraConfig)
		}
		out, err = runScript(t, "dovecot.sh", env, "start", dir)
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("dovecot.sh start: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := runScript(t, "dovecot.sh", nil, "stop", dir); err != nil {
			t.Logf("dovecot.sh stop: %v\n%s", err, out)
		}
	})
	cert := filepath.Join(dir, "cert.pem")
	return &Dovecot{
		Dir:      dir,
		CertFile: cert,
		Roots:    loadRoots(t, cert),
		LogFile:  filepath.Join(dir, "dovecot.log"),
		IMAP:     addr(ports[0]),
		IMAPS:    addr(ports[1]),
		POP3:     addr(ports[2]),
		POP3S:    addr(ports[3]),
		LMTP:     addr(ports[4]),
		Auth:     addr(ports[5]),
		Users:    opts.Users,
		env:      env,
		Submission: func() string {
			if opts.SubmissionRelay == "" {
				return ""
			}
			return addr(ports[6])
		}(),
	}
}

// Postfix is a private Postfix 3.7 instance on 127.0.0.1 that delivers
// mail for @localhost by LMTP and refuses every other domain; nothing leaves
// the machine.
type Postfix struct {
	Dir      string
	CertFile string
	Roots    *x509.CertPool
	LogFile  string
	SMTP     string // STARTTLS offered, not required
	SMTPS    string // implicit TLS

	env []string // the script's settings, for Restart
}

// Restart stops the instance and starts it again on the same ports and
// directory, dropping every connection: a server restart as clients see it.
func (p *Postfix) Restart(t testing.TB) {
	t.Helper()
	if out, err := runScript(t, "postfix.sh", p.env, "start", p.Dir); err != nil {
		t.Fatalf("postfix.sh start (restart): %v\n%s", err, out)
	}
}

// TLSConfig returns a client configuration that trusts the instance's
// certificate.
func (p *Postfix) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: p.Roots, ServerName: "localhost", MinVersion: tls.VersionTLS12}
}

// PostfixOptions adjusts a Postfix instance.
type PostfixOptions struct {
	// LMTP is the "127.0.0.1:port" that local mail is handed to (Dovecot's
	// or a test's own LMTP server). Empty: a free port nobody listens on, so
	// mail stays queued.
	LMTP string
	// Dovecot, when set, provides SMTP AUTH through its auth service.
	Dovecot *Dovecot
	// LocalUsers, when set, restricts the local parts accepted at RCPT.
	LocalUsers []string
	// Milter is the "127.0.0.1:port" of a milter (OpenDKIM, say) that mail
	// received by SMTP passes through; empty: none.
	Milter string
	// RequireSMTPUTF8 restores Postfix's stock handling of SMTPUTF8 mail
	// (the LMTP server must then offer SMTPUTF8).
	RequireSMTPUTF8 bool
	// SMTPTimeout, when set, is how long smtpd waits for an idle client
	// before it drops the connection (smtpd_timeout; Postfix's default is
	// 300 s), in whole seconds.
	SMTPTimeout time.Duration
}

// StartPostfix starts a private Postfix for the test, or skips it when
// Postfix is not installed (Debian package postfix). Postfix needs root.
func StartPostfix(t testing.TB, opts PostfixOptions) *Postfix {
	t.Helper()
	if _, err := exec.LookPath("postfix"); err != nil {
		skip(t, "postfix not installed (Debian package postfix)")
	}
	dir := filepath.Join(t.TempDir(), "postfix")
	var out []byte
	var err error
	var ports []int
	var env []string
	for attempt := 0; attempt < 2; attempt++ {
		ports = freePorts(t, 3)
		lmtp := opts.LMTP
		if lmtp == "" {
			lmtp = addr(ports[2])
		}
		_, lmtpPort, _ := strings.Cut(lmtp, ":")
		env = []string{
			"POSTFIX_SMTP_PORT=" + strconv.Itoa(ports[0]),
			"POSTFIX_SMTPS_PORT=" + strconv.Itoa(ports[1]),
			"POSTFIX_LMTP_PORT=" + lmtpPort,
		}
		if opts.Dovecot != nil {
			_, authPort, _ := strings.Cut(opts.Dovecot.Auth, ":")
			env = append(env, "POSTFIX_SASL=yes", "POSTFIX_SASL_PORT="+authPort)
		} else {
			env = append(env, "POSTFIX_SASL=no")
		}
		if len(opts.LocalUsers) > 0 {
			env = append(env, "POSTFIX_LOCAL_USERS="+strings.Join(opts.LocalUsers, " "))
		}
		if opts.Milter != "" {
			env = append(env, "POSTFIX_MILTER="+opts.Milter)
		}
		if opts.RequireSMTPUTF8 {
			env = append(env, "POSTFIX_REQUIRE_SMTPUTF8=yes")
		}
		if opts.SMTPTimeout > 0 {
			env = append(env, "POSTFIX_SMTPD_TIMEOUT="+strconv.Itoa(int(opts.SMTPTimeout.Seconds()))+"s")
		}
		out, err = runScript(t, "postfix.sh", env, "start", dir)
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("postfix.sh start: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := runScript(t, "postfix.sh", nil, "stop", dir); err != nil {
			t.Logf("postfix.sh stop: %v\n%s", err, out)
		}
	})
	cert := filepath.Join(dir, "cert.pem")
	return &Postfix{
		Dir:      dir,
		CertFile: cert,
		Roots:    loadRoots(t, cert),
		LogFile:  filepath.Join(dir, "postfix.log"),
		SMTP:     addr(ports[0]),
		SMTPS:    addr(ports[1]),
		env:      env,
	}
}

// String describes the instance for test logs.
func (d *Dovecot) String() string {
	return fmt.Sprintf("dovecot(imap %s, pop3 %s, lmtp %s)", d.IMAP, d.POP3, d.LMTP)
}
