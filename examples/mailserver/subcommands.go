package main

// The subcommands of a configured server:
//
//	mailserver useradd  -config FILE [-quota-storage N] [-quota-messages N] NAME
//	mailserver passwd   -config FILE NAME
//	mailserver userdel  -config FILE NAME
//	mailserver quota    -config FILE [-quota-storage N] [-quota-messages N] NAME
//	mailserver queue    -config FILE list | hold ID | release ID | delete ID | retry ID
//	mailserver check-config -config FILE
//
// useradd and passwd read the password from the terminal without echo,
// twice; when standard input is not a terminal they read one line from
// it (for scripts: printf '%s\n' "$pw" | mailserver passwd ...). They
// write the accounts file (accounts.go), which the running server picks
// up by itself. The mail of a removed account stays on disk.
//
// queue works on the queue directory while the server is stopped (the
// queue is locked by the one process that has it open) and asks the
// running server otherwise, through its admin API (queueadmin.go; -metrics
// is the server's -metrics address).

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/posthorn/posthorn/smtp/smtpqueue"
)

// subcommand runs the subcommand name, if it is one.
func subcommand(name string, args []string, in *os.File, out, errOut io.Writer) (code int, ok bool) {
	var f func(*subEnv, []string) error
	switch name {
	case "useradd":
		f = cmdUseradd
	case "passwd":
		f = cmdPasswd
	case "userdel":
		f = cmdUserdel
	case "quota":
		f = cmdQuota
	case "queue":
		f = cmdQueue
	case "check-config":
		f = cmdCheckConfig
	default:
		return 0, false
	}
	e := &subEnv{name: name, in: in, out: out, errOut: errOut}
	fs := flag.NewFlagSet("mailserver "+name, flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.StringVar(&e.configFile, "config", "", "configuration file (required)")
	if name == "queue" {
		fs.StringVar(&e.metrics, "metrics", defaultOpsConfig().Metrics, "the running server's -metrics address (its admin API)")
	}
	if name == "useradd" || name == "quota" {
		fs.Int64Var(&e.quota.Storage, "quota-storage", -1, "storage quota in octets (0 unlimited; default: the configuration's default_quota)")
		fs.Int64Var(&e.quota.Messages, "quota-messages", -1, "quota in messages (0 unlimited; default: the configuration's default_quota)")
	}
	if err := fs.Parse(args); err != nil {
		return 2, true
	}
	if e.configFile == "" {
		fmt.Fprintf(errOut, "mailserver %s: -config FILE is required\n", name)
		return 2, true
	}
	e.cfg = defaultConfig()
	if err := loadConfigFile(e.configFile, &e.cfg); err != nil {
		fmt.Fprintf(errOut, "mailserver %s: %v\n", name, err)
		return 1, true
	}
	if err := f(e, fs.Args()); err != nil {
		fmt.Fprintf(errOut, "mailserver %s: %v\n", name, err)
		var u usageError
		if errors.As(err, &u) {
			return 2, true
		}
		return 1, true
	}
	return 0, true
}

type usageError string

func (u usageError) Error() string { return string(u) }

// subEnv is what a subcommand works with.
type subEnv struct {
	name        string
	configFile  string
	cfg         config
	quota       quotaConfig
	metrics     string
	in          *os.File
	out, errOut io.Writer
}

func (e *subEnv) accountsPath() string { return e.cfg.Site.accountsPath(e.cfg.Data) }

// oneName is the single account-name argument.
func oneName(args []string) (string, error) {
	if len(args) != 1 {
		return "", usageError("want one account name")
	}
	return args[0], checkAccountName(args[0])
}

// editAccounts runs f on the accounts file under its lock and writes the
// result.
func (e *subEnv) editAccounts(f func(accountsFile) error) error {
	path := e.accountsPath()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	a, err := readAccounts(path)
	if err != nil {
		return err
	}
	if err := f(a); err != nil {
		return err
	}
	return writeAccounts(path, a)
}

func cmdUseradd(e *subEnv, args []string) error {
	name, err := oneName(args)
	if err != nil {
		return err
	}
	if a, err := readAccounts(e.accountsPath()); err != nil {
		return err
	} else if _, ok := a[name]; ok {
		return fmt.Errorf("account %s exists (passwd changes its password)", name)
	}
	pw, err := readNewPassword(e.in, e.errOut)
	if err != nil {
		return err
	}
	var quota *quotaConfig
	if e.quota.Storage >= 0 || e.quota.Messages >= 0 {
		q := e.cfg.Site.quota
		if e.quota.Storage >= 0 {
			q.Storage = e.quota.Storage
		}
		if e.quota.Messages >= 0 {
			q.Messages = e.quota.Messages
		}
		quota = &q
	}
	acc, err := newAccount(pw, quota)
	if err != nil {
		return err
	}
	err = e.editAccounts(func(a accountsFile) error {
		if _, ok := a[name]; ok {
			return fmt.Errorf("account %s exists", name)
		}
		a[name] = acc
		return nil
	})
	if err == nil {
		fmt.Fprintf(e.out, "added %s (login %s, address %s@%s)\n", name, name, name, e.cfg.Site.domains[0])
	}
	return err
}

func cmdPasswd(e *subEnv, args []string) error {
	name, err := oneName(args)
	if err != nil {
		return err
	}
	if a, err := readAccounts(e.accountsPath()); err != nil {
		return err
	} else if _, ok := a[name]; !ok {
		return fmt.Errorf("no account %s", name)
	}
	pw, err := readNewPassword(e.in, e.errOut)
	if err != nil {
		return err
	}
	err = e.editAccounts(func(a accountsFile) error {
		old, ok := a[name]
		if !ok {
			return fmt.Errorf("no account %s", name)
		}
		acc, err := newAccount(pw, old.Quota)
		if err != nil {
			return err
		}
		a[name] = acc
		return nil
	})
	if err == nil {
		fmt.Fprintf(e.out, "password of %s changed\n", name)
	}
	return err
}

// cmdQuota shows an account's quota or sets it: -1 (a flag not given)
// keeps a value, 0 is unlimited. The running server applies it at its
// next look at the accounts file.
func cmdQuota(e *subEnv, args []string) error {
	name, err := oneName(args)
	if err != nil {
		return err
	}
	var q quotaConfig
	err = e.editAccounts(func(a accountsFile) error {
		acc, ok := a[name]
		if !ok {
			return fmt.Errorf("no account %s", name)
		}
		q = e.cfg.Site.quota
		if acc.Quota != nil {
			q = *acc.Quota
		}
		if e.quota.Storage >= 0 {
			q.Storage = e.quota.Storage
		}
		if e.quota.Messages >= 0 {
			q.Messages = e.quota.Messages
		}
		if e.quota.Storage >= 0 || e.quota.Messages >= 0 {
			acc.Quota = &q
			a[name] = acc
		}
		return nil
	})
	if err == nil {
		fmt.Fprintf(e.out, "%s: storage %s, messages %s\n", name, limitString(q.Storage, " octets"), limitString(q.Messages, ""))
	}
	return err
}

func limitString(n int64, unit string) string {
	if n == 0 {
		return "unlimited"
	}
	return fmt.Sprint(n) + unit
}

func cmdUserdel(e *subEnv, args []string) error {
	name, err := oneName(args)
	if err != nil {
		return err
	}
	err = e.editAccounts(func(a accountsFile) error {
		if _, ok := a[name]; !ok {
			return fmt.Errorf("no account %s", name)
		}
		delete(a, name)
		return nil
	})
	if err == nil {
		fmt.Fprintf(e.out, "removed %s; its mail stays in %s\n", name, filepath.Join(e.cfg.Data, "mail"))
	}
	return err
}

// readNewPassword reads a new password: twice without echo from a
// terminal, else one line.
func readNewPassword(in *os.File, prompt io.Writer) (string, error) {
	if isTerminal(in) {
		pw, err := readNoEcho(in, prompt, "New password: ")
		if err != nil {
			return "", err
		}
		again, err := readNoEcho(in, prompt, "Again: ")
		if err != nil {
			return "", err
		}
		if pw != again {
			return "", errors.New("the passwords differ")
		}
		return checkNewPassword(pw)
	}
	line, err := bufio.NewReaderSize(in, 1024).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	return checkNewPassword(strings.TrimRight(line, "\r\n"))
}

func checkNewPassword(pw string) (string, error) {
	if len(pw) < 8 {
		return "", errors.New("the password must have at least 8 characters")
	}
	if len(pw) > 1024 {
		return "", errors.New("the password is longer than 1024 bytes")
	}
	return pw, nil
}

// readNoEcho prompts and reads a line from the terminal in with echo
// off. Echo goes off before the prompt is written: the terminal echoes
// what is typed as it arrives, so a password typed (or pasted) right
// at the prompt would otherwise be shown.
func readNoEcho(in *os.File, w io.Writer, prompt string) (string, error) {
	restore, err := echoOff(in)
	if err != nil {
		return "", err
	}
	defer func() {
		restore()
		fmt.Fprintln(w)
	}()
	fmt.Fprint(w, prompt)
	var b []byte
	var c [1]byte
	for len(b) < 1024 {
		n, err := in.Read(c[:])
		if n == 1 {
			if c[0] == '\n' || c[0] == '\r' {
				return string(b), nil
			}
			b = append(b, c[0])
			continue
		}
		if err != nil {
			return "", err
		}
	}
	return "", errors.New("password line too long")
}

func cmdQueue(e *subEnv, args []string) error {
	if len(args) == 0 {
		return usageError("want list, hold ID, release ID, delete ID or retry ID")
	}
	dir := filepath.Join(e.cfg.Data, "queue")
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("no queue in %s: %w", e.cfg.Data, err)
	}
	op, rest := args[0], args[1:]
	id := ""
	switch {
	case op == "list":
		if len(rest) != 0 {
			return usageError("list takes no arguments")
		}
	case op != "hold" && op != "release" && op != "delete" && op != "retry":
		return usageError("unknown queue operation " + op)
	case len(rest) != 1:
		return usageError(op + " wants one message ID")
	default:
		id = rest[0]
	}
	q, err := smtpqueue.Open(dir, &smtpqueue.Options{Hostname: e.cfg.Hostname, Logger: slog.New(slog.DiscardHandler)})
	if errors.Is(err, smtpqueue.ErrLocked) {
		return remoteQueue(e.cfg.Data, e.metrics, op, id, e.out)
	}
	if err != nil {
		return err
	}
	defer q.Close()
	if op == "list" {
		return writeQueue(e.out, q.List())
	}
	act, _ := queueOp(q, op)
	if err := act(id); err != nil {
		return err
	}
	fmt.Fprintf(e.out, "%s: %s done\n", id, op)
	return nil
}

