package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/posthorn/posthorn/smtp"
)

// FuzzParseConfig: any file is refused or gives a configuration whose
// domains are valid and whose aliases point at valid account names.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(testSiteConfig))
	if b, err := os.ReadFile("mailserver.example.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"domains": ["a.b"], "aliases": {"@a.b": "x"}, "recipient_delimiter": ""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg := defaultConfig()
		if err := parseConfig("f.json", b, &cfg); err != nil {
			return
		}
		if len(cfg.Site.domains) == 0 || cfg.Domain != cfg.Site.domains[0] {
			t.Fatalf("domains %q, primary %q", cfg.Site.domains, cfg.Domain)
		}
		for _, d := range cfg.Site.domains {
			if !validDomain(d) {
				t.Fatalf("invalid domain %q accepted", d)
			}
		}
		for a, targets := range cfg.Site.aliases {
			if len(targets) == 0 {
				t.Fatalf("alias %q without accounts", a)
			}
			for _, target := range targets {
				if checkAccountName(target) != nil {
					t.Fatalf("alias %q -> invalid account %q", a, target)
				}
			}
		}
	})
}

// FuzzResolve: no address outside the local domains is ever taken (no
// relay), and every address taken maps to an existing account.
func FuzzResolve(f *testing.F) {
	for _, s := range [][2]string{
		{"alice", "example.org"}, {"alice+x", "example.org"}, {"info", "example.org"},
		{"x%y", "example.org"}, {"a!b", "example.org"}, {"u@v", "example.org"},
		{"any", "example.net"}, {"team+a", "example.org"}, {"alice", "example.com"}, {"Postmaster", ""}, {"+", "example.org"},
	} {
		f.Add(s[0], s[1])
	}
	dir := f.TempDir()
	path := filepath.Join(dir, "accounts.json")
	a, err := newAccount("password-1", nil)
	if err != nil {
		f.Fatal(err)
	}
	if err := writeAccounts(path, accountsFile{"alice": a, "bob": a}); err != nil {
		f.Fatal(err)
	}
	cfg := defaultConfig()
	if err := parseConfig("c.json", []byte(testSiteConfig), &cfg); err != nil {
		f.Fatal(err)
	}
	d, err := newDirectory(cfg.Site, path, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, local, domain string) {
		to := smtp.Mailbox{Local: local, Domain: domain}
		acct, err := d.resolve(to)
		if err != nil {
			return
		}
		if !to.IsPostmaster() && !d.local(domain) {
			t.Fatalf("%q@%q taken for %q: a relay", local, domain, acct)
		}
		m := d.members(acct)
		if len(m) == 0 {
			t.Fatalf("%q@%q -> %q, no accounts", local, domain, acct)
		}
		for _, a := range m {
			if !d.exists(a) {
				t.Fatalf("%q@%q -> %q, not an account", local, domain, a)
			}
		}
	})
}
