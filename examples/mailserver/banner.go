package main

import (
	"fmt"
	"io"
	"net"
	"strings"
)

// printTry prints ready-to-paste commands for the running server: curl
// submitting a message over submission with STARTTLS, reading it back
// over IMAP and over POP3 (both implicit TLS), each trusting the
// certificate the server printed; and swaks delivering to the MX.
func printTry(out io.Writer, cfg config, ls listeners, certFile string) {
	user := shellQuote(cfg.User + ":" + cfg.Password)
	cert := shellQuote(certFile)
	addr := cfg.User + "@" + cfg.Domain
	fmt.Fprintf(out, "  try:      printf 'From: %s\\r\\nTo: %s\\r\\nSubject: hello\\r\\n\\r\\nfirst mail\\r\\n' | curl -sS --ssl-reqd --cacert %s --user %s --mail-from %s --mail-rcpt %s -T - smtp://%s\n",
		addr, addr, cert, user, addr, addr, dialable(ls["submission"]))
	fmt.Fprintf(out, "            curl -sS --cacert %s --user %s 'imaps://%s/INBOX;MAILINDEX=1'\n", cert, user, dialable(ls["imaps"]))
	fmt.Fprintf(out, "            curl -sS --cacert %s --user %s pop3s://%s/1\n", cert, user, dialable(ls["pop3s"]))
	fmt.Fprintf(out, "            swaks --server %s --to %s\n", dialable(ls["smtp"]), addr)
}

// dialable is l's address as a client dials it: a wildcard listener
// (0.0.0.0, ::) is reached on loopback, which the certificate names.
func dialable(l net.Listener) string {
	a, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return l.Addr().String()
	}
	if a.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", fmt.Sprint(a.Port))
	}
	return a.String()
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@+=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