// writeQueue lists the queue, oldest first.
func writeQueue(w io.Writer, msgs []smtpqueue.MessageInfo) error {
	sort.Slice(msgs, func(i, j int) bool { return msgs[i].Arrival.Before(msgs[j].Arrival) })
	if len(msgs) == 0 {
		_, err := fmt.Fprintln(w, "queue empty")
		return err
	}
	for _, m := range msgs {
		state := "next " + m.NextAttempt.Format(time.RFC3339)
		if m.Held {
			state = "held"
		}
		from := m.From
		if from == "" {
			from = "<>"
		}
		fmt.Fprintf(w, "%s  %s  %d bytes  from %s  attempts %d  %s\n", m.ID, m.Arrival.Format(time.RFC3339), m.Size, from, m.Attempts, state)
		for _, r := range m.Recipients {
			fmt.Fprintf(w, "    %-8s %s", r.Status, r.Addr)
			if r.Reply != "" {
				fmt.Fprintf(w, "  (%s)", r.Reply)
			}
			fmt.Fprintln(w)
		}
	}
	return nil
}

// cmdCheckConfig checks the configuration beyond its syntax (done by
// loadConfigFile): the accounts file, alias targets and the postmaster,
// the certificate, the DKIM key. Warnings do not fail it.
func cmdCheckConfig(e *subEnv, args []string) error {
	if len(args) != 0 {
		return usageError("check-config takes no arguments")
	}
	s := e.cfg.Site
	var problems []string
	warn := func(format string, a ...any) { fmt.Fprintf(e.out, "warning: "+format+"\n", a...) }
	accts, err := readAccounts(e.accountsPath())
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(accts) == 0 {
		warn("no accounts in %s (mailserver useradd -config %s NAME)", e.accountsPath(), e.configFile)
	}
	if st, err := os.Stat(e.accountsPath()); err == nil && st.Mode().Perm()&0o077 != 0 {
		// The SCRAM keys do not give the password, but they allow an
		// offline guessing attack on it, let a thief pose as this
		// server, and after one observed exchange as the user
		// (RFC 5802 §9).
		warn("%s is readable by others (mode %v): chmod 600 it", e.accountsPath(), st.Mode().Perm())
	}
	aliases := make([]string, 0, len(s.aliases))
	for a := range s.aliases {
		aliases = append(aliases, a)
	}
	sort.Strings(aliases)
	for _, a := range aliases {
		for _, target := range s.aliases[a] {
			if _, ok := accts[target]; !ok {
				warn("alias %s: no account %s", a, target)
			}
		}
	}
	if s.postmaster != "" {
		if _, ok := accts[s.postmaster]; !ok {
			warn("postmaster: no account %s (RFC 5321 §4.5.1 requires a postmaster)", s.postmaster)
		}
	}
	if s.certFile != "" {
		if _, err := newCertReloader(s.certFile, s.keyFile); err != nil {
			problems = append(problems, err.Error())
		}
	} else {
		warn("no \"tls\" certificate: a self-signed one is used, which mail clients and other servers do not trust")
	}
	if k := e.cfg.Auth.DKIMKey; k != "" {
		if _, err := os.Stat(k); err != nil {
			warn("DKIM key %s: %v (made at start)", k, err)
		} else if _, _, err := loadOrCreateKey(k); err != nil {
			problems = append(problems, "DKIM key: "+err.Error())
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	fmt.Fprintf(e.out, "%s: ok (%d domains, %d aliases, %d accounts)\n", e.configFile, len(s.domains), len(s.aliases), len(accts))
	return nil
}

// dnsRecordsConfigured is "dns-records -config FILE": the records of
// every local domain, with the DKIM key the server signs with (made if
// missing, as the server would at start).
func dnsRecordsConfigured(args []string, out, errOut io.Writer) int {
	fs := flag.NewFlagSet("mailserver dns-records", flag.ContinueOnError)
	fs.SetOutput(errOut)
	configFile := fs.String("config", "", "configuration file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintln(errOut, "mailserver dns-records: -config FILE takes no other arguments")
		return 2
	}
	cfg := defaultConfig()
	if err := loadConfigFile(*configFile, &cfg); err != nil {
		fmt.Fprintln(errOut, "mailserver dns-records:", err)
		return 1
	}
	path := cfg.Auth.DKIMKey
	if path == "" {
		path = filepath.Join(cfg.Data, "dkim.pem")
		if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
			fmt.Fprintln(errOut, "mailserver dns-records:", err)
			return 1
		}
	}
	key, _, err := loadOrCreateKey(path)
	if err != nil {
		fmt.Fprintln(errOut, "mailserver dns-records:", err)
		return 1
	}
	for i, d := range cfg.Site.domains {
		if i > 0 {
			fmt.Fprintln(out)
		}
		if err := writeDNSRecords(out, d, cfg.Hostname, cfg.Auth.Selector, key.Public()); err != nil {
			fmt.Fprintln(errOut, "mailserver dns-records:", err)
			return 1
		}
	}
	return 0
}
